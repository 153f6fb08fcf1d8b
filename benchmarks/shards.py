"""Read throughput of the Parquet token shards into torch, against a raw np.memmap (nanoGPT's train.bin).

    python benchmarks/shards.py [--run /tmp/tok-bench] [--tokens 100000000] [--repeat 3]

Needs RUN/ingest and RUN/tokenizer (benchmarks/tokenizer.py makes both). Writes RUN-shards/: the
documents tokenized by `curate tokenize` with every dataset repeated up to `--tokens` train tokens
(mixture weights 1:1:..., `tokenize.mixture_tokens`), and RUN-shards/train.bin: the same train tokens, in
manifest order, as one flat uint16 file (nanoGPT's format). Then, side by side, best of `--repeat`:

- full load, the whole train split into one torch tensor in memory:
  Parquet: `pq.read_table(shard, columns=["input_ids"])`, list values -> numpy (zero copy) -> torch,
  single-threaded and with pyarrow's threads; memmap: `np.memmap` -> `torch.from_numpy(np.array(m))`.
- an epoch of batches, nanoGPT's `get_batch` (random windows of B x T tokens, x and y, as int64 tensors),
  as many batches as there are train tokens: from the memmap re-opened per batch as nanoGPT does,
  against decoding the Parquet shards into memory once and taking the same windows from that tensor.

Both ratios are Parquet tokens/s over memmap tokens/s (target >= 0.5). The page cache is warm for both
(each is read once before timing); torch and numpy use one thread. sha256 verification of the shards,
which a reader does once per shard, is timed separately.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402


def make_shards(run: Path, tokens: int) -> Path:
    """RUN-shards: links to RUN's ingest and tokenizer, and a tokenize stage scaled to `tokens`."""
    from pipelines.config import load_config
    from pipelines.runlayout import RunLayout
    from pipelines.stages.tokenize import run as tokenize

    out = run.with_name(run.name + "-shards")
    manifest = out / "shards" / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text())["totals"]["train"]["tokens"] >= tokens * 0.99:
        return out
    out.mkdir(exist_ok=True)
    for stage in ("ingest", "tokenizer"):
        link = out / stage
        if not link.exists():
            link.symlink_to((run / stage).resolve(), target_is_directory=True)
    datasets = sorted(set(pq.read_table(RunLayout(run).parts("ingest"), columns=["dataset"])
                          .column("dataset").to_pylist()))
    mixture = "{" + ", ".join(f"{d}: 1" for d in datasets) + "}"
    config = load_config(None, [
        f"tokenize.mixture={mixture}", f"tokenize.mixture_tokens={tokens}",
        f"tokenize.shard_tokens={max(1, tokens // 4)}", "runner.workers=1",
    ])
    tokenize(RunLayout(out), config)
    return out


def write_bin(shards: Path, files: list[str], path: Path) -> int:
    with open(path, "wb") as f:
        n = 0
        for name in files:
            values = pq.read_table(shards / name, columns=["input_ids"]).column("input_ids")
            for chunk in values.chunks:
                arr = chunk.flatten().to_numpy(zero_copy_only=True)
                f.write(arr.tobytes())
                n += len(arr)
    return n


def load_parquet(shards: Path, files: list[str], total: int, threads: bool) -> torch.Tensor:
    out = np.empty(total, dtype=np.uint16)
    pos = 0
    for name in files:
        column = pq.read_table(shards / name, columns=["input_ids"], use_threads=threads).column("input_ids")
        for chunk in column.chunks:
            arr = chunk.flatten().to_numpy(zero_copy_only=True)
            out[pos : pos + len(arr)] = arr
            pos += len(arr)
    assert pos == total
    return torch.from_numpy(out)


def load_memmap(path: Path) -> torch.Tensor:
    m = np.memmap(path, dtype=np.uint16, mode="r")
    return torch.from_numpy(np.array(m))


def batches_memmap(path: Path, n: int, b: int, t: int, rng: np.random.Generator) -> int:
    """nanoGPT train.py get_batch: a new memmap per batch, windows as int64."""
    for _ in range(n):
        data = np.memmap(path, dtype=np.uint16, mode="r")
        ix = rng.integers(0, len(data) - t - 1, b)
        x = torch.stack([torch.from_numpy(data[i : i + t].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + t].astype(np.int64)) for i in ix])
        assert x.shape == y.shape == (b, t)
    return n * b * t


