"""Progress of a running stage, across processes.

Workers (in-process, multi-process DirectRunner or local Dask workers) add their counts to a small
JSON file of their own under `RUN/.progress/<stage>/`, at most once a second; the driver polls
those files in a thread and shows documents processed, documents/s and an ETA (when the stage knows
its input size) as a tqdm bar on a terminal, or as a plain log line every 15 s otherwise.
The folder is passed to workers through the environment (`CURATE_PROGRESS_DIR`), so DoFns stay
picklable and runners that cannot see the local disk simply show no progress.

A run in object storage keeps that folder on the driver's disk (`RunLayout.progress_root`); so that
readers elsewhere can see it, the driver also publishes (`publish`: the URL RUN/.progress/<stage>) the
stage's `_total` and the sum of its workers' counts as one file, `driver.json`, through the storage
layer at most every `PUBLISH_S` seconds (one small PUT), and removes it when the stage ends: the same
layout as the local folder, read with `read_live`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

log = logging.getLogger("curate.progress")

ENV = "CURATE_PROGRESS_DIR"
TOTAL_FILE = "_total"  # the stage's known input size, for readers outside the driver (the service's ETA)
_FLUSH_S = 1.0
PUBLISH_S = 5.0  # a bucket run's progress: at most one PUT per stage this often
PUBLISHED = "driver.json"


class _Tally:
    """This process's counts for the current stage; flushed to its own file."""

    def __init__(self) -> None:
        self.docs = 0
        self.bytes = 0
        self.last = 0.0
        self.path: Path | None = None
        self.folder: str | None = None

    def add(self, docs: int, nbytes: int) -> None:
        folder = os.environ.get(ENV)
        if not folder:
            return
        if folder != self.folder:  # a new stage in this process
            self.folder, self.docs, self.bytes = folder, 0, 0
            self.path = Path(folder) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self.docs += docs
        self.bytes += nbytes
        now = time.monotonic()
        if now - self.last >= _FLUSH_S:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.path is None:
            return
        try:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"docs": self.docs, "bytes": self.bytes}))
            os.replace(tmp, self.path)
        except OSError:
            pass  # progress is best effort: never fail a stage for it


_TALLY = _Tally()


def tick(docs: int = 1, nbytes: int = 0) -> None:
    """Count work done in this worker (cheap: a file write at most once a second)."""
    _TALLY.add(docs, nbytes)


def flush() -> None:
    _TALLY.flush()


class ProgressMonitor:
    """Driver side: `with ProgressMonitor(run, stage, total_docs=...)` around a pipeline run."""

    def __init__(self, run: Path, stage: str, total_docs: int | None = None, total_bytes: int | None = None,
                 publish: str | None = None, publish_every_s: float = PUBLISH_S):
        self.folder = Path(run) / ".progress" / stage
        self.publish = publish
        self.publish_every_s = publish_every_s
        self._published: tuple[int, int] | None = None
        self._last_publish = -float("inf")
        self.stage = stage
        self.total_docs = total_docs
        self.total_bytes = total_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_env: str | None = None

    def __enter__(self) -> ProgressMonitor:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / TOTAL_FILE).write_text(json.dumps({"docs": self.total_docs, "bytes": self.total_bytes}))
        self._previous_env = os.environ.get(ENV)
        os.environ[ENV] = str(self.folder)
        if self.publish:
            self._put(TOTAL_FILE, {"docs": self.total_docs, "bytes": self.total_bytes})
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"progress-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        flush()
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._previous_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._previous_env
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.publish:
            from pipelines import storage

            try:
                storage.remove_tree(self.publish)
            except OSError as e:
                log.warning("progress: could not remove %s: %s", storage.redact(self.publish), e)

    def _put(self, name: str, data: dict[str, int | None]) -> None:
        """One small file under `publish`; progress is best effort: a failed PUT is logged, not raised."""
        from pipelines import storage

        try:
            storage.write_bytes(storage.join(self.publish, name), json.dumps(data).encode())
        except OSError as e:
            log.warning("progress: could not write %s: %s", storage.redact(self.publish), e)

    def _publish(self, docs: int, nbytes: int) -> None:
        now = time.monotonic()
        if not self.publish or (docs, nbytes) == self._published or now - self._last_publish < self.publish_every_s:
            return
        self._last_publish = now
        self._published = (docs, nbytes)
        self._put(PUBLISHED, {"docs": docs, "bytes": nbytes})

    def read(self) -> tuple[int, int]:
        docs = nbytes = 0
        for p in self.folder.glob("*.json"):
            try:
                d = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            docs += int(d.get("docs", 0))
            nbytes += int(d.get("bytes", 0))
        return docs, nbytes

    def _loop(self) -> None:
        bar = None
        tty = sys.stderr.isatty()
        if tty:
            from tqdm import tqdm

            unit, total = ("B", self.total_bytes) if self.total_bytes else ("doc", self.total_docs)
            bar = tqdm(total=total, desc=self.stage, unit=unit, unit_scale=True, leave=False)
        last_log = time.monotonic()
        while not self._stop.wait(0.5):
            docs, nbytes = self.read()
            self._publish(docs, nbytes)
            elapsed = max(time.monotonic() - self._start, 1e-9)
            if bar is not None:
                bar.n = nbytes if self.total_bytes else docs
                bar.set_postfix_str(f"{docs} docs, {docs / elapsed:.0f} docs/s", refresh=False)
                bar.refresh()
            elif time.monotonic() - last_log >= 15:
                last_log = time.monotonic()
                log.warning("%s: %s", self.stage, self.describe(docs, nbytes, elapsed))
        if bar is not None:
            bar.close()

    def describe(self, docs: int, nbytes: int, elapsed: float) -> str:
        rate = docs / elapsed
        text = f"{docs} docs processed, {rate:.0f} docs/s"
        eta = None
        if self.total_bytes and nbytes:
            eta = elapsed * (self.total_bytes - nbytes) / nbytes
        elif self.total_docs and docs:
            eta = elapsed * (self.total_docs - docs) / docs
        if eta is not None:
            text += f", ETA {max(eta, 0):.0f}s"
        return text


def read_live(folder: str) -> tuple[int, int, dict[str, int | None]] | None:
    """A running stage's counts (docs, bytes) and its `_total` from RUN/.progress/<stage> (a local folder
    or, for a bucket run, its published URL); None when the stage is not running."""
    from pipelines import storage

    try:
        files = storage.walk_files(folder)
    except OSError:
        return None
    if not files:
        return None
    docs = nbytes = 0
    total: dict[str, int | None] = {}
    for entry in files:
        try:
            d = json.loads(storage.read_bytes(entry.path))
        except (OSError, ValueError):
            continue  # being replaced
        if os.path.basename(entry.path) == TOTAL_FILE:
            total = d
        elif entry.path.endswith(".json"):
            docs += int(d.get("docs", 0))
            nbytes += int(d.get("bytes", 0))
    return docs, nbytes, total
