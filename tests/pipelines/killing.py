"""kill -9 of a running `curate` command at a chosen point (the resume tests, on disk and on a bucket)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def kill_when(p: subprocess.Popen, marker: str, written: Callable[[], bool] | None = None,
              must_write: bool = False) -> list[str]:
    """Read the command's output until a line holding `marker`, wait (up to 2 minutes) until `written()`
    says the stage has written something (it is mid-way), then kill -9 the whole process group.
    `must_write`: fail when nothing was written in time. Returns the lines seen."""
    seen = []
    for line in p.stdout:
        seen.append(line)
        if marker in line:
            break
    else:
        raise AssertionError(f"the job ended before {marker!r}: {''.join(seen)}")
    deadline = time.monotonic() + 120
    while written is not None and not written():
        if time.monotonic() > deadline:
            assert not must_write, "the stage wrote nothing"
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL  # it was killed, it did not finish by itself
    return seen
