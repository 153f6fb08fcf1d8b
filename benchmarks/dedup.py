"""Dedup benchmark: quality against exact Jaccard ground truth, signature speed, whole-stage speed.

Works on a run made by benchmarks/make_near_dups.py (RUN/ingest + RUN/truth). Every comparison is
measured side by side in one invocation on the same documents, so that ratios survive a noisy machine.

    python benchmarks/dedup.py speed   --run /tmp/nd-100k [--sample 4000]
    python benchmarks/dedup.py stage   --run /tmp/nd-100k --workers 2 [--datatrove]
    python benchmarks/dedup.py quality --run /tmp/nd-100k-out   (a run with dedup/ and truth/)

`speed` compares signatures per second on one core, shingling included, at 112 permutations: this
project (batch numpy), datasketch `MinHash.update` per shingle and `update_batch`, rensa (`RMinHash`
per document and its bulk matrix API), and datatrove's `MinhashDedupSignature` (shingles + signature
per document). rensa and datatrove run in a scratch virtualenv (`--bench-python`, default
/tmp/dd-venv/bin/python; never a project dependency) through a subprocess on the same texts.

`stage` runs `curate dedup` on a fresh run folder (input linked, not copied), and with `--datatrove`
datatrove's four MinHash stages (signatures, buckets, clusters, filter) with the same worker count on
the same Parquet files; it reports wall time, documents per second and the peak memory of the process
tree: the sum of RSS (an upper bound: shared pages count once per process) and the sum of PSS
(shared pages split between the processes that map them: the machine's actual use).

`quality` scores the dedup output: recall = share of ground-truth pairs (J >= 0.85, and >= 0.8) whose
two documents end in the same cluster; precision of the verified near-duplicate edges and of the
(removed document, kept document) pairs, with the exact Jaccard computed from the texts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filters.dedup.minhash import MinHasher  # noqa: E402
from filters.dedup.normalize import normalize_bytes, normalize_words  # noqa: E402
from filters.dedup.shingles import shingle_normalized, shingle_words  # noqa: E402

NUM_PERM = 112
K = 5


# ---- helpers ----------------------------------------------------------------------------------------


class PeakMemory:
    """Samples the summed RSS (every 0.1 s) and PSS (every 0.5 s) of a process and its children."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak_sum = 0
        self.peak_pss = 0  # proportional set size: shared pages split between processes
        self.peak_one = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss, pss = [], []
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss.append(p.memory_info().rss)
                    if self.samples % 5 == 0:  # PSS reads smaps: slower, sampled every 0.5 s
                        with contextlib.suppress(psutil.Error, AttributeError):
                            pss.append(p.memory_full_info().pss)
                self.samples += 1
                self.peak_sum = max(self.peak_sum, sum(rss))
                self.peak_pss = max(self.peak_pss, sum(pss))
                self.peak_one = max(self.peak_one, max(rss, default=0))
            except psutil.Error:
                pass
            self._stop.wait(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def run_tracked(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        with PeakMemory(proc.pid) as mem:
            rc = proc.wait()
    wall = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}); see {log}")
    return {"seconds": round(wall, 1), "peak_rss_sum_gb": round(mem.peak_sum / 2**30, 2),
            "peak_pss_sum_gb": round(mem.peak_pss / 2**30, 2),
            "peak_rss_one_process_gb": round(mem.peak_one / 2**30, 2)}


def sample_texts(run: Path, n: int) -> list[str]:
    texts: list[str] = []
    for part in sorted((run / "ingest").glob("part-*.parquet")):
        texts += pq.read_table(part, columns=["text"]).column("text").to_pylist()
        if len(texts) >= n:
            break
    return texts[:n]


def python_shingles(text: str) -> list[bytes]:
    """Shingles as a Python user of datasketch or rensa builds them (the same normalization as ours)."""
    words = normalize_words(text)
    if len(words) < K:
        return [b" ".join(words)] if words else []
    return [b" ".join(words[i : i + K]) for i in range(len(words) - K + 1)]


def timed(fn, texts: list[str], min_seconds: float = 3.0) -> float:
    """Documents per second of fn over texts (repeated until min_seconds)."""
    done, start = 0, time.perf_counter()
    while True:
        fn(texts)
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


