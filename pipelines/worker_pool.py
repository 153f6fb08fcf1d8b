"""One warm process that Beam's worker processes are forked from, for the whole of a command.

With `--runner direct` and several workers, Beam's FnApiRunner starts every worker of every stage as a
new `python -m pipelines.beam_worker`, which imports Beam and this project again: about a second of CPU
per worker and per stage, paid while the other worker and the driver want the same cores, before any
document is read (issue 14: "each stage starts its own worker processes"). Here the first stage that
wants worker processes starts one pool process; it imports Beam's worker and every stage module once,
then waits on a Unix socket. Each worker Beam starts is then a thin client (`pipelines.beam_worker`)
that asks the pool to fork a child: the child takes the client's environment, folder and arguments
(the control and logging endpoints, the pipeline options) and runs Beam's own worker main, and the
client waits for it and exits with its status. A fork costs milliseconds and shares the imported
modules copy-on-write. The pool lives as long as the command: `curate run` starts it once for all its
stages. It ends when the process that started it ends (its lifeline, a pipe only that process holds
open, closes), killing any child left.

The pool never starts a thread or opens a gRPC channel itself, so forking it is safe; `random` reseeds
itself in every child, and the storage options are read again from the child's environment.

A command that will run Beam stages on worker processes does not wait for the pool to import: right
after the command line and config are read, `prefork` forks the pool from the command's own process,
which has imported Beam and the stage's module already and has no other thread yet, so the pool is
ready by the time the first stage starts its workers (started as a new interpreter, the pool imported
for ~1.2 s while the first stage's driver waited for it). `ensure_started` starts a new interpreter
only where no pool was forked (a pipeline run from Python, or a process with threads).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

from pipelines import gc_policy
from pipelines.beam_worker import POOL_ENV, QUIET_ENV, quiet_logging
from pipelines.config import RunnerConfig

CONNECT_TIMEOUT_S = 60.0  # the pool imports for a second or two; on a loaded machine longer

class _ForkedPool:
    """A pool forked from this process (`prefork`), with the `poll`, `wait` and `kill` of the
    `subprocess.Popen` that `ensure_started` makes."""

    def __init__(self, pid: int):
        self.pid, self._status = pid, None

    def poll(self) -> int | None:
        if self._status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"worker pool {self.pid}", timeout)
            time.sleep(0.01)
        return self._status  # type: ignore[return-value]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


_pool: subprocess.Popen | _ForkedPool | None = None
# The write end of the pool's lifeline: the pool ends when it closes (`stop`, or this process's end).
# (`os.pipe` gives descriptors no child inherits, so only this process holds it.)
_lifeline = -1


def _new_socket_path() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="curate-pool-"), "pool.sock")


def wanted(cfg: RunnerConfig) -> bool:
    """Whether stages run with this runner config may start worker processes from the pool."""
    return (cfg.name.lower() in ("direct", "directrunner") and cfg.worker_pool
            and cfg.resolved_mode() == "multi_processing" and cfg.resolved_workers() > 1)


def prefork(cfg: RunnerConfig) -> bool:
    """Fork the pool from this process now, if its stages may want worker processes and it is safe to
    fork (no pool yet, no other thread); whether it did. Call it once Beam and the command's stage
    modules are imported, before any pipeline runs."""
    if not wanted(cfg) or _pool is not None or threading.active_count() > 1 or not hasattr(os, "fork"):
        return False
    path = _new_socket_path()
    read_end, write_end = os.pipe()
    sys.stdout.flush()  # (a child must not write this process's buffered output again)
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the pool: never returns into the command
        status = 0
        try:
            os.close(write_end)
            serve(path, read_end)
        except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the command reports it
            status = 130
        except BaseException:
            status = 1
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(read_end)
    _started(_ForkedPool(pid), write_end, path)
    return True


def ensure_started() -> str:
    """Start this process's pool unless it runs; returns its socket path (also set in `POOL_ENV`)."""
    if _pool is not None and _pool.poll() is None:
        return os.environ[POOL_ENV]
    stop()  # (a pool that died: its lifeline and socket folder go)
    path = _new_socket_path()
    read_end, write_end = os.pipe()
    pool = subprocess.Popen([sys.executable, "-m", "pipelines.worker_pool", path, str(read_end)],
                            pass_fds=(read_end,))
    os.close(read_end)
    _started(pool, write_end, path)
    return path


