"""Service benchmark: many small jobs from concurrent clients, status polled under load, the server killed
(`kill -9`) and restarted in the middle; then the service's overhead on one job's wall time.

    python benchmarks/service.py                       # 200 jobs, 20 submitters, 50 pollers, 3 restarts
    python benchmarks/service.py --jobs 40 --restarts 3 --db postgresql://...

Checks: every job ends exactly once in a final state (none lost, none duplicated: each submission carries an
idempotency key and is retried until the service answers; each job's log shows its run finished once).
Reports: p50/p99 latency of GET /api/v1/jobs/ID from the pollers while jobs run (target p99 < 100 ms), and
the overhead of running a job through the service against plain `curate run` of the same file (median of 3;
target < 5%). A small job is one text file through ingest: almost all of its time is process start-up.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CURATE = [sys.executable, "-m", "pipelines.cli"]
TINY_JOB = """\
inputs:
  - {path: texts/*.txt, name: books, kind: book}
stages: [ingest]
runner: {workers: 1}
report: false
"""
SAMPLE_JOB = """\
inputs:
  - {path: sample/web/*.warc.gz, name: web}
  - {path: sample/books/*.txt, name: books}
stages: [ingest, filter]
runner: {workers: 1}
report: false
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, root: Path, db: str | None, max_jobs: int):
        self.home, self.root, self.db, self.max_jobs = home, root, db, max_jobs
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [*CURATE, "serve", "--port", str(self.port), "--home", str(self.home), "--data-root", str(self.root),
                "--max-concurrent-jobs", str(self.max_jobs)] + (["--db", self.db] if self.db else [])
        with open(self.home.parent / "serve.log", "ab") as log:
            self.proc = subprocess.Popen(argv, cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                call("GET", self.port, "/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def call(method: str, port: int, path: str, body=None, conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, json.loads(payload) if payload else None
    finally:
        if own:
            conn.close()


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def load_test(args, work: Path) -> dict:
    root = work / "data"
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "a.txt").write_text("Call me Ishmael. " * 200 + "\n\nSome years ago, never mind how long.\n" * 20)
    server = Server(work / "home", root, args.db, args.max_concurrent_jobs)
    server.home.mkdir(parents=True)
    server.start()
    ids: dict[str, int] = {}
    ids_lock = threading.Lock()
    stop = threading.Event()
    latencies: list[float] = []
    errors = {"submit_retries": 0, "poll_errors": 0}

    def submitter(k: int) -> None:
        for i in range(k, args.jobs, args.clients):
            key = f"bench-{i}"
            while True:
                try:
                    status, job = call("POST", server.port, "/api/v1/jobs",
                                       {"spec": TINY_JOB, "name": key, "client_key": key})
                    if status in (200, 201):
                        with ids_lock:
                            ids[key] = job["id"]
                        break
                except OSError:
                    pass
                with ids_lock:
                    errors["submit_retries"] += 1
                time.sleep(0.2)

    def poller() -> None:
        conn = None
        while not stop.is_set():
            with ids_lock:
                known = list(ids.values())
            if not known:
                time.sleep(0.05)
                continue
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                t0 = time.perf_counter()
                status, _ = call("GET", server.port, f"/api/v1/jobs/{random.choice(known)}", conn=conn)
                dt = time.perf_counter() - t0
                running = call("GET", server.port, "/api/v1/jobs?state=running&limit=1", conn=conn)[1]["total"]
                if status == 200 and running:
                    latencies.append(dt)  # the status call while a job runs
            except (OSError, http.client.HTTPException, TypeError, KeyError):
                errors["poll_errors"] += 1
                conn = None
                time.sleep(0.1)
            time.sleep(args.poll_interval)

    t_start = time.monotonic()
    threads = [threading.Thread(target=submitter, args=(k,)) for k in range(args.clients)]
    threads += [threading.Thread(target=poller, daemon=True) for _ in range(args.pollers)]
    for t in threads:
        t.start()
    # Restarts: kill -9 whenever another share of the jobs has finished.
    restarts = 0
    while True:
        time.sleep(1)
        try:
            counts = {s: call("GET", server.port, f"/api/v1/jobs?state={s}&limit=1")[1]["total"]
                      for s in ("succeeded", "failed", "cancelled")}
        except (OSError, TypeError, http.client.HTTPException):
            continue
        final = sum(counts.values())
        if restarts < args.restarts and final >= (restarts + 1) * args.jobs / (args.restarts + 1):
            server.kill9()
            restarts += 1
            time.sleep(1)
            server.start()
            print(f"  restart {restarts}: {final}/{args.jobs} final", flush=True)
        if final >= args.jobs and len(ids) == args.jobs:
            break
        if time.monotonic() - t_start > args.timeout:
            print("  timed out", flush=True)
            break
    stop.set()
    elapsed = time.monotonic() - t_start
    status, listing = call("GET", server.port, "/api/v1/jobs?limit=500")
    jobs = listing["jobs"]
    server.stop()
    by_state: dict[str, int] = {}
    for j in jobs:
        by_state[j["state"]] = by_state.get(j["state"], 0) + 1
    # A run "finished" in an attempt that ran at least one stage and printed `done:`. An attempt after a kill
    # that hit between a run's last line and the server recording it skips every stage (all committed) and
    # prints `done:` again: that is a resume, not a second run.
    finished_once = 0
    odd = {}
    for j in jobs:
        log = (server.home / "runs" / str(j["id"]) / "job.log").read_text()
        attempts = log.split("=== attempt ")[1:]
        ran = [a for a in attempts if "] running" in a and "\ndone: " in a]
        finished_once += len(ran) == 1
        if len(ran) != 1 or len(attempts) != j["attempts"]:
            odd[j["id"]] = [line for line in log.splitlines() if line.startswith(("===", "[", "done:"))][-20:]
    return {
        "jobs_submitted": args.jobs, "jobs_in_db": len(jobs), "distinct_keys": len(set(ids)),
        "by_state": by_state, "runs_finished_exactly_once": finished_once,
        "attempts_total": sum(j["attempts"] for j in jobs), "restarts": restarts, "odd_logs": odd,
        "submit_retries": errors["submit_retries"], "poll_errors": errors["poll_errors"],
        "status_calls_while_running": len(latencies),
        "status_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "status_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "elapsed_s": round(elapsed, 1),
        "ok": len(jobs) == args.jobs and by_state.get("succeeded", 0) == args.jobs and finished_once == args.jobs,
    }


def overhead(args, work: Path) -> dict:
    root = work / "data"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "sample", root / "sample")
    (root / "job.yaml").write_text(SAMPLE_JOB)
    plain = []
    for i in range(args.repeats):
        t0 = time.monotonic()
        subprocess.run([*CURATE, "run", "job.yaml", "--run", str(work / f"plain-{i}")], cwd=root, check=True,
                       capture_output=True)
        plain.append(time.monotonic() - t0)
    server = Server(work / "home", root, args.db, 1)
    server.home.mkdir(parents=True)
    server.start()
    served = []
    for _ in range(args.repeats):
        t0 = time.monotonic()
        _, job = call("POST", server.port, "/api/v1/jobs", {"spec": SAMPLE_JOB})
        while True:
            time.sleep(0.05)
            _, job = call("GET", server.port, f"/api/v1/jobs/{job['id']}")
            if job["state"] in ("succeeded", "failed", "cancelled"):
                break
        assert job["state"] == "succeeded", job
        served.append(time.monotonic() - t0)
    server.stop()
    p, s = statistics.median(plain), statistics.median(served)
    return {"plain_curate_run_s": [round(x, 2) for x in plain], "through_service_s": [round(x, 2) for x in served],
            "median_plain_s": round(p, 2), "median_service_s": round(s, 2),
            "overhead_pct": round(100 * (s - p) / p, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--pollers", type=int, default=50)
    ap.add_argument("--poll-interval", type=float, default=0.2, help="seconds between one poller's calls")
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--max-concurrent-jobs", type=int, default=2)
    ap.add_argument("--db", help="postgresql://... (default: SQLite in the temp home)")
    ap.add_argument("--repeats", type=int, default=3, help="overhead: runs of each side (median reported)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    args = ap.parse_args()
    results = {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="curate-bench-") as tmp:
        if not args.skip_overhead:
            print("overhead: plain curate run vs through the service ...", flush=True)
            results["overhead"] = overhead(args, Path(tmp) / "overhead")
            print(json.dumps(results["overhead"]), flush=True)
        if not args.skip_load:
            print(f"load: {args.jobs} jobs, {args.clients} submitters, {args.pollers} pollers, "
                  f"{args.restarts} kill -9 restarts ...", flush=True)
            results["load"] = load_test(args, Path(tmp) / "load")
    print(json.dumps(results, indent=2))
    return 0 if results.get("load", {}).get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
