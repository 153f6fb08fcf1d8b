"""Train: pretrain a causal LM on RUN/shards/ (the tokenize stage's output) into RUN/train/.

    curate train --run RUN [--config FILE] [--max-steps N] [--resume] [--fresh] [--plan]
    torchrun --nproc-per-node 2 -m pipelines.stages.train RUN [options]   # DDP (gloo on CPU, NCCL on GPU)

(torchrun's parser would take `curate ... --run` for its own `--run-path`, hence the module entry point.)

RUN/train/ holds checkpoints/step-*.pt, metrics.jsonl, config.json (resolved) and, once max_steps is
reached, _SUCCESS with the summary (final val loss, unigram entropy of the train tokens, ...).
The tokenizer fingerprint of RUN/tokenizer/tokenizer_card.json must match the shards' manifest.

A run in object storage (`--run s3://bucket/runs/x`): the shards are streamed from the bucket into a local
cache ($CURATE_CACHE, else $XDG_CACHE_HOME/curate, else ~/.cache/curate; see trainer/shardcache.py), each
verified against the manifest's sha256 before use. The trainer writes checkpoints to a local work folder,
CACHE/runs/<run>/train/, which mirrors RUN/train/ in the bucket: it is fetched from there before training
(so `--resume` continues on any machine) and uploaded after each checkpoint and when training returns
(done, stopped, Ctrl-C or SIGTERM), `_SUCCESS` last. A bucket run trains in one process (for DDP, use a
local or shared run folder).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

# Before torch loads OpenMP: idle intra-op threads sleep instead of spinning. On a machine whose cores
# are shared (CI, laptops, the 2-core demo box) spinning threads fight the other processes; measured on
# the demo model with 2 threads under load: 1.7 s/step passive against 9.2 s/step with the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pipelines import storage  # noqa: E402
from pipelines.config import JobConfig  # noqa: E402
from pipelines.configlib import replace_section  # noqa: E402
from pipelines.runlayout import RunLayout, StageMissingError, write_json_atomic  # noqa: E402
from pipelines.stages import get_stage  # noqa: E402
from tokenizer.card import CARD_FILE  # noqa: E402
from trainer.shards_format import MANIFEST  # noqa: E402

if TYPE_CHECKING:
    from trainer.shardcache import ShardCache

NAME = get_stage("train").folder
SHARDS = get_stage("tokenize").folder
TOKENIZER = get_stage("tokenizer").folder
JOB_MARKER = "job_fingerprint"  # the `curate run` fingerprint the checkpoints belong to


def expected_fingerprint(layout: RunLayout, root: str | None = None) -> str | None:
    """The tokenizer's fingerprint from RUN/tokenizer/tokenizer_card.json (None when there is no card);
    `root`: the run folder as given (a URL), when the layout's path cannot hold it."""
    root = root or str(layout.root)
    if storage.is_remote(root):  # the card the tokenizer stage committed (its _SUCCESS lists it)
        card = RunLayout(root).find_file(TOKENIZER, CARD_FILE)
        if card is None:
            return None
    else:
        card = storage.join(storage.join(root, TOKENIZER), CARD_FILE)
        if not storage.exists(card):
            return None
    return str(json.loads(storage.read_bytes(card)).get("fingerprint") or "") or None


# ---- shards and outputs in object storage -----------------------------------------------------------


def shard_url(root: str, name: str) -> str:
    """Where file `name` of the tokenize stage's output is: the committed file its _SUCCESS lists (in
    object storage under the attempt that committed), else where it would be (for messages)."""
    try:
        return RunLayout(root).file(SHARDS, name)
    except (StageMissingError, FileNotFoundError):
        return storage.join(storage.join(root, SHARDS), name)


def shard_files(root: str) -> dict[str, str]:
    """Every committed file of the tokenize stage by name (manifest and shards), from its _SUCCESS."""
    return {p.rsplit("/", 1)[-1]: p for p in RunLayout(root).parts(SHARDS, "*")}


