"""Trainer throughput, side by side in one process:

1. ours: `trainer.train.train` end to end (sha256-checked manifest, Parquet shards streamed and packed by
   `trainer.data.TrainLoader`, AdamW + schedule + clipping, metrics.jsonl, final eval and checkpoint);
2. nanoGPT-style: the minimal loop of nanoGPT's train.py (random windows gathered from an `np.memmap` of
   the same tokens, same model class, same optimizer, same batch), nothing else;
3. the loader alone: `TrainLoader` batches as fast as they come.

Rounds alternate ours / nanoGPT so machine noise hits both alike; each rate is steady state (the first
`--warmup` steps of each run are not timed). Targets (issue 6): ours >= 0.95x nanoGPT; loader >= 100x ours.

    .venv/bin/python benchmarks/trainer.py                 # synthetic shards (8k vocab, ~2M tokens)
    .venv/bin/python benchmarks/trainer.py --run runs/demo # a real run's RUN/shards
    .venv/bin/python benchmarks/trainer.py --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/trainer.py would shadow the
# trainer package: put the repository root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `curate train` does (see pipelines/stages/train.py)

import torch  # noqa: E402

from trainer.config import ModelConfig, TrainConfig  # noqa: E402


def write_synthetic_shards(folder: Path, *, tokens: int, vocab_size: int, train_shards: int = 4,
                           mean_doc: int = 400, seed: int = 0) -> Path:
    """Random-token shards and manifest following the tokenize stage's contract (documents end in eos=3)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dtype, pa_type = (np.uint16, pa.uint16()) if vocab_size <= 65536 else (np.uint32, pa.uint32())
    entries = []
    splits = [("train", i, tokens // train_shards) for i in range(train_shards)]
    splits.append(("val", 0, max(tokens // 50, 4096)))
    for split, i, n in splits:
        lengths = rng.integers(mean_doc // 4, 2 * mean_doc, size=n // mean_doc + 2)
        lengths = lengths[np.cumsum(lengths) <= n]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        values = rng.integers(4, vocab_size, size=int(offsets[-1])).astype(dtype)
        values[offsets[1:] - 1] = 3  # eos ends every document
        ids = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa_type))
        n_shards = train_shards if split == "train" else 1
        name = f"{split}-{i:05d}-of-{n_shards:05d}.parquet"
        pq.write_table(pa.table({
            "id": pa.array([f"{split}-{i}-{j}" for j in range(len(lengths))]),
            "source": pa.array(["synthetic"] * len(lengths)),
            "input_ids": ids,
            "num_tokens": pa.array(lengths.astype(np.int32)),
        }), folder / name, row_group_size=4096)
        entries.append({"file": name, "split": split, "rows": len(lengths), "tokens": int(offsets[-1]),
                        "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()})
    manifest = {
        "format": "curate-shards/1",
        "tokenizer": {"fingerprint": "synthetic", "vocab_size": vocab_size, "pad_id": 0, "unk_id": 1,
                      "bos_id": 2, "eos_id": 3, "add_bos": False},
        "dtype": "uint16" if dtype == np.uint16 else "uint32",
        "shards": entries, "totals": {}, "by_source": {}, "seed": seed,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def memmap_of_train_tokens(shards: Path, path: Path) -> np.memmap:
    """nanoGPT's data format: all train tokens in one flat uint16 file."""
    from trainer.data import load_manifest, plan_pieces, read_piece

    m = load_manifest(shards, verify=False)
    with open(path, "wb") as f:
        for piece in plan_pieces(m, "train"):
            f.write(read_piece(m, piece).astype(np.uint16 if m.dtype == "uint16" else np.uint32).tobytes())
    return np.memmap(path, dtype=np.uint16 if m.dtype == "uint16" else np.uint32, mode="r")


def nanogpt_loop(cfg: TrainConfig, data: np.memmap, vocab_size: int, steps: int, warmup: int,
                 device: torch.device) -> float:
    """nanoGPT's train.py loop, reduced to what touches throughput: get_batch (random offsets into the
    memmap), forward/backward under the same autocast, clip, AdamW step with the same schedule."""
    from trainer.train import CosineSchedule, autocast_dtype, build_model, build_optimizer

    model = build_model(cfg.model, vocab_size, device, cfg.seed)
    engine = torch.compile(model) if (cfg.compile and device.type == "cuda") else model
    opt = build_optimizer(model, cfg, device)
    sched = CosineSchedule(cfg.lr, cfg.min_lr, cfg.warmup_steps, steps)
    amp = autocast_dtype(cfg, device)
    t, b = cfg.model.seq_len, cfg.batch_size

    def get_batch():
        ix = torch.randint(len(data) - t - 1, (b,))
        x = torch.stack([torch.from_numpy(data[i : i + t].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + t].astype(np.int64)) for i in ix])
        if device.type == "cuda":
            return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        return x, y

    ctx = (lambda: torch.autocast(device.type, dtype=amp)) if amp else None
    start = 0.0
    for step in range(steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = sched(step)
        for _ in range(cfg.grad_accum):
            x, y = get_batch()
            if ctx:
                with ctx():
                    loss = engine(x, y)
            else:
                loss = engine(x, y)
            (loss / (b * t * cfg.grad_accum)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    loss.item()  # wait for the device
    return (steps - warmup) * cfg.grad_accum * b * t / (time.perf_counter() - start)


def ours(cfg: TrainConfig, shards: Path, out: Path, steps: int, warmup: int) -> float:
    """Our trainer end to end; steady-state tokens/s from its metrics.jsonl (intervals after warmup)."""
    import shutil

    from trainer.train import train

    shutil.rmtree(out, ignore_errors=True)
    cfg = replace(cfg, max_steps=steps, log_interval=warmup, eval_interval=0, checkpoint_interval=0,
                  eval_batches=1)
    train(cfg, shards, out, log=None)
    recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    pairs = [(prev, r) for prev, r in zip(recs, recs[1:], strict=False) if prev["step"] >= warmup]
    tokens = sum(r["tokens"] - prev["tokens"] for prev, r in pairs)
    seconds = sum((r["tokens"] - prev["tokens"]) / r["tokens_per_s"] for prev, r in pairs)
    return tokens / seconds


def loader_rate(cfg: TrainConfig, shards: Path, batches: int) -> float:
    from trainer.data import TrainLoader, load_manifest

    m = load_manifest(shards)
    loader = iter(TrainLoader(m, seq_len=cfg.model.seq_len, batch_size=cfg.batch_size,
                              num_workers=cfg.num_workers, seed=cfg.seed))
    next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return batches * cfg.batch_size * cfg.model.seq_len / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", help="use RUN/shards (default: synthetic shards in a temporary folder)")
    p.add_argument("--tokens", type=int, default=2_000_000, help="synthetic train tokens")
    p.add_argument("--vocab", type=int, default=8192, help="synthetic vocabulary")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=6)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--loader-batches", type=int, default=2000)
    p.add_argument("--d-model", type=int, default=ModelConfig.d_model)
    p.add_argument("--n-layers", type=int, default=ModelConfig.n_layers)
    p.add_argument("--n-heads", type=int, default=ModelConfig.n_heads)
    p.add_argument("--seq-len", type=int, default=ModelConfig.seq_len)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from trainer.data import load_manifest
    from trainer.train import resolve_device

    cfg = TrainConfig(model=ModelConfig(d_model=args.d_model, n_layers=args.n_layers, n_heads=args.n_heads,
                                        seq_len=args.seq_len), batch_size=args.batch_size, device=args.device)
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="curate-bench-") as tmp_name:
        tmp = Path(tmp_name)
        shards = Path(args.run) / "shards" if args.run else write_synthetic_shards(
            tmp / "shards", tokens=args.tokens, vocab_size=args.vocab)
        m = load_manifest(shards)
        data = memmap_of_train_tokens(shards, tmp / "train.bin")
        print(f"shards: {shards} ({m.tokens('train'):,} train tokens, vocab {m.vocab_size}); model "
              f"d_model={args.d_model} n_layers={args.n_layers} seq_len={args.seq_len} batch {args.batch_size}; "
              f"{device}, {torch.get_num_threads()} threads", flush=True)
        ours_rates, nano_rates = [], []
        for r in range(args.rounds):  # alternate which goes first, so drifting load hits both alike
            if r % 2 == 0:
                ours_rates.append(ours(cfg, shards, tmp / "out", args.steps, args.warmup))
            nano_rates.append(nanogpt_loop(cfg, data, m.vocab_size, args.steps, args.warmup, device))
            if r % 2 == 1:
                ours_rates.append(ours(cfg, shards, tmp / "out", args.steps, args.warmup))
            print(f"round {r + 1}: ours {ours_rates[-1]:,.0f} tok/s, nanoGPT-style {nano_rates[-1]:,.0f} tok/s "
                  f"({ours_rates[-1] / nano_rates[-1]:.3f}x)", flush=True)
        loader = loader_rate(cfg, shards, args.loader_batches)
    ratios = [a / b for a, b in zip(ours_rates, nano_rates, strict=True)]
    result = {
        "device": str(device), "threads": torch.get_num_threads(), "train_tokens": m.tokens("train"),
        "model": {"d_model": args.d_model, "n_layers": args.n_layers, "n_heads": args.n_heads,
                  "seq_len": args.seq_len, "vocab": m.vocab_size}, "batch_size": args.batch_size,
        "ours_tokens_per_s": statistics.median(ours_rates), "nanogpt_tokens_per_s": statistics.median(nano_rates),
        "ratio_per_round": ratios, "ratio_median": statistics.median(ratios),
        "loader_tokens_per_s": loader, "loader_over_trainer": loader / statistics.median(ours_rates),
    }
    print(f"\nours / nanoGPT-style: median {result['ratio_median']:.3f}x over {args.rounds} rounds "
          f"(target >= 0.95x)")
    print(f"loader alone: {loader:,.0f} tok/s = {result['loader_over_trainer']:,.0f}x the trainer "
          f"(target >= 100x)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    ok = result["ratio_median"] >= 0.95 and result["loader_over_trainer"] >= 100 and not math.isnan(loader)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
