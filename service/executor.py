"""The executor: claims queued jobs and runs each as a `curate run` (or `curate train`) process of its own.

One loop per server or `curate worker`: it claims jobs up to `max_concurrent`, renews their leases with their
progress every second, stops a job's whole process group on cancel (SIGTERM, SIGKILL after a grace period),
and records how each one ended — exactly once, guarded by the worker's claim. It also recovers jobs whose
worker is gone (killed, or its lease ran out): their leftover process group is stopped and the job queued
again, to resume from its committed stages. Commands are argv lists, never shell strings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from service import procs
from service.db import Job, Store
from service.progress import read_progress

log = logging.getLogger("curate.service")

JOB_FILE = "job.yaml"
TRAIN_FILE = "train.yaml"
LOG_FILE = "job.log"


def job_dir(home: Path, job_id: int) -> Path:
    """The job's run folder: `curate run` writes its stages here, next to job.yaml and job.log."""
    return Path(home) / "runs" / str(job_id)


def local_gpus() -> int:
    """NVIDIA GPUs visible to this machine, without importing torch into the server."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    return len([d for d in os.listdir("/dev") if d.startswith("nvidia") and d[6:].isdigit()]) \
        if os.path.isdir("/dev") else 0


@dataclass
class Running:
    job: Job
    proc: subprocess.Popen[bytes]
    log: BinaryIO
    stages: list[str]
    started: dict[str, float] = field(default_factory=dict)
    last_renew: float = 0.0
    kill_at: float | None = None  # set once SIGTERM was sent on cancel
    lost: bool = False


class Executor:
    def __init__(self, store: Store, home: Path, *, max_concurrent: int = 1, lease_s: float = 30.0,
                 grace_s: float = 10.0, poll_s: float = 0.2, train_gpus: int | None = None):
        self.store = store
        self.home = Path(home)
        self.max_concurrent = max_concurrent
        self.lease_s = lease_s
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.train_gpus = local_gpus() if train_gpus is None else train_gpus
        self.worker = procs.worker_id()
        self.running: dict[int, Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_recover = 0.0

    # ---- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="curate-executor", daemon=True)
        self._thread.start()

    def stop_soon(self) -> None:
        """From a signal handler: the loop ends after its current tick (running jobs are queued again)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        self._loop()

    def stop(self) -> None:
        """Stop taking jobs; running ones are stopped and queued again (they resume on the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.grace_s + 30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not kill the executor
                log.exception("executor tick failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()
        for job_id, r in list(self.running.items()):
            procs.stop_group(r.proc.pid, self.grace_s, r.proc.poll)
            r.log.close()
            self.store.requeue(job_id, self.worker, "the service stopped; the job resumes from its committed stages")
            self.running.pop(job_id, None)

    def tick(self) -> None:
        now = time.time()
        if now - self._last_recover >= 2.0:
            self._last_recover = now
            self.recover()
        for job_id, r in list(self.running.items()):
            self._watch(job_id, r)
        while len(self.running) < self.max_concurrent and not self._stop.is_set():
            job = self.store.claim(self.worker, self.lease_s)
            if job is None:
                break
            self._launch(job)

    # ---- recovery ------------------------------------------------------------------------------------

    def recover(self) -> int:
        """Queue again (or finish as cancelled) the running jobs whose worker is gone. Returns how many."""
        n = 0
        now = time.time()
        for job in self.store.running():
            if job.worker == self.worker:
                continue
            if not (procs.worker_gone(job.worker) or (job.lease_until or 0) < now):
                continue
            # Never two at once: stop what the dead worker left running on this host first.
            if job.pid and job.worker and job.worker.startswith(procs.HOSTNAME + ":") and \
                    procs.alive(job.pid, job.pid_start):
                log.warning("job %s: stopping the process group %s its dead worker left", job.id, job.pid)
                procs.stop_group(job.pid, self.grace_s)
            _clean_partial(job_dir(self.home, job.id))
            if job.cancel_requested:
                self.store.finish(job.id, job.worker or "", "cancelled", error="cancelled (its worker was lost)")
            elif self.store.requeue(job.id, job.worker, f"worker {job.worker} lost; resumed from committed stages"):
                log.warning("job %s: worker %s is gone, queued again", job.id, job.worker)
            n += 1
        return n

    # ---- running jobs --------------------------------------------------------------------------------

    def _launch(self, job: Job) -> None:
        run_dir = job_dir(self.home, job.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        logf = open(run_dir / LOG_FILE, "ab")  # noqa: SIM115 (the job's process writes it until it ends)
        logf.write(f"=== attempt {job.attempts} by {self.worker} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n"
                   .encode())
        logf.flush()
        try:
            argv, stages = self._command(job, run_dir)
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen(argv, cwd=job.base_dir, stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                    preexec_fn=procs.die_with_parent)
        except Exception as e:  # the job cannot start (its folder is gone, a bad train source...)
            logf.write(f"cannot start: {e}\n".encode())
            logf.close()
            self.store.finish(job.id, self.worker, "failed", error=f"cannot start: {e}")
            return
        self.store.set_pid(job.id, self.worker, proc.pid, procs.start_time(proc.pid))
        self.running[job.id] = Running(job, proc, logf, stages)
        log.info("job %s: started pid %s", job.id, proc.pid)

    def _command(self, job: Job, run_dir: Path) -> tuple[list[str], list[str]]:
        if job.kind == "train":
            return self._train_command(job, run_dir)
        (run_dir / JOB_FILE).write_text(job.spec)
        argv = [sys.executable, "-m", "pipelines.cli", "run", str(run_dir / JOB_FILE), "--run", str(run_dir)]
        return argv, list(job.params.get("stages") or [])

    def _train_command(self, job: Job, run_dir: Path) -> tuple[list[str], list[str]]:
        source = job_dir(self.home, int(job.source_job or 0))
        for name in ("shards", "tokenizer"):
            link = run_dir / name
            if not link.exists():
                if not (source / name).is_dir():
                    raise FileNotFoundError(f"job {job.source_job} has no {name}/ folder")
                link.symlink_to(Path("..") / str(job.source_job) / name)
        (run_dir / TRAIN_FILE).write_text(job.spec)
        resume = ["--resume"] if (run_dir / "train").exists() else []
        nproc = int(job.params.get("nproc") or self.train_gpus)
        if nproc > 1:  # every local GPU through torchrun (DDP)
            argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                    "-m", "pipelines.stages.train", str(run_dir), "--config", str(run_dir / TRAIN_FILE), *resume]
        else:
            argv = [sys.executable, "-m", "pipelines.cli", "train", "--run", str(run_dir), "--config",
                    str(run_dir / TRAIN_FILE), *resume]
        return argv, ["train"]

    def _watch(self, job_id: int, r: Running) -> None:
        rc = r.proc.poll()
        now = time.time()
        run_dir = job_dir(self.home, job_id)
        if rc is None:
            if r.kill_at is not None and now >= r.kill_at:
                procs.stop_group(r.proc.pid, 0.0, r.proc.poll)
                r.kill_at = float("inf")
            if now - r.last_renew >= 1.0:
                r.last_renew = now
                job = self.store.renew(job_id, self.worker, self.lease_s, read_progress(run_dir, r.stages, r.started))
                if job is None:  # someone took the job from us (lease ran out, deleted): stop at once
                    log.warning("job %s: lost its claim; stopping it", job_id)
                    r.lost = True
                    procs.stop_group(r.proc.pid, self.grace_s, r.proc.poll)
                elif job.cancel_requested and r.kill_at is None:
                    self._terminate(r)
            return
        # The job process ended: make sure nothing of its group lingers, then record the outcome once.
        if procs.group_alive(r.proc.pid):
            procs.stop_group(r.proc.pid, self.grace_s)
        r.log.close()
        self.running.pop(job_id, None)
        if r.lost:
            return
        cancelled = r.kill_at is not None
        if not cancelled:
            job = self.store.get(job_id)
            cancelled = bool(job and job.cancel_requested)
        if cancelled:
            _clean_partial(run_dir)
        progress = read_progress(run_dir, r.stages, r.started)
        if cancelled:
            state, error = "cancelled", None
        elif rc == 0:
            state, error = "succeeded", None
        else:
            state, error = "failed", _error_line(run_dir / LOG_FILE) or f"exit code {rc}"
        self.store.finish(job_id, self.worker, state, exit_code=rc, error=error, progress=progress)
        log.info("job %s: %s (exit %s)", job_id, state, rc)

    def _terminate(self, r: Running) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(r.proc.pid, signal.SIGTERM)
        r.kill_at = time.time() + self.grace_s


def _clean_partial(run_dir: Path) -> None:
    """What a stopped attempt left half-written (`.tmp/`, live progress): never part of a committed stage."""
    shutil.rmtree(run_dir / ".tmp", ignore_errors=True)
    shutil.rmtree(run_dir / ".progress", ignore_errors=True)


def _error_line(log_path: Path) -> str | None:
    """The last line of the log that says what went wrong."""
    try:
        lines = log_path.read_bytes()[-65536:].decode(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        low = line.lower()
        if "error" in low or "failed" in low or "exception" in low:
            return line.strip()[:500]
    return None


def describe(job: Job) -> dict[str, Any]:
    return json.loads(json.dumps(job.public()))
