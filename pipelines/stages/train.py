"""Train: pretrain a causal LM on RUN/shards/ (the tokenize stage's output) into RUN/train/.

    curate train --run RUN [--config FILE] [--max-steps N] [--resume] [--fresh] [--plan]
    torchrun --nproc-per-node 2 -m pipelines.stages.train RUN [options]   # DDP (gloo on CPU, NCCL on GPU)

(torchrun's parser would take `curate ... --run` for its own `--run-path`, hence the module entry point.)

RUN/train/ holds checkpoints/step-*.pt, metrics.jsonl, config.json (resolved) and, once max_steps is
reached, _SUCCESS with the summary (final val loss, unigram entropy of the train tokens, ...).
The tokenizer fingerprint of RUN/tokenizer/tokenizer_card.json must match the shards' manifest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

# Before torch loads OpenMP: idle intra-op threads sleep instead of spinning. On a machine whose cores
# are shared (CI, laptops, the 2-core demo box) spinning threads fight the other processes; measured on
# the demo model with 2 threads under load: 1.7 s/step passive against 9.2 s/step with the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pipelines.config import JobConfig  # noqa: E402
from pipelines.configlib import replace_section  # noqa: E402
from pipelines.runlayout import RunLayout, StageMissingError, write_json_atomic  # noqa: E402
from pipelines.stages import get_stage  # noqa: E402
from tokenizer.card import CARD_FILE  # noqa: E402
from trainer.shards_format import MANIFEST  # noqa: E402

NAME = get_stage("train").folder
SHARDS = get_stage("tokenize").folder
TOKENIZER = get_stage("tokenizer").folder
JOB_MARKER = "job_fingerprint"  # the `curate run` fingerprint the checkpoints belong to


def expected_fingerprint(layout: RunLayout) -> str | None:
    """The tokenizer's fingerprint from RUN/tokenizer/tokenizer_card.json (None when there is no card)."""
    card = layout.stage_dir(TOKENIZER) / CARD_FILE
    if not card.is_file():
        return None
    return str(json.loads(card.read_text()).get("fingerprint") or "") or None


def plan_text(layout: RunLayout, config: JobConfig) -> str:
    from trainer.data import load_manifest
    from trainer.plan import format_plan, make_plan

    cfg = config.train
    manifest = load_manifest(layout.stage_dir(SHARDS), expected_fingerprint(layout), verify=False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    tokens_per_step = cfg.batch_size * cfg.grad_accum * world * cfg.model.seq_len
    plan = make_plan(manifest.tokens("train"), manifest.vocab_size, tokens_per_step, base=cfg.model)
    return format_plan(plan, current=cfg.model, vocab_size=manifest.vocab_size)


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None, *, resume: bool = False,
        fresh: bool = False) -> dict[str, Any]:
    """Train; returns the summary (also written as RUN/train/_SUCCESS when the run reached max_steps).

    Under `curate run` (the layout carries this stage's job fingerprint) `resume` continues an interrupted
    run of the same job fingerprint and starts over when the configuration or the data changed."""
    from trainer.data import load_manifest, unigram_cross_entropy, unigram_entropy
    from trainer.train import train

    shards = layout.stage_dir(SHARDS)
    if not (shards / MANIFEST).is_file():
        raise StageMissingError(f"{shards}: no shard manifest (run `curate tokenize --run {layout.root}` first)")
    out = layout.stage_dir(NAME)
    is_main = int(os.environ.get("RANK", "0")) == 0
    job_fp = layout.job_fingerprints.get(NAME)
    marker = out / JOB_MARKER
    if job_fp is not None and resume and out.exists():
        finished = (out / "_SUCCESS").exists()  # the job only reruns a finished stage when inputs changed
        other = marker.exists() and marker.read_text().strip() != job_fp
        fresh = fresh or finished or other
    if fresh and out.exists():
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # other ranks could already be reading it
            raise ValueError(f"starting over under several processes: delete {out} first")
        shutil.rmtree(out)
    if is_main and (out / "_SUCCESS").exists():
        (out / "_SUCCESS").unlink()  # the stage is complete again only when this run reaches max_steps
    if job_fp is not None and is_main:
        out.mkdir(parents=True, exist_ok=True)
        marker.write_text(job_fp + "\n")
    fingerprint = expected_fingerprint(layout)
    if fingerprint is None and is_main:
        print(f"warning: no {layout.stage_dir(TOKENIZER) / CARD_FILE}: tokenizer fingerprint not checked",
              file=sys.stderr)
    result = train(config.train, shards, out, resume=resume, expected_fingerprint=fingerprint)
    summary: dict[str, Any] = {
        "step": result.step, "max_steps": result.max_steps, "completed": result.completed,
        "train_loss": result.loss, "val_loss": result.val_loss, "tokens": result.tokens,
        "params": result.params, "elapsed_s": round(result.elapsed_s, 2), "checkpoint": result.checkpoint,
        "counts": {"steps": result.step, "tokens": result.tokens},
    }
    if is_main:
        manifest = load_manifest(shards, fingerprint, verify=False)
        entropy = unigram_entropy(manifest, "train")
        summary["unigram_entropy"] = entropy
        summary["unigram_val_loss"] = unigram_cross_entropy(manifest) if manifest.split("val") else None
        summary["tokenizer_fingerprint"] = manifest.fingerprint
        if result.completed:
            extra = {"job_fingerprint": job_fp} if job_fp is not None else {}
            write_json_atomic(out / "_SUCCESS", {**summary, "config": result.config, **extra})
        print_summary(summary, out)
    return summary