# ---- speed -------------------------------------------------------------------------------------------

EXTERNAL = r'''
import json, sys, time
import pyarrow.parquet as pq
args = json.loads(sys.argv[1])
texts = pq.read_table(args["texts"]).column("text").to_pylist()
K, P = 5, args["num_perm"]
out = {}

def shingles(text, words_of):
    w = words_of(text)
    if len(w) < K:
        return [b" ".join(w)] if w else []
    return [b" ".join(w[i:i + K]) for i in range(len(w) - K + 1)]

def timed(fn, texts, min_seconds=3.0):
    done, start = 0, time.perf_counter()
    while True:
        fn(texts)
        done += len(texts)
        el = time.perf_counter() - start
        if el >= min_seconds:
            return done / el

sys.path.insert(0, args["repo"])
from filters.dedup.normalize import normalize_words  # pure python + numpy: runs in this venv too

try:
    import rensa
    def rensa_per_doc(ts):
        for t in ts:
            m = rensa.RMinHash(num_perm=P, seed=1)
            m.update(shingles(t, normalize_words))
            m.digest()
    def rensa_bulk(ts):
        rensa.RMinHash.digest_matrix_from_token_sets([shingles(t, normalize_words) for t in ts], num_perm=P, seed=1)
    out["rensa RMinHash per doc (python shingles)"] = timed(rensa_per_doc, texts)
    try:
        out["rensa digest_matrix_from_token_sets (python shingles)"] = timed(rensa_bulk, texts)
    except Exception as e:
        out["rensa bulk error"] = repr(e)
except ImportError as e:
    out["rensa error"] = repr(e)

try:
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    import tempfile
    step = MinhashDedupSignature(output_folder=tempfile.mkdtemp(), config=MinhashConfig())
    def datatrove(ts):
        for t in ts:
            step.get_signature(step.get_shingles(t))
    n = min(len(texts), args.get("datatrove_docs", 600))
    out["datatrove MinhashDedupSignature (its shingling)"] = timed(datatrove, texts[:n])
except Exception as e:
    out["datatrove error"] = repr(e)
print(json.dumps(out))
'''


def speed(args: argparse.Namespace) -> dict[str, Any]:
    texts = sample_texts(Path(args.run), args.sample)
    mean_bytes = sum(len(t.encode()) for t in texts) / len(texts)
    hasher = MinHasher(NUM_PERM, 1)
    results: dict[str, float] = {}

    def ours(ts: list[str]) -> None:
        for i in range(0, len(ts), 1024):
            chunk = ts[i : i + 1024]
            hasher.signatures(shingle_normalized([normalize_bytes(t) for t in chunk], K).shingles)

    def ds_update(ts: list[str]) -> None:
        from datasketch import MinHash

        for t in ts:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            for s in python_shingles(t):
                m.update(s)

    def ds_batch(ts: list[str]) -> None:
        from datasketch import MinHash

        for t in ts:
            m = MinHash(num_perm=NUM_PERM, seed=1)
            m.update_batch(python_shingles(t))

    results["curate (numpy batches, shingling included)"] = timed(ours, texts)
    results["python shingling alone (normalize + 5-gram join)"] = timed(lambda ts: [python_shingles(t) for t in ts], texts)
    results["datasketch MinHash.update per shingle"] = timed(ds_update, texts[: min(len(texts), 800)])
    results["datasketch MinHash.update_batch"] = timed(ds_batch, texts[: min(len(texts), 2000)])

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.parquet"
        pq.write_table(pa.table({"text": texts}), path)
        ext = {"texts": str(path), "num_perm": NUM_PERM, "repo": str(REPO), "datatrove_docs": 600}
        try:
            proc = subprocess.run([args.bench_python, "-c", EXTERNAL, json.dumps(ext)], capture_output=True,
                                  text=True, check=True, timeout=1800)
            results.update(json.loads(proc.stdout.strip().splitlines()[-1]))
        except (OSError, subprocess.CalledProcessError) as e:
            results["external error"] = f"{e}: {getattr(e, 'stderr', '')[-500:]}"

    # ours again at the end: the machine is shared, a drift shows here
    results["curate (again, after the others)"] = timed(ours, texts)
    base = results["curate (numpy batches, shingling included)"]
    table = {k: {"docs_per_s": round(v, 1), "curate_is_x_faster": round(base / v, 2)}
             for k, v in results.items() if isinstance(v, float)}
    errors = {k: v for k, v in results.items() if not isinstance(v, float)}
    return {"docs": len(texts), "mean_bytes": round(mean_bytes), "num_perm": NUM_PERM, "per_core": table,
            **({"errors": errors} if errors else {})}


