"""Eval: bits per byte of the run's latest checkpoint on held-out text -> RUN/eval/results.json.

    curate eval --run RUN [--eval NAME=PATH_OR_GLOB ...] [--config JOB.yaml]

The sets are the job's `eval_sets:` (all of them) plus every `--eval`; the computation is
`trainer.evaluate.bits_per_byte` (summed token NLL in nats / ln 2 / UTF-8 bytes of the text, comparable
across tokenizers). The texts are encoded with the run's SentencePiece model, which must be the one the
checkpoint was trained with (fingerprints compared). The result file is written atomically. A run in
object storage (`--run s3://...`) works alike: the latest checkpoint and the tokenizer are read from the
bucket (pipelines/stages/train.py `model_files`), and RUN/eval/results.json is written there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see pipelines/stages/train.py

from pipelines import storage  # noqa: E402
from pipelines.config import JobConfig  # noqa: E402
from pipelines.configlib import ConfigError  # noqa: E402
from pipelines.evalsets import EvalSet, EvalSetSpec, load_eval_sets, parse_eval_arg  # noqa: E402
from pipelines.runlayout import RunLayout, read_json, write_json  # noqa: E402
from pipelines.stages import get_stage  # noqa: E402
from tokenizer.card import CARD_FILE  # noqa: E402

NAME = "eval"
RESULTS = "results.json"
TOKENIZER = get_stage("tokenizer").folder


def tokenize_eval_sets(sets: dict[str, EvalSet], model_path: Path) -> list[Any]:
    """Each set's items encoded with the run's tokenizer (no special tokens) -> trainer TokenizedEvalSets."""
    from tokenizer.encode import DocumentEncoder
    from trainer.evaluate import TokenizedEvalSet

    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no tokenizer model (run `curate tokenizer` first)")
    encoder = DocumentEncoder(model_path)
    return [TokenizedEvalSet(name, encoder.encode_plain([it.text for it in s.items]), s.n_bytes)
            for name, s in sets.items()]


def evaluate_run(layout: RunLayout, specs: dict[str, EvalSetSpec], *, batch_size: int = 16,
                 device: str = "cpu") -> dict[str, Any]:
    """Score RUN/train's latest checkpoint on every set in `specs`; writes and returns RUN/eval/results.json
    (a run in object storage: the checkpoint and tokenizer are read from the bucket, the result is one PUT,
    which appears whole)."""
    from pipelines.stages.train import NAME as TRAIN
    from pipelines.stages.train import model_files
    from tokenizer.train import MODEL_FILE
    from trainer.evaluate import bits_per_byte
    from trainer.generate import load_model

    if not specs:
        raise ConfigError("no eval set: add `eval_sets:` to the job file or pass --eval NAME=PATH")
    start = time.monotonic()
    sets = load_eval_sets(specs)
    with model_files(layout.url) as (train_dir, tokenizer_dir):
        loaded = load_model(train_dir, device)
        card = tokenizer_dir / CARD_FILE
        if card.is_file():
            fp = json.loads(card.read_text()).get("fingerprint")
            if fp and loaded.tokenizer.get("fingerprint") and fp != loaded.tokenizer["fingerprint"]:
                raise ValueError(f"{loaded.path}: trained with tokenizer {loaded.tokenizer['fingerprint']}, "
                                 f"but {layout.join(TOKENIZER, CARD_FILE)} has {fp}")
        tokenized = tokenize_eval_sets(sets, tokenizer_dir / MODEL_FILE)
        checkpoint = (str(loaded.path) if not layout.remote else
                      storage.redact(layout.join(TRAIN, loaded.path.relative_to(train_dir).as_posix())))
    eos_id = int(loaded.tokenizer["eos_id"])
    results = {}
    for data in tokenized:
        r = bits_per_byte(loaded.model, data, eos_id=eos_id, seq_len=loaded.model.cfg.seq_len,
                          batch_size=batch_size, device=device)
        s = sets[data.name]
        results[data.name] = {**r.to_dict(), "files": s.files, "skipped": s.skipped, "digest": s.digest()}
    out = {"checkpoint": checkpoint, "step": loaded.step,
           "tokenizer_fingerprint": loaded.tokenizer.get("fingerprint"), "sets": results,
           "elapsed_s": round(time.monotonic() - start, 2)}
    if not layout.remote:
        Path(layout.stage_dir(NAME)).mkdir(parents=True, exist_ok=True)
    write_json(layout.join(NAME, RESULTS), out)
    return out


def read_results(run: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = RunLayout(run).join(NAME, RESULTS)
    return read_json(path) if storage.exists(path) else None


# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval", dest="evals", action="append", default=[], metavar="NAME=PATH_OR_GLOB",
                        help="an eval set (JSONL `text` field, Parquet `text` column or text files); repeatable")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    extra = dict(parse_eval_arg(a) for a in args.evals)
    return replace(config, eval_sets={**config.eval_sets, **extra})


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate eval: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    try:
        out = evaluate_run(RunLayout(args.run), config.eval_sets, batch_size=args.batch_size, device=args.device)
    except (FileNotFoundError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        print(f"curate eval: {e}", file=sys.stderr)
        return 1
    print(f"eval: step {out['step']} ({out['checkpoint']}) -> {storage.redact(RunLayout(args.run).join(NAME, RESULTS))}")
    for name, r in out["sets"].items():
        bpb = r["bits_per_byte"]
        print(f"  {name:<20} {bpb:.4f} bits/byte  ({r['items']} items, {r['bytes']:,} bytes, "
              f"{r['tokens']:,} tokens, {r['nats_per_token']:.4f} nats/token)"
              if not math.isnan(bpb) else f"  {name:<20} no bytes")
    return 0
