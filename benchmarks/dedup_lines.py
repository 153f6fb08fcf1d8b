"""Line dedup benchmark: what it removes from the real web sample, and its cost against MinHash dedup.

    python benchmarks/dedup_lines.py web       --run RUN [--min-docs 2 3 5 10] [--corpus ../shared/corpus/web]
    python benchmarks/dedup_lines.py synthetic --run GEN [--workers 2] [--repeat 1]

`web`: RUN holds a completed documents stage made from the shared web sample (e.g. `curate ingest
--input web=../shared/corpus/web/*.warc.gz`, then `filter` and `dedup`; it is built there when RUN has
none). For each `--min-docs` value, `curate dedup-lines` runs on a copy of that stage (the other
settings are the defaults) and the script reports the twenty most frequent removed lines with their
document counts, and the extraction-gold check: over the gold pages present in the stage's input,
the share of `with` segments (main text) and of `without` segments (boilerplate) contained in the
text before and after the stage (a dropped page contains nothing). Containment uses the extraction
benchmark's normalization (NFC, invisible characters removed, white space collapsed). Targets: `with`
after / before >= 0.99, `without` after < before.

`synthetic`: GEN is made by benchmarks/make_templates.py (GEN/ingest + GEN/truth). `curate dedup` (the
MinHash stage) and `curate dedup-lines` run on the same documents in fresh run folders, one after
the other, `--repeat` times (median reported), each tracked for wall time and the peak memory of its
process tree (benchmarks/dedup.py's sampler: summed RSS and PSS) and the CPU seconds of the tree
(polled per process). Quality: precision = removed units
that are planted template lines / removed units; recall = planted template lines in at least the
threshold's documents that were removed / those lines (lines under the threshold are reported apart:
they must stay).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from dedup import run_tracked  # noqa: E402
from extraction import gold_key, normalize  # noqa: E402

from pipelines.runlayout import RunLayout  # noqa: E402

CURATE = str(REPO / ".venv" / "bin" / "curate")
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "web"


def _curate(*args: str, log: Path) -> None:
    with open(log, "w") as f:
        subprocess.run([CURATE, *args], stdout=f, stderr=subprocess.STDOUT, check=True)


def ensure_web_run(run: Path, corpus: Path, workers: int) -> str:
    layout = RunLayout(run)
    try:
        return layout.latest_documents_stage(before="dedup_lines")
    except Exception:
        pass
    run.mkdir(parents=True, exist_ok=True)
    w = ["--workers", str(workers)]
    _curate("ingest", "--run", str(run), "--input", f"web={corpus}/*.warc.gz", *w, log=run / "ingest.log")
    _curate("filter", "--run", str(run), *w, log=run / "filter.log")
    _curate("dedup", "--run", str(run), *w, log=run / "dedup.log")
    return "dedup"


def gold_shares(texts: dict[str, str], gold: dict[str, Any], urls: list[str]) -> dict[str, float]:
    found = {"with": [0, 0], "without": [0, 0]}
    for url in urls:
        text = normalize(texts.get(url, ""))
        for side in found:
            for seg in gold[url][side]:
                seg = normalize(seg)
                if not seg:
                    continue
                found[side][1] += 1
                found[side][0] += seg in text
    return {side: round(hit / max(1, total), 4) for side, (hit, total) in found.items()} | {
        f"{side}_segments": total for side, (_, total) in found.items()}


def _texts_by_url(folder: Path) -> dict[str, str]:
    t = pq.read_table(sorted(folder.glob("part-*.parquet")), columns=["url", "text", "kind"]).to_pylist()
    return {gold_key(r["url"]): r["text"] for r in t if r["url"] and r["kind"] == "web"}


def web(args: argparse.Namespace) -> dict[str, Any]:
    run = Path(args.run)
    corpus = Path(args.corpus)
    src = ensure_web_run(run, corpus, args.workers)
    gold = {gold_key(k): v for k, v in json.loads((corpus / "extraction-gold.json").read_text()).items()}
    before = _texts_by_url(run / src)
    urls = sorted(u for u in before if u in gold)
    base = gold_shares(before, gold, urls)
    out: dict[str, Any] = {"input_stage": src, "gold_pages": len(urls), "before": base, "by_min_docs": {}}
    for k in args.min_docs:
        trial = Path(tempfile.mkdtemp(prefix=f"dl-web-{k}-"))
        (trial / src).symlink_to((run / src).resolve())
        _curate("dedup-lines", "--run", str(trial), "--workers", "1", "--set", f"dedup_lines.min_docs={k}",
                log=trial / "dedup_lines.log")
        success = json.loads((trial / "dedup_lines" / "_SUCCESS").read_text())
        after = gold_shares(_texts_by_url(trial / "dedup_lines"), gold, urls)
        units = pq.read_table(trial / "rejected" / "dedup_lines" / "_units").to_pylist()
        out["by_min_docs"][k] = {
            "removed_units": len(units),
            "removed_occurrences": success["beam_counters"].get("dedup_lines.units_removed", 0),
            "docs_edited": success["beam_counters"].get("dedup_lines.docs_edited", 0),
            "dropped_repeated_text": success["rejected_by_reason"].get("repeated_text", 0),
            "after": after,
            "with_after_over_before": round(after["with"] / base["with"], 4) if base["with"] else None,
            "without_fell": after["without"] < base["without"],
            "top20": [(u["doc_count"], u["example"][:120]) for u in units[:20]],
        }
        shutil.rmtree(trial)
    return out


def synthetic(args: argparse.Namespace) -> dict[str, Any]:
    gen = Path(args.run)
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in (gen / "ingest").glob("part-*.parquet"))
    root = Path(args.out or tempfile.mkdtemp(prefix="dl-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {"minhash_dedup": [], "dedup_lines": []}
    commands = {"minhash_dedup": "dedup", "dedup_lines": "dedup-lines"}
    trial = root / "trial"
    for rep in range(args.repeat):
        for name, command in commands.items():
            if trial.exists():
                shutil.rmtree(trial)
            trial.mkdir(parents=True)
            (trial / "ingest").symlink_to((gen / "ingest").resolve())
            with TreeCpu() as cpu:
                r = run_tracked([CURATE, command, "--run", str(trial), "--workers", str(args.workers)],
                                root / f"{name}-{rep}.log")
            r["cpu_s"] = round(cpu.seconds, 1)
            r["stage_elapsed_s"] = _stage_elapsed(trial, command)
            runs[name].append(r)
            if name == "dedup_lines" and rep == args.repeat - 1:
                quality = _quality(gen, trial)
    med = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
           for name, rs in runs.items()}
    a, b = med["dedup_lines"], med["minhash_dedup"]
    return {
        "docs": n_docs, "workers": args.workers, "repeat": args.repeat, "median": med,
        "time_ratio_dedup_lines_over_minhash": round(a["seconds"] / b["seconds"], 3),
        "cpu_ratio_dedup_lines_over_minhash": round(a["cpu_s"] / max(1e-9, b["cpu_s"]), 3),
        "peak_pss_ratio_dedup_lines_over_minhash": round(a["peak_pss_sum_gb"] / max(1e-9, b["peak_pss_sum_gb"]), 3),
        "quality": quality, "runs": runs,
    }


class TreeCpu:
    """CPU seconds (user + system) of every process started under this one while the block runs:
    the last reading of each process, polled every 0.2 s (Beam's worker processes are not reaped
    through this process, so getrusage would miss them)."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.last: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for p in self.me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    self.last[(p.pid, p.create_time())] = t.user + t.system
            self._stop.wait(0.2)

    @property
    def seconds(self) -> float:
        return sum(self.last.values())

    def __enter__(self) -> TreeCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _stage_elapsed(trial: Path, command: str) -> float | None:
    """The stage's own elapsed time as recorded in its _SUCCESS (pipeline only, no interpreter start)."""
    folder = "dedup_lines" if command == "dedup-lines" else "dedup"
    return json.loads((trial / folder / "_SUCCESS").read_text())["elapsed_s"]