# ---- whole stage --------------------------------------------------------------------------------------

DATATROVE_STAGES = r'''
import json, sys, time
args = json.loads(sys.argv[1])
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter
cfg = MinhashConfig()  # 14 buckets x 8 hashes = 112 permutations, word 5-grams
w, files, work = args["workers"], args["files"], args["work"]
times = {}
def reader():
    return ParquetReader(args["input"], glob_pattern="part-*.parquet", id_key="id", text_key="text")
def go(name, pipeline, tasks):
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=w, logging_dir=f"{work}/logs/{name}").run()
    times[name] = round(time.perf_counter() - start, 1)
go("1_signatures", [reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], files)
go("2_buckets", [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)],
   cfg.num_buckets)
go("3_cluster", [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove", config=cfg)], 1)
go("4_filter", [reader(), MinhashDedupFilter(input_folder=f"{work}/remove"),
                ParquetWriter(output_folder=f"{work}/out")], files)
print(json.dumps(times))
'''


def stage(args: argparse.Namespace) -> dict[str, Any]:
    run = Path(args.run)
    parts = sorted((run / "ingest").glob("part-*.parquet"))
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    out_root = Path(args.out or tempfile.mkdtemp(prefix="dedup-bench-"))
    result: dict[str, Any] = {"docs": n_docs, "files": len(parts), "workers": args.workers}

    ours = out_root / "curate"
    if ours.exists():
        shutil.rmtree(ours)
    ours.mkdir(parents=True)
    (ours / "ingest").symlink_to((run / "ingest").resolve())
    if (run / "truth").exists():
        (ours / "truth").symlink_to((run / "truth").resolve())
    cmd = [str(REPO / ".venv" / "bin" / "curate"), "dedup", "--run", str(ours), "--workers", str(args.workers)]
    r = run_tracked(cmd, out_root / "curate.log")
    success = json.loads((ours / "dedup" / "_SUCCESS").read_text())
    r.update({"docs_per_s": round(n_docs / r["seconds"], 1), "us_per_doc_x_workers": round(1e6 * r["seconds"] * args.workers / n_docs, 1),
              "kept": success["counts"]["out"], "removed": success["rejected_by_reason"],
              "candidate_pairs": success["beam_counters"].get("dedup.candidate_pairs"),
              "stage_elapsed_s": success["elapsed_s"]})
    result["curate"] = r
    result["curate_run"] = str(ours)

    if args.datatrove:
        work = out_root / "datatrove"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir()
        spec = {"input": str((run / "ingest").resolve()), "workers": args.workers, "files": len(parts), "work": str(work)}
        cmd = [args.bench_python, "-c", DATATROVE_STAGES, json.dumps(spec)]
        d = run_tracked(cmd, out_root / "datatrove.log")
        log = (out_root / "datatrove.log").read_text().strip().splitlines()
        with contextlib.suppress(json.JSONDecodeError, IndexError):
            d["stages_s"] = json.loads(log[-1])
        kept = sum(pq.ParquetFile(p).metadata.num_rows for p in (work / "out").rglob("*.parquet"))
        d.update({"docs_per_s": round(n_docs / d["seconds"], 1), "kept": kept, "removed": n_docs - kept})
        result["datatrove"] = d
        result["curate_is_x_faster"] = round(d["seconds"] / r["seconds"], 2)
    return result


# ---- quality ------------------------------------------------------------------------------------------


