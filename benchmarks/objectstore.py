"""Object-storage ingest benchmark: the shared web corpus ingested from a loopback S3 server against the
same files on local disk, side by side in one run.

    python benchmarks/objectstore.py [--input-dir ../shared/corpus/web] [--repeat 3] [--workers 1]

A real S3 API server (moto_server, tests/pipelines/s3server.py) is started on 127.0.0.1, the WARC files
are uploaded to a bucket, then `curate ingest` runs as a subprocess alternately on `DIR/*.warc.gz` and on
`s3://bucket/web/*.warc.gz` (`--repeat` times each, interleaved so that load from other processes on a
shared machine hits both alike). Reported: median wall seconds and median CPU seconds (the `curate`
process and its children, i.e. Beam workers; the S3 server's CPU is not counted: it stands in for a
remote store) of each, and the ratios S3 / local; target: wall ratio <= 1.2. The documents (ids, texts)
of both runs are checked to be identical.

    python benchmarks/objectstore.py --part shards [--tokens 4000000] [--repeat 3]

Shard streaming into the trainer: synthetic token shards (benchmarks/trainer.py's, the tokenize stage's
contract) are uploaded to the bucket; then, alternately, (a) one epoch of the train split is read by
`TrainLoader` through the ShardCache that `curate train --run s3://...` uses (pipelines.stages.train:
cold cache each time, so every shard is fetched from the server and sha256-verified), and (b) the trainer
(`trainer.train.train`, the default model config, i.e. the demo's, on CPU) trains on the local shards,
steady-state tokens/s. Reported: the medians and their ratio; target: streaming >= 100x the trainer.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.pipelines.s3server import MotoServer, s3_client  # noqa: E402

CURATE = str(Path(sys.executable).with_name("curate"))


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds of another process (Linux /proc): the S3 server's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest(input_glob: str, run: Path, workers: int, env: dict[str, str], server_pid: int) -> tuple[float, float, float]:
    shutil.rmtree(run, ignore_errors=True)
    cpu0, srv0, t0 = _children_cpu(), _process_cpu(server_pid), time.perf_counter()
    subprocess.run([CURATE, "ingest", "--run", str(run), "--workers", str(workers), "--input",
                    f"web={input_glob}"], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _children_cpu() - cpu0, _process_cpu(server_pid) - srv0


def documents(run: Path) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq

    rows = []
    for p in sorted((run / "ingest").glob("*.parquet")):
        t = pq.read_table(p, columns=["id", "text"])
        rows.extend(zip(t.column("id").to_pylist(), t.column("text").to_pylist(), strict=True))
    return rows


def stream_epoch(url: str, cache: Path) -> tuple[float, float, int]:
    """One epoch of the train split from the bucket through a cold ShardCache: (wall s, CPU s of this
    process, tokens)."""
    from pipelines.stages import train as train_stage
    from trainer.config import TrainConfig
    from trainer.data import TrainLoader, load_manifest

    shutil.rmtree(cache, ignore_errors=True)
    os.environ["CURATE_CACHE"] = str(cache)
    cfg = TrainConfig()
    cpu0, t0 = time.process_time(), time.perf_counter()
    shard_cache = train_stage.shard_cache(url)
    manifest = load_manifest("shards", cache=shard_cache)
    per_batch = cfg.batch_size * (cfg.model.seq_len + 1)
    batches = -(-manifest.tokens("train") // per_batch)
    loader = iter(TrainLoader(manifest, seq_len=cfg.model.seq_len, batch_size=cfg.batch_size, seed=cfg.seed))
    for _ in range(batches):
        next(loader)
    wall = time.perf_counter() - t0
    assert shard_cache.downloads == len(manifest.split("train")), shard_cache.downloads
    return wall, time.process_time() - cpu0, batches * per_batch


def shards_part(args: argparse.Namespace, server: MotoServer, tmp: Path) -> int:
    from benchmarks.trainer import ours, write_synthetic_shards
    from pipelines import storage
    from tests.pipelines.s3server import upload_tree
    from trainer.config import TrainConfig

    shards = write_synthetic_shards(tmp / "run" / "shards", tokens=args.tokens, vocab_size=8192, train_shards=8)
    client = s3_client(server.url)
    client.create_bucket(Bucket="shards")
    upload_tree(client, "shards", "run/shards", shards)
    os.environ.update({"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1"})
    storage.configure(storage.StorageConfig())
    stream, train = [], []
    cfg = TrainConfig()
    for i in range(args.repeat):
        srv0 = _process_cpu(server.proc.pid)
        wall, cpu, tokens = stream_epoch("s3://shards/run", tmp / "cache")
        srv = _process_cpu(server.proc.pid) - srv0
        stream.append(tokens / wall)
        train.append(ours(cfg, shards, tmp / "out", args.train_steps, 6))
        print(f"  run {i + 1} streaming {tokens:,} tokens in {wall:.2f}s = {stream[-1]:,.0f} tok/s "
              f"(cpu {cpu:.2f}s, S3 server cpu {srv:.2f}s); trainer {train[-1]:,.0f} tok/s", flush=True)
    s, t = statistics.median(stream), statistics.median(train)
    size = sum(p.stat().st_size for p in shards.glob("*.parquet"))
    print(f"\n{args.tokens:,} synthetic tokens in 8 train shards + val ({size / 1e6:.1f} MB), median of {args.repeat}")
    print(f"streaming from S3 into TrainLoader (cold cache, sha256-verified): {s:,.0f} tok/s")
    print(f"trainer (default model d_model={cfg.model.d_model} n_layers={cfg.model.n_layers} "
          f"seq_len={cfg.model.seq_len} batch {cfg.batch_size}, CPU): {t:,.0f} tok/s")
    print(f"ratio: {s / t:,.0f}x (target >= 100x)")
    return 0 if s / t >= 100 else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("ingest", "shards"), default="ingest")
    ap.add_argument("--input-dir", default=str(REPO.parent / "shared" / "corpus" / "web"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=4_000_000, help="--part shards: synthetic train tokens")
    ap.add_argument("--train-steps", type=int, default=20, help="--part shards: trainer steps per measurement")
    args = ap.parse_args()
    if args.part == "shards":
        server = MotoServer()
        tmp = Path(tempfile.mkdtemp(prefix="curate-objectstore-"))
        try:
            return shards_part(args, server, tmp)
        finally:
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    files = sorted(Path(args.input_dir).glob("*.warc.gz"))
    if not files:
        print(f"no *.warc.gz in {args.input_dir}", file=sys.stderr)
        return 2
    server = MotoServer()
    tmp = Path(tempfile.mkdtemp(prefix="curate-objectstore-"))
    try:
        client = s3_client(server.url)
        client.create_bucket(Bucket="bench")
        for f in files:
            client.upload_file(str(f), "bench", f"web/{f.name}")
        env = {**os.environ, "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_DEFAULT_REGION": "us-east-1"}
        variants = {"local": f"{args.input_dir}/*.warc.gz", "s3": "s3://bench/web/*.warc.gz"}
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
        server_cpu: list[float] = []
        for i in range(args.repeat):
            for name, pattern in variants.items():
                wall, cpu, srv = ingest(pattern, tmp / name, args.workers, env, server.proc.pid)
                times[name].append((wall, cpu))
                if name == "s3":
                    server_cpu.append(srv)
                print(f"  run {i + 1} {name:5s} wall {wall:6.2f}s cpu {cpu:6.2f}s (S3 server cpu {srv:5.2f}s)",
                      flush=True)
        same = documents(tmp / "local") == documents(tmp / "s3")
        size = sum(f.stat().st_size for f in files)
        print(f"\n{len(files)} WARC files, {size / 1e6:.1f} MB compressed, {len(documents(tmp / 'local'))} documents; "
              f"workers={args.workers}; median of {args.repeat}")
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
        for k, (w, c) in med.items():
            print(f"{k:6s} wall {w:6.2f}s  cpu {c:6.2f}s")
        print(f"ratio s3/local: wall {med['s3'][0] / med['local'][0]:.2f}x (target <= 1.2x), "
              f"cpu {med['s3'][1] / med['local'][1]:.2f}x")
        print(f"S3 server (moto) cpu per s3 run, median: {statistics.median(server_cpu):.2f}s (not in the ratios)")
        print(f"documents identical (ids, texts): {same}")
        return 0 if same else 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