def _started(pool: subprocess.Popen | _ForkedPool, lifeline: int, path: str) -> None:
    global _pool, _lifeline
    atexit.unregister(stop)  # (registered once, however many pools this process starts)
    atexit.register(stop)
    _pool, _lifeline = pool, lifeline
    os.environ[POOL_ENV] = path


def stop() -> None:
    """End the pool (closing its lifeline ends it) and remove its socket."""
    global _pool, _lifeline
    pool, _pool = _pool, None
    lifeline, _lifeline = _lifeline, -1
    path = os.environ.pop(POOL_ENV, None)
    if pool is None:
        return
    with contextlib.suppress(OSError):
        os.close(lifeline)
    try:
        pool.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pool.kill()
        pool.wait(timeout=10)
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))


# ---- a worker's side (called by pipelines.beam_worker) ---------------------------------------------------


def run_in_pool(path: str, argv: list[str]) -> int | None:
    """Have the pool at `path` fork this worker; its exit status, or None when there is no pool to ask
    (the caller then runs the worker itself)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            conn.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                conn.close()
                return None
            time.sleep(0.02)
    with conn:
        _send(conn, {"env": dict(os.environ), "cwd": os.getcwd(), "argv": argv})
        reply = _receive(conn)
    return None if reply is None else int(reply["status"])


# ---- the pool ---------------------------------------------------------------------------------------------


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    conn.sendall(struct.pack("!I", len(data)) + data)


def _receive(conn: socket.socket) -> dict[str, Any] | None:
    head = _read_exactly(conn, 4)
    if head is None:
        return None
    body = _read_exactly(conn, struct.unpack("!I", head)[0])
    return None if body is None else json.loads(body)


def _read_exactly(conn: socket.socket, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = conn.recv(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _preload() -> None:
    """What every worker imports before its first bundle: Beam's worker, and each stage's module (their
    DoFns are unpickled from there)."""
    if os.environ.get(QUIET_ENV) == "1":
        quiet_logging()
    importlib.import_module("apache_beam.runners.worker.sdk_worker_main")
    from pipelines.stages import STAGES

    for stage in STAGES:
        if stage.beam:
            importlib.import_module(stage.module)


def _child(conn: socket.socket, request: dict[str, Any]) -> None:
    """In the forked child: become the worker the client asked for; never returns."""
    status = 1
    try:
        conn.close()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = list(request["argv"])
        from pipelines import storage

        storage.configure(storage.inherited())  # the options of this stage, not of the pool's start
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main(sys.argv)
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve(path: str, lifeline: int) -> None:
    """Fork a worker for each client of the socket at `path` until `lifeline` (a file descriptor the
    driver holds the other end of) closes."""
    _preload()
    gc_policy.apply(freeze=True)  # (the workers forked from here inherit it)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # clients connect only once the pool is ready
    server.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    sel.register(lifeline, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    try:
        while True:
            for key, _ in sel.select(timeout=0.05):
                if key.fileobj == lifeline:
                    if not os.read(lifeline, 1024):  # the driver is gone
                        return
                    continue
                conn, _ = server.accept()
                request = _receive(conn)
                if request is None:
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    server.close()
                    os.close(lifeline)
                    _child(conn, request)
                children[pid] = conn
            _reap(children)
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        server.close()


def _reap(children: dict[int, socket.socket]) -> None:
    """Tell each client whose child ended how it ended."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        with conn, contextlib.suppress(OSError):
            _send(conn, {"status": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