def batches_tensor(data: np.ndarray, n: int, b: int, t: int, rng: np.random.Generator) -> int:
    """The same windows from the tokens loaded out of the Parquet shards."""
    for _ in range(n):
        ix = rng.integers(0, len(data) - t - 1, b)
        x = torch.stack([torch.from_numpy(data[i : i + t].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1 : i + 1 + t].astype(np.int64)) for i in ix])
        assert x.shape == y.shape == (b, t)
    return n * b * t


def best(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="/tmp/tok-bench")
    ap.add_argument("--tokens", type=int, default=100_000_000, help="train tokens to write")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--block", type=int, default=1024)
    args = ap.parse_args()
    torch.set_num_threads(1)

    out = make_shards(Path(args.run), args.tokens)
    shards = out / "shards"
    manifest = json.loads((shards / "manifest.json").read_text())
    files = [s["file"] for s in manifest["shards"] if s["split"] == "train"]
    total = manifest["totals"]["train"]["tokens"]
    assert manifest["dtype"] == "uint16"
    start = time.perf_counter()
    for s in manifest["shards"]:
        assert hashlib.sha256((shards / s["file"]).read_bytes()).hexdigest() == s["sha256"], s["file"]
    sha_s = time.perf_counter() - start
    bin_path = out / "train.bin"
    if not bin_path.exists() or bin_path.stat().st_size != 2 * total:
        assert write_bin(shards, files, bin_path) == total
    parquet_bytes = sum((shards / f).stat().st_size for f in files)

    # warm the page cache for both, and check they hold the same tokens
    a, b = load_parquet(shards, files, total, True), load_memmap(bin_path)
    torch.manual_seed(0)
    assert torch.equal(a.to(torch.int32), b.to(torch.int32))
    del a, b
    t_pq1, _ = best(args.repeat, lambda: load_parquet(shards, files, total, False))
    t_pqn, _ = best(args.repeat, lambda: load_parquet(shards, files, total, True))
    t_mm, _ = best(args.repeat, lambda: load_memmap(bin_path))
    # one epoch of batches: as many (B, T) windows as there are train tokens
    bs, t = args.batch_size, args.block
    n = max(1, total // (bs * t))

    def epoch_parquet() -> int:
        data = load_parquet(shards, files, total, False).numpy()
        return batches_tensor(data, n, bs, t, np.random.default_rng(0))

    t_bm, _ = best(args.repeat, lambda: batches_memmap(bin_path, n, bs, t, np.random.default_rng(0)))
    t_bt, _ = best(args.repeat, epoch_parquet)

    res = {
        "train_tokens": total,
        "train_shards": len(files),
        "parquet_mb": round(parquet_bytes / 1e6, 1),
        "bin_mb": round(2 * total / 1e6, 1),
        "sha256_check_s": round(sha_s, 3),
        "full_load_tokens_per_s": {
            "parquet_1_thread": round(total / t_pq1),
            "parquet_threads": round(total / t_pqn),
            "memmap": round(total / t_mm),
        },
        "epoch_of_batches_tokens_per_s": {
            "memmap_get_batch": round(n * bs * t / t_bm),
            "parquet_load_then_batches": round(n * bs * t / t_bt),
        },
        "batches": {"count": n, "batch_size": bs, "block": t},
    }
    res["ratio_full_load_1_thread"] = round(t_mm / t_pq1, 3)
    res["ratio_full_load_threads"] = round(t_mm / t_pqn, 3)
    res["ratio_epoch"] = round(t_bm / t_bt, 3)
    (Path(args.run) / "bench").mkdir(exist_ok=True)
    (Path(args.run) / "bench" / "shards.json").write_text(json.dumps(res, indent=2))
    print(f"{total:,} train tokens in {len(files)} shards: Parquet {res['parquet_mb']} MB "
          f"(zstd), train.bin {res['bin_mb']} MB; sha256 of all shards {sha_s:.2f}s")
    print("full load into a torch tensor, tokens/s:")
    for k, v in res["full_load_tokens_per_s"].items():
        print(f"  {k:18s} {v:>14,}")
    print(f"  Parquet / memmap: {res['ratio_full_load_1_thread']:.3f} (1 thread), "
          f"{res['ratio_full_load_threads']:.3f} (pyarrow threads)  (target >= 0.5)")
    print(f"one epoch of get_batch windows ({n} x {bs} x {t}, int64), tokens/s, one thread:")
    for k, v in res["epoch_of_batches_tokens_per_s"].items():
        print(f"  {k:26s} {v:>14,}")
    print(f"  Parquet (decode included) / memmap: {res['ratio_epoch']:.3f}  (target >= 0.5)")
    print(f"-> {Path(args.run) / 'bench' / 'shards.json'}")


if __name__ == "__main__":
    main()