def print_summary(summary: dict[str, Any], out: Path) -> None:
    val, ent = summary["val_loss"], summary["unigram_entropy"]
    state = "done" if summary["completed"] else "stopped (resume with --resume)"
    print(f"train: {state} at step {summary['step']}/{summary['max_steps']}, {summary['tokens']:,} tokens, "
          f"{summary['params'] / 1e6:.2f}M params, {summary['elapsed_s']:.0f}s -> {out}")
    if val is not None:
        print(f"  final val loss        {val:.4f} nats/token (perplexity {math.exp(val):.1f})")
    print(f"  unigram entropy       {ent:.4f} nats/token of the train tokens (a context-free model's loss)")
    if summary.get("unigram_val_loss") is not None:
        print(f"  unigram model on val  {summary['unigram_val_loss']:.4f} nats/token (fitted on train)")
    if val is not None and ent == ent:
        print(f"  val loss - entropy    {val - ent:+.4f}", flush=True)


# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-steps", type=int, help="optimizer steps (overrides train.max_steps)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    parser.add_argument("--fresh", action="store_true", help="delete RUN/train first and start over")
    parser.add_argument("--plan", action="store_true",
                        help="print the Chinchilla-optimal model size, steps and FLOPs for the shards; no training")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if args.max_steps is not None:
        if args.max_steps < 1:
            from pipelines.configlib import ConfigError

            raise ConfigError("--max-steps: must be >= 1")
        return replace_section(config, "train", max_steps=args.max_steps)
    return config


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate train: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    from trainer.data import ShardError

    layout = RunLayout(args.run)
    try:
        if args.plan:
            print(plan_text(layout, config))
            return 0
        if args.resume and args.fresh:
            print("curate train: --resume and --fresh exclude each other", file=sys.stderr)
            return 2
        summary = run(layout, config, beam_args, resume=args.resume, fresh=args.fresh)
    except FileExistsError as e:
        print(f"curate train: {e} (--resume continues, --fresh starts over)", file=sys.stderr)
        return 1
    except (ShardError, ValueError) as e:
        print(f"curate train: {e}", file=sys.stderr)
        return 1
    return 0 if summary else 1


if __name__ == "__main__":
    # For launchers whose own parser would take `--run` for an abbreviation of theirs (torchrun's
    # `--run-path`): `torchrun --nproc-per-node 2 -m pipelines.stages.train RUN [curate train options]`.
    from pipelines.cli import main as cli_main

    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print("usage: python -m pipelines.stages.train RUN [curate train options]", file=sys.stderr)
        sys.exit(2)
    sys.exit(cli_main(["train", "--run", sys.argv[1], *sys.argv[2:]]))