def quality(args: argparse.Namespace) -> dict[str, Any]:
    run = Path(args.run)
    threshold = json.loads((run / "dedup" / "_SUCCESS").read_text())["lsh"]["threshold"]
    truth = pq.read_table(run / "truth" / "pairs.parquet").to_pylist()
    rejected = pq.read_table(run / "rejected" / "dedup", columns=["id", "reason", "duplicate_of"]).to_pylist()
    label = {r["id"]: r["duplicate_of"] for r in rejected}
    same = lambda a, b: label.get(a, a) == label.get(b, b)  # noqa: E731

    out: dict[str, Any] = {"threshold": threshold, "truth_pairs": len(truth)}
    for lo in (0.85, threshold, 0.9):
        pos = [t for t in truth if t["jaccard"] >= lo]
        found = sum(same(t["id_a"], t["id_b"]) for t in pos)
        out[f"recall_pairs_j_ge_{lo}"] = {"pairs": len(pos), "found": found, "recall": round(found / max(1, len(pos)), 4)}
    by_op: dict[str, list[bool]] = defaultdict(list)
    for t in truth:
        if t["jaccard"] >= 0.85 and "base" in (t["op_a"], t["op_b"]):
            by_op[t["op_b"] if t["op_a"] == "base" else t["op_a"]].append(same(t["id_a"], t["id_b"]))
    out["recall_j_ge_0.85_by_operation"] = {k: round(sum(v) / len(v), 4) for k, v in sorted(by_op.items())}
    low = [t for t in truth if t["jaccard"] < 0.5]
    out["clustered_pairs_with_j_lt_0.5"] = sum(same(t["id_a"], t["id_b"]) for t in low)

    # precision: exact Jaccard recomputed from the texts for every predicted pair
    edges = pq.read_table(run / "dedup" / "_edges").to_pylist()
    near_edges = [(e["id_a"], e["id_b"]) for e in edges if e["kind"] == "near"]
    removal = [(r["id"], r["duplicate_of"]) for r in rejected if r["reason"] == "near_duplicate"]
    need = {i for pair in near_edges + removal for i in pair}
    texts = {}
    for part in sorted((run / "ingest").glob("part-*.parquet")):
        t = pq.read_table(part, columns=["id", "text"])
        ids = t.column("id").to_pylist()
        for i, txt in zip(ids, t.column("text").to_pylist(), strict=True):
            if i in need:
                texts[i] = txt
    sets = {i: set(shingle_words(txt)) for i, txt in texts.items()}

    def j(a: str, b: str) -> float:
        sa, sb = sets[a], sets[b]
        return len(sa & sb) / len(sa | sb) if sa or sb else 0.0

    for name, pairs in (("near_edges", near_edges), ("removed_to_keeper_near", removal)):
        js = np.array([j(a, b) for a, b in pairs])
        out[f"precision_{name}"] = {
            "pairs": len(pairs),
            f"j_ge_{threshold}": round(float(np.mean(js >= threshold)), 4) if len(js) else None,
            "j_ge_0.7": round(float(np.mean(js >= 0.7)), 4) if len(js) else None,
            "min_j": round(float(js.min()), 4) if len(js) else None,
        }
    planted = pq.read_table(run / "truth" / "docs.parquet", columns=["cluster"]).column("cluster").to_numpy()
    out["removed"] = {"total": len(rejected), "planted_docs": int((planted >= 0).sum()),
                      "planted_clusters": int(planted.max() + 1) if len(planted) else 0}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("speed", "stage", "quality", "all"):
        p = sub.add_parser(name)
        p.add_argument("--run", required=True)
        p.add_argument("--bench-python", default="/tmp/dd-venv/bin/python")
        p.add_argument("--sample", type=int, default=4000)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--datatrove", action="store_true")
        p.add_argument("--out", help="where stage runs go (default: a new temporary folder)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    result: dict[str, Any] = {}
    if args.cmd in ("speed", "all"):
        result["speed"] = speed(args)
        print(json.dumps(result["speed"], indent=1), flush=True)
    if args.cmd in ("stage", "all"):
        result["stage"] = stage(args)
        print(json.dumps(result["stage"], indent=1), flush=True)
    if args.cmd == "quality":
        result["quality"] = quality(args)
    if args.cmd == "all" and (Path(result["stage"]["curate_run"]) / "truth").exists():
        args.run = result["stage"]["curate_run"]
        result["quality"] = quality(args)
    if "quality" in result:
        print(json.dumps(result["quality"], indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
