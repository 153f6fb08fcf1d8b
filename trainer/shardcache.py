"""Token shards that live in an object store, fetched into a local cache folder before use.

The trainer imports no storage code: the caller (pipelines.stages.train) hands a `ShardCache` two
functions, `url(name)` (a file of the shards folder as messages name it) and `open_file(name)` (a readable,
seekable binary stream of it, with the store's retries). The cache then

- reads `manifest.json` from the store (it is the truth, never cached);
- plans from each shard's Parquet footer, read with ranged reads, so that training can start before the
  shards are fetched (a cached copy answers instead when there is one);
- fetches shards in background threads, in the order the loader's lanes will first read them
  (`prefetch`), so the trainer finds them on disk; a shard the trainer reaches first is fetched at once;
- hashes each shard while it is written to the cache and refuses it, naming its URL, when the sha256
  differs from the manifest's (the bytes in the store changed after tokenize wrote them); a verified
  shard is renamed into place under its sha256, so the cache is content-addressed: another run over the
  same shards, or the same run again, fetches nothing, and a cached copy is re-hashed once per process
  before use (a damaged copy is fetched again).

Any refused shard fails the run at the trainer's next shard access: training on part of the data
would give a different model than the manifest describes.

The cache keeps every shard it fetched (no eviction): plan its folder for the size of the shards.
DataLoader worker processes (`num_workers` > 0) inherit the cache and fetch what they need themselves
(threads do not survive a fork); two processes fetching one shard write separate temporary files and
rename the same verified bytes into place.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow.parquet as pq

from trainer.shards_format import MANIFEST

if TYPE_CHECKING:
    from trainer.data import Manifest, ShardEntry

_BLOCK = 1 << 20
_RUNNING, _DONE = "running", "done"


class ShardCache:
    def __init__(self, url: Callable[[str], str], open_file: Callable[[str], IO[bytes]], cache_dir: str | Path,
                 *, threads: int = 2):
        self.url = url
        self.open_file = open_file
        self.folder = Path(cache_dir) / "shards"
        self.threads = max(1, threads)
        self.downloads = 0  # shards fetched from the store by this process (not served from the cache)
        self.bytes_downloaded = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._state: dict[str, Any] = {}  # sha256 -> _RUNNING, _DONE or the exception that refused it
        self._queue: list[tuple[Manifest, ShardEntry]] = []
        self._workers: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._rows: dict[str, list[int]] = {}  # sha256 -> rows per row group the plan was made from
        self._closed = False

    def __getstate__(self) -> dict[str, Any]:  # spawned DataLoader workers: no threads, no locks
        state = self.__dict__.copy()
        for k in ("_cond", "_state", "_queue", "_workers", "_error", "_rows", "_pid", "_closed"):
            state.pop(k)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    def _this_process(self) -> None:
        # A forked child inherits the parent's lock (possibly held by a thread that does not exist here).
        if os.getpid() != self._pid:
            self._reset()

    # ---- what the loader calls -----------------------------------------------------------------------

    def read(self, name: str) -> bytes:
        with self.open_file(name) as f:
            return f.read()

    def cached_path(self, entry: ShardEntry) -> Path:
        return self.folder / f"{entry.sha256}.parquet"

    def metadata(self, manifest: Manifest, entry: ShardEntry) -> pq.FileMetaData:
        """The footer, from the cached copy or with ranged reads from the store (the shard is verified
        before any row is read; `_fetch` checks that its row groups are the ones planned with)."""
        path = self.cached_path(entry)
        if path.is_file():
            md = pq.ParquetFile(path).metadata
        else:
            with self.open_file(entry.file) as f:
                md = pq.ParquetFile(f).metadata
        self._rows[entry.sha256] = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        return md

    def prefetch(self, manifest: Manifest, entries: list[ShardEntry]) -> None:
        """Fetch these shards in the background, in this order, ahead of anything queued before."""
        self._this_process()
        with self._cond:
            todo = [(manifest, e) for e in entries if e.sha256 not in self._state]
            if not todo or self._closed:
                return
            queued = {e.sha256 for _, e in todo}
            self._queue = todo + [q for q in self._queue if q[1].sha256 not in queued]
            while len(self._workers) < self.threads:
                t = threading.Thread(target=self._work, name=f"shard-fetch-{len(self._workers)}", daemon=True)
                self._workers.append(t)
                t.start()
            self._cond.notify_all()

    def local(self, manifest: Manifest, entry: ShardEntry) -> Path:
        """The verified local copy of a shard: waits for a fetch in progress, or fetches it now."""
        self._this_process()
        with self._cond:
            while True:
                if self._error is not None:
                    raise self._error
                state = self._state.get(entry.sha256)
                if state == _DONE:
                    return self.cached_path(entry)
                if state != _RUNNING:
                    break
                self._cond.wait()
            self._state[entry.sha256] = _RUNNING
        self._run(manifest, entry)
        with self._cond:
            if self._error is not None:
                raise self._error
        return self.cached_path(entry)

    def close(self) -> None:
        """Stop the background fetches (a fetch in progress finishes); `local` still fetches on demand."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        for t in self._workers:
            t.join()
        self._workers = []

    # ---- fetching ------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                manifest, entry = self._queue.pop(0)
                if entry.sha256 in self._state:
                    continue
                self._state[entry.sha256] = _RUNNING
            self._run(manifest, entry)

    def _run(self, manifest: Manifest, entry: ShardEntry) -> None:
        try:
            self._fetch(manifest, entry)
            outcome: Any = _DONE
        except BaseException as e:  # noqa: BLE001 (kept for the trainer's next access, which raises it)
            outcome = e
        with self._cond:
            self._state[entry.sha256] = outcome
            if outcome is not _DONE and self._error is None:
                self._error = outcome
            self._cond.notify_all()

    def _fetch(self, manifest: Manifest, entry: ShardEntry) -> None:
        from trainer.data import ShardError, verify_file

        path = self.cached_path(entry)
        url = self.url(entry.file)
        if path.is_file():
            try:
                verify_file(manifest, entry, path, where=f"{path} (cached copy of {url})")
                self._check_plan(entry, path, url)
                return
            except ShardError:
                path.unlink(missing_ok=True)  # a damaged cached copy: fetch it again
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{entry.sha256}.{os.getpid()}.{threading.get_ident()}.tmp"
        h, n = hashlib.sha256(), 0
        try:
            with self.open_file(entry.file) as src, open(tmp, "wb") as dst:
                while block := src.read(_BLOCK):
                    h.update(block)
                    dst.write(block)
                    n += len(block)
            digest = h.hexdigest()
            if digest != entry.sha256:
                raise ShardError(
                    f"{url}: sha256 {digest[:16]}... does not match {manifest.where(MANIFEST)}'s "
                    f"{entry.sha256[:16]}...: the shard in the store is not the one tokenize wrote (modified or "
                    "replaced since); refused (re-run `curate tokenize`)"
                )
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        verify_file(manifest, entry, path, digest=digest, where=url)
        self._check_plan(entry, path, url)
        self.downloads += 1
        self.bytes_downloaded += n

    def _check_plan(self, entry: ShardEntry, path: Path, url: str) -> None:
        """The footer the plan was made from must be the verified file's (the object could have been
        replaced between the footer read and the fetch)."""
        from trainer.data import ShardError

        planned = self._rows.get(entry.sha256)
        if planned is None:
            return
        md = pq.ParquetFile(path).metadata
        if [md.row_group(i).num_rows for i in range(md.num_row_groups)] != planned:
            raise ShardError(f"{url}: its row groups changed while training started; refused (restart)")
