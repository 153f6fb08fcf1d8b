"""Process-group bookkeeping for job processes: start time (against pid reuse), liveness, stopping a group.

Every job runs in its own session (`start_new_session=True`), so its process group id is its pid and one
`killpg` reaches the whole tree (Beam workers, Dask workers, torchrun ranks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import time

HOSTNAME = socket.gethostname()
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie is as good as gone
        return None
    return fields[19]


def alive(pid: int | None, started: str | None) -> bool:
    """True when `pid` runs and is the same process (same start time) as recorded."""
    if not pid:
        return False
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds for a group of zombies only; check for a live member.
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def stop_group(pgid: int, grace_s: float, reap: object | None = None) -> None:
    """SIGTERM to the group, SIGKILL after `grace_s` if anything is left. `reap()` collects our own child."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if callable(reap):
            reap()
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        if callable(reap):
            reap()
        if not group_alive(pgid):
            return
        time.sleep(0.05)


def die_with_parent() -> None:
    """preexec_fn: the job gets SIGTERM when the worker thread that started it dies (e.g. `kill -9` of the
    server), so a job never runs on without an owner renewing its lease."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def worker_id() -> str:
    """host:pid:start — enough to tell whether the worker that holds a job is still alive on this host."""
    pid = os.getpid()
    return f"{HOSTNAME}:{pid}:{start_time(pid)}"


def worker_gone(worker: str | None) -> bool:
    """True when `worker` ran on this host and is no longer alive. Unknown hosts: False (wait for the lease)."""
    if not worker:
        return True
    try:
        host, pid, started = worker.rsplit(":", 2)
    except ValueError:
        return False
    if host != HOSTNAME:
        return False
    return not alive(int(pid), None if started == "None" else started)