def _quality(gen: Path, run: Path) -> dict[str, Any]:
    truth = pq.read_table(gen / "truth" / "units.parquet").to_pylist()
    success = json.loads((run / "dedup_lines" / "_SUCCESS").read_text())
    thr = success["thresholds"]["web"]
    removed = {u["hash"] for u in pq.read_table(run / "rejected" / "dedup_lines" / "_units").to_pylist()}
    template = {t["hash"]: t for t in truth if t["kind"] == "template"}
    due = {h for h, t in template.items() if t["doc_count"] >= thr}
    under = {h for h, t in template.items() if t["doc_count"] < thr}
    quotes = {t["hash"] for t in truth if t["kind"] == "quote"}
    tp = len(removed & set(template))
    return {
        "threshold": thr, "removed_units": len(removed), "planted_template_units": len(template),
        "planted_due": len(due), "planted_under_threshold": len(under),
        "precision": round(tp / max(1, len(removed)), 4),
        "recall_of_due": round(len(removed & due) / max(1, len(due)), 4),
        "removed_under_threshold": len(removed & under), "removed_quotes": len(removed & quotes),
        "docs_dropped": success["rejected_by_reason"].get("repeated_text", 0),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("web")
    w.add_argument("--run", required=True)
    w.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    w.add_argument("--min-docs", type=int, nargs="+", default=[2, 3, 5, 10])
    w.add_argument("--workers", type=int, default=2)
    s = sub.add_parser("synthetic")
    s.add_argument("--run", required=True)
    s.add_argument("--workers", type=int, default=2)
    s.add_argument("--repeat", type=int, default=1)
    s.add_argument("--out", help="where stage runs go (default: a new temporary folder)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    result = web(args) if args.cmd == "web" else synthetic(args)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