def cache_dir() -> Path:
    """The local cache for bucket runs: $CURATE_CACHE, else $XDG_CACHE_HOME/curate, else ~/.cache/curate."""
    if os.environ.get("CURATE_CACHE"):
        return Path(os.environ["CURATE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "curate"


@dataclass(frozen=True)
class _StoreShards:
    """How the trainer's ShardCache reaches the bucket (picklable, for spawned DataLoader workers)."""

    root: str
    files: dict[str, str] = field(default_factory=dict, hash=False)  # name -> URL, read once from _SUCCESS

    def _where(self, name: str) -> str:
        return self.files.get(name) or shard_url(self.root, name)

    def url(self, name: str) -> str:
        return storage.redact(self._where(name))

    def open(self, name: str) -> IO[bytes]:
        return storage.open_read(self._where(name))


def shard_cache(root: str) -> ShardCache:
    from trainer.shardcache import ShardCache

    shards = _StoreShards(root, shard_files(root))
    return ShardCache(shards.url, shards.open, cache_dir())


def work_dir(root: str) -> Path:
    """The local folder that stands in for a bucket run while the trainer writes (one per run URL)."""
    url = storage.redact(root).rstrip("/")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url)[-80:]
    return cache_dir() / "runs" / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


class Mirror:
    """A local folder standing in for a folder in object storage: filled from it on creation (without
    `fetch`: only listed, as `--fresh` deletes it anyway), and `push` makes the remote folder equal the
    local one: changed files up, files gone locally (pruned checkpoints) deleted, `_SUCCESS` removed
    first while the local folder has none and uploaded last, so that a reader never takes the
    remote folder for complete while it holds other files than the summary describes."""

    def __init__(self, url: str, local: Path, *, fetch: bool = True):
        self.url, self.local = url, local
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir(parents=True)
        self.synced: dict[str, int] = {}  # remote file -> local mtime when last equal (-1: not fetched)
        for entry in storage.walk_files(url):
            name = storage.relative(entry.path, url)
            self.synced[name] = -1
            if fetch:
                storage.copy(entry.path, str(local / name))
                self.synced[name] = (local / name).stat().st_mtime_ns

    def push(self) -> None:
        now = {p.relative_to(self.local).as_posix(): p.stat().st_mtime_ns
               for p in sorted(self.local.rglob("*")) if p.is_file()}
        if "_SUCCESS" not in now and "_SUCCESS" in self.synced:
            storage.remove(storage.join(self.url, "_SUCCESS"))
            del self.synced["_SUCCESS"]
        for name in sorted(set(now) - {"_SUCCESS"}):
            if self.synced.get(name) != now[name]:
                storage.copy(str(self.local / name), storage.join(self.url, name))
                self.synced[name] = now[name]
        for gone in sorted(set(self.synced) - set(now)):
            storage.remove(storage.join(self.url, gone))
            del self.synced[gone]
        if "_SUCCESS" in now and self.synced.get("_SUCCESS") != now["_SUCCESS"]:
            storage.copy(str(self.local / "_SUCCESS"), storage.join(self.url, "_SUCCESS"))
            self.synced["_SUCCESS"] = now["_SUCCESS"]


@contextlib.contextmanager
def model_files(root: str, step: int | None = None) -> Iterator[tuple[Path, Path]]:
    """(RUN/train, RUN/tokenizer) as local folders, for the readers of the trained model (eval, generate,
    export): the run's own folders on a local disk. For a run in object storage, a temporary copy (removed
    after the block) of what they read: RUN/train/ as the train stage mirrors it to the bucket, without
    its checkpoints but one (the latest, or `step`), and the tokenizer files its `_SUCCESS` lists."""
    if not storage.is_remote(root):
        yield Path(root) / NAME, Path(root) / TOKENIZER
        return
    from trainer.checkpoint import checkpoint_step
    from trainer.train import CHECKPOINTS

    train_url = storage.join(root, NAME)
    entries = {storage.relative(e.path, train_url): e.path for e in storage.walk_files(train_url)}
    steps = {s: name for name in entries if name.startswith(f"{CHECKPOINTS}/")
             and (s := checkpoint_step(name.rsplit("/", 1)[-1])) is not None}
    keep = max(steps, default=None) if step is None else step
    if keep not in steps:
        where = storage.redact(storage.join(train_url, CHECKPOINTS))
        raise FileNotFoundError(f"no checkpoint in {where} (run `curate train` first)" if not steps else
                                f"no checkpoint of step {step} in {where}; there are steps {sorted(steps)}")
    with tempfile.TemporaryDirectory(prefix="curate-model-") as tmp:
        train, tok = Path(tmp) / NAME, Path(tmp) / TOKENIZER
        tok.mkdir(parents=True)
        for name, url in entries.items():
            if not name.startswith(f"{CHECKPOINTS}/") or name == steps.get(keep):
                storage.copy(url, str(train / name))
        (train / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        committed = RunLayout(root)
        for name in ("tokenizer.model", CARD_FILE):
            path = committed.find_file(TOKENIZER, name)
            if path is not None:
                storage.copy(path, str(tok / name))
        yield train, tok


def plan_text(layout: RunLayout, config: JobConfig, url: str | None = None) -> str:
    from trainer.data import load_manifest
    from trainer.plan import format_plan, make_plan

    cfg = config.train
    root = url or str(layout.root)
    cache = shard_cache(root) if storage.is_remote(root) else None
    manifest = load_manifest(layout.stage_dir(SHARDS), expected_fingerprint(layout, root), verify=False,
                             cache=cache)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    tokens_per_step = cfg.batch_size * cfg.grad_accum * world * cfg.model.seq_len
    plan = make_plan(manifest.tokens("train"), manifest.vocab_size, tokens_per_step, base=cfg.model)
    return format_plan(plan, current=cfg.model, vocab_size=manifest.vocab_size)


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None, *, resume: bool = False,
        fresh: bool = False, url: str | None = None) -> dict[str, Any]:
    """Train; returns the summary (also written as RUN/train/_SUCCESS when the run reached max_steps).

    Under `curate run` (the layout carries this stage's job fingerprint) `resume` continues an interrupted
    run of the same job fingerprint and starts over when the configuration or the data changed.
    `url`: the run folder as given, when it is in object storage."""
    root = url or str(layout.root)
    if not storage.exists(shard_url(root, MANIFEST)):
        raise StageMissingError(f"{storage.redact(shard_url(root, MANIFEST))}: no shard manifest "
                                f"(run `curate tokenize --run {storage.redact(root)}` first)")
    if not storage.is_remote(root):
        return _run(layout, root, layout.stage_dir(NAME), config, resume=resume, fresh=fresh, cache=None)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(f"{storage.redact(root)}: a run in object storage trains in one process "
                         "(for several, use a run folder on a shared file system)")
    work = work_dir(root)
    mirror = Mirror(storage.join(root, NAME), work / NAME, fetch=not fresh)
    cache = shard_cache(root)
    try:
        return _run(RunLayout(work, layout.job_fingerprints), root, mirror.local, config, resume=resume,
                    fresh=fresh, cache=cache, on_checkpoint=lambda _step: mirror.push())
    finally:
        cache.close()
        mirror.push()


def _run(layout: RunLayout, root: str, out: Path, config: JobConfig, *, resume: bool, fresh: bool,
         cache: ShardCache | None, on_checkpoint: Callable[[int], None] | None = None) -> dict[str, Any]:
    """`run` with the outputs going to the local folder `out` (a bucket run's: the work folder)."""
    from trainer.data import load_manifest, unigram_cross_entropy, unigram_entropy
    from trainer.train import train

    shards = layout.stage_dir(SHARDS) if cache is None else Path(SHARDS)  # with a cache: messages only
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
    fingerprint = expected_fingerprint(layout, root)
    if fingerprint is None and is_main:
        card = storage.redact(storage.join(storage.join(root, TOKENIZER), CARD_FILE))
        print(f"warning: no {card}: tokenizer fingerprint not checked", file=sys.stderr)
    eval_sets = None
    if config.train.eval_sets:
        from pipelines.evalsets import load_eval_sets
        from pipelines.stages.eval import tokenize_eval_sets

        model = layout.root / TOKENIZER / "tokenizer.model"
        if cache is not None:  # sentencepiece reads a local file
            storage.copy(RunLayout(root).file(TOKENIZER, "tokenizer.model"), str(model))
        eval_sets = tokenize_eval_sets(load_eval_sets(config.eval_sets, config.train.eval_sets), model)
    result = train(config.train, shards, out, resume=resume, expected_fingerprint=fingerprint,
                   eval_sets=eval_sets, shard_cache=cache, on_checkpoint=on_checkpoint)
    summary: dict[str, Any] = {
        "step": result.step, "max_steps": result.max_steps, "completed": result.completed,
        "train_loss": result.loss, "val_loss": result.val_loss, "tokens": result.tokens,
        "params": result.params, "elapsed_s": round(result.elapsed_s, 2), "checkpoint": result.checkpoint,
        "counts": {"steps": result.step, "tokens": result.tokens}, "eval_bpb": result.eval_bpb,
    }
    if is_main:
        manifest = load_manifest(shards, fingerprint, verify=False, cache=cache)
        entropy = unigram_entropy(manifest, "train")
        summary["unigram_entropy"] = entropy
        summary["unigram_val_loss"] = unigram_cross_entropy(manifest) if manifest.split("val") else None
        summary["tokenizer_fingerprint"] = manifest.fingerprint
        if result.completed:
            extra = {"job_fingerprint": job_fp} if job_fp is not None else {}
            write_json_atomic(out / "_SUCCESS", {**summary, "config": result.config, **extra})
        print_summary(summary, storage.redact(storage.join(root, NAME)) if cache is not None else out)
    return summary


def print_summary(summary: dict[str, Any], out: str | Path) -> None:
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
    for name, bpb in (summary.get("eval_bpb") or {}).items():
        print(f"  {name:<21} {bpb:.4f} bits/byte", flush=True)


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
    url = args.run if storage.is_remote(args.run) else None  # RunLayout's Path would mangle a URL
    try:
        if args.plan:
            print(plan_text(layout, config, url))
            return 0
        if args.resume and args.fresh:
            print("curate train: --resume and --fresh exclude each other", file=sys.stderr)
            return 2
        summary = run(layout, config, beam_args, resume=args.resume, fresh=args.fresh, url=url)
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
