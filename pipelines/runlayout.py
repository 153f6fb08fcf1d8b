"""The run folder: where each stage writes, and how it commits atomically, on a local disk or on an
object store (`--run s3://bucket/runs/x`).

    RUN/
      <stage>/_SUCCESS                     (a stage is complete iff _SUCCESS exists; it lists its files)
      <stage>/part-*.parquet               (local disk)
      <stage>/_attempts/<nonce>/part-*...  (object store: the attempt that committed)
      rejected/<stage>/...                 (every dropped record with its reason, laid out alike)
      .tmp/<stage>-<nonce>/{out,rejected}  (local work in progress, never read)

`_SUCCESS` is the one source of a stage's file list: `files` and `rejected_files` hold each committed
file's `path` (relative to the stage folder's `attempt`, "" locally), `size` and `sha256`. Every reader
goes through `parts`/`rejected_parts`/`file`, which resolve names through that list and never list a
folder, so parts left by a killed attempt are never read.

Local disk: a stage writes into `.tmp`, then moves `rejected/` and `out/` into place; `_SUCCESS` is
written inside `out/` before the rename, so the stage folder appears complete in one atomic rename (and
the outputs are byte-identical to what they always were).

Object stores have no rename of a folder: an attempt writes its parts under
`<stage>/_attempts/<nonce>/` (workers write there directly, every worker reaches the bucket) and
commits by writing `_SUCCESS` last, one PUT, which an object store makes visible whole or not at all.
After its commit an attempt deletes whatever under the stage folder its `_SUCCESS` does not reference
(what killed attempts left, the previous commit's parts).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipelines import storage
from pipelines.io.parquet import file_rows, read_table
from pipelines.stages import document_folders

SUCCESS = "_SUCCESS"
ATTEMPTS = "_attempts"  # object stores: RUN/<stage>/_attempts/<nonce>/ holds one attempt's files
WORK = "_work"  # object stores: RUN/<stage>/_work/<nonce>/ holds one attempt's scratch files


class StageMissingError(RuntimeError):
    """A stage needs an input stage that has not completed."""


class RunLayout:
    """`root` is a `Path` for a local run folder and the URL (a `str`) for one on an object store;
    `url` is the root as a `str` in both cases. `parts`, `rejected_parts` and `file` give `str`s."""

    def __init__(self, root: str | os.PathLike[str], job_fingerprints: Mapping[str, str] | None = None):
        text = os.fspath(root)
        self.remote = storage.is_remote(text)
        if self.remote:
            storage.check_url(text)
            self.url = text.rstrip("/")
            self.root: Path | str = self.url
        else:
            self.root = Path(text)
            self.url = str(self.root)
        # Given by `curate run`, keyed by stage folder: the fingerprint of each stage's config and
        # upstream, stored in its _SUCCESS so that a later run can skip the stage when nothing it
        # depends on changed.
        self.job_fingerprints: dict[str, str] = dict(job_fingerprints or {})

    def __repr__(self) -> str:
        return f"RunLayout({self.url!r})"

    def join(self, *names: str) -> str:
        """A path (or URL) under the run folder."""
        out = self.url
        for name in names:
            out = storage.join(out, name)
        return out

    def stage_dir(self, stage: str) -> Path | str:
        return self.root / stage if not self.remote else self.join(stage)

    def rejected_dir(self, stage: str) -> Path | str:
        return self.root / "rejected" / stage if not self.remote else self.join("rejected", stage)

    def success_path(self, stage: str) -> Path | str:
        return self.stage_dir(stage) / SUCCESS if not self.remote else self.join(stage, SUCCESS)

    def is_complete(self, stage: str) -> bool:
        return storage.exists(str(self.success_path(stage)))

    def read_success(self, stage: str) -> dict[str, Any]:
        try:
            text = storage.read_bytes(str(self.success_path(stage)))
        except FileNotFoundError:
            text = None
        except storage.StorageError as e:
            if not isinstance(e.cause, FileNotFoundError):
                raise
            text = None
        if text is None:
            raise self._missing(f"stage '{stage}' has not completed in {self.url} (no {SUCCESS})")
        return json.loads(text)

    def _committed(self, stage: str, key: str, folder: str, pattern: str) -> list[str]:
        try:
            success = self.read_success(stage)
        except StageMissingError:
            raise StageMissingError(
                f"stage '{stage}' has not completed in {self.url}: run `curate {stage} --run {self.url}` first"
            ) from None
        files = success.get(key)
        base = storage.join(folder, success["attempt"]) if success.get("attempt") else folder
        if files is None or (files and not isinstance(files[0], dict)):
            if self.remote:
                raise StageMissingError(f"{self.success_path(stage)} lists no files: rerun stage '{stage}'")
            # a local run committed before _SUCCESS listed its files: the committed folder holds them
            return sorted(str(p) for p in Path(folder).glob(pattern))
        return sorted(storage.join(base, f["path"]) for f in files if _matches(f["path"], pattern))

    def parts(self, stage: str, pattern: str = "part-*.parquet") -> list[str]:
        """The committed data files of a stage matching `pattern` (relative to the stage folder),
        sorted, from its `_SUCCESS`."""
        return self._committed(stage, "files", str(self.stage_dir(stage)), pattern)

    def rejected_parts(self, stage: str, pattern: str = "part-*.parquet") -> list[str]:
        """Like `parts`, for the stage's rejected records; none when the stage has not completed."""
        try:
            return self._committed(stage, "rejected_files", str(self.rejected_dir(stage)), pattern)
        except StageMissingError:
            return []

    def file(self, stage: str, name: str) -> str:
        """One committed file of a stage by its name (e.g. `manifest.json`, a shard named in it)."""
        found = self.parts(stage, name)
        if not found:
            raise FileNotFoundError(f"{storage.join(str(self.stage_dir(stage)), name)}: not among the files "
                                    f"stage '{stage}' committed")
        return found[0]

    def find_file(self, stage: str, name: str) -> str | None:
        """`file`, or None when the stage did not commit one of that name (or did not complete)."""
        try:
            found = self.parts(stage, name)
        except StageMissingError:
            return None
        return found[0] if found else None

    def progress_root(self) -> Path:
        """Where workers on this machine leave progress counts: the run folder, or for a run on an
        object store a local folder named after its URL (progress is this machine's display)."""
        if not self.remote:
            return self.root
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "curate-progress" / digest

    def latest_documents_stage(self, before: str | None = None) -> str:
        """The latest completed documents stage (the registry's documents stages, latest first: dedup,
        filter, ingest), optionally only those before the stage folder `before`."""
        candidates = list(reversed(document_folders()))
        if before in candidates:
            candidates = candidates[candidates.index(before) + 1 :]
        for stage in candidates:
            if self.is_complete(stage):
                return stage
        raise self._missing(
            f"no completed documents stage among {candidates} in {self.url}: run `curate ingest` first"
        )

    def _missing(self, message: str) -> StageMissingError:
        """The error for a stage that is not there; on an object store a missing bucket or a credential
        without access is the real cause, and is raised instead (naming the URL)."""
        if self.remote:
            storage.check_reachable(self.url)
        return StageMissingError(message)

    def invalidate(self, stage: str) -> None:
        """Mark a stage incomplete (its `_SUCCESS` goes; its files are cleaned by its next commit)."""
        storage.remove(str(self.success_path(stage)))

    def begin(self, stage: str) -> StageCommit:
        return StageCommit(self, stage)


def same_run(other: str | os.PathLike[str], layout: RunLayout) -> bool:
    """Whether `other` names the run folder of `layout` (e.g. a `--against` that would compare a run
    with itself)."""
    text = os.fspath(other)
    if storage.is_remote(text) or layout.remote:
        return text.rstrip("/") == layout.url
    return Path(text).resolve() == Path(layout.root).resolve()


def _matches(path: str, pattern: str) -> bool:
    """Glob semantics on a relative path: `*` does not cross a `/`."""
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


class StageCommit:
    """One stage attempt: where it writes (`out`, `rejected`: str paths or URLs; `work`: scratch files
    shared by its workers, removed after), and `commit`/`abort`."""

    def __init__(self, layout: RunLayout, stage: str):
        self.layout = layout
        self.stage = stage
        self.nonce = uuid.uuid4().hex[:12]
        if layout.remote:
            self.attempt = f"{ATTEMPTS}/{self.nonce}"
            self.tmp = layout.join(stage, WORK, self.nonce)
            self.out = layout.join(stage, self.attempt)
            self.rejected = layout.join("rejected", stage, self.attempt)
            self.work = storage.join(self.tmp, "work")
            # Fail fast, naming the URL, where the bucket is missing or the credential may not write
            # there (and before any worker starts): this marker is the attempt's first object.
            storage.check_reachable(layout.url)
            storage.write_bytes(storage.join(self.tmp, ".attempt"), b"")
        else:
            self.attempt = ""
            tmp = layout.root / ".tmp" / f"{stage}-{self.nonce}"
            (tmp / "out").mkdir(parents=True)
            (tmp / "rejected").mkdir(parents=True)
            self.tmp, self.out, self.rejected = str(tmp), str(tmp / "out"), str(tmp / "rejected")
            self.work = str(tmp / "work")

    def commit(self, success: dict[str, Any]) -> str:
        """Write `_SUCCESS` (with the list of committed files) and make the stage complete; returns the
        stage folder."""
        job_fp = self.layout.job_fingerprints.get(self.stage)
        if job_fp is not None:
            success = {**success, "job_fingerprint": job_fp}
        files, digests = _describe(self.out)
        rejected_files, rejected_digests = _describe(self.rejected)
        success = {**success, "files": files, "rejected_files": rejected_files}
        if self.attempt:
            success["attempt"] = self.attempt
        # the digest files have served: the committed folders hold exactly the files _SUCCESS lists
        storage.remove_files(digests + rejected_digests)
        if self.layout.remote:
            return self._commit_remote(success)
        return self._commit_local(success)

    def _commit_local(self, success: dict[str, Any]) -> str:
        out, tmp = Path(self.out), Path(self.tmp)
        write_json_atomic(out / SUCCESS, success)
        final = self.layout.stage_dir(self.stage)
        final_rejected = self.layout.rejected_dir(self.stage)
        trash = tmp / "trash"
        trash.mkdir()
        # Invalidate the old stage first (its _SUCCESS goes before anything else moves).
        if final.exists():
            old_success = final / SUCCESS
            if old_success.exists():
                old_success.unlink()
            os.replace(final, trash / "out")
        if final_rejected.exists():
            os.replace(final_rejected, trash / "rejected")
        final_rejected.parent.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.rejected, final_rejected)
        os.replace(out, final)
        fsync_dir(final.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        return str(final)

    def _commit_remote(self, success: dict[str, Any]) -> str:
        layout = self.layout
        # The commit point: one PUT of _SUCCESS, which replaces the old one whole.
        write_json(layout.join(self.stage, SUCCESS), success)
        storage.remove_tree(self.tmp)  # the scratch files
        clean_stale_attempts(layout, self.stage, self.attempt)
        return layout.join(self.stage)

    def abort(self) -> None:
        """Remove what this attempt wrote (a killed attempt's files go at the stage's next commit)."""
        storage.remove_tree(self.tmp)
        if self.layout.remote:
            storage.remove_tree(self.out)
            storage.remove_tree(self.rejected)


def scratch_of(out: str) -> str:
    """An attempt's scratch folder (plans, samples, sketches shared by its workers; never committed),
    from its output folder: the attempt's `.tmp/<stage>-<nonce>` locally, `<stage>/_work/<nonce>` on an
    object store."""
    if storage.is_remote(out):
        stage_url, _, nonce = out.rstrip("/").rpartition(f"/{ATTEMPTS}/")
        return f"{stage_url}/{WORK}/{nonce}"
    return os.path.dirname(out.rstrip(os.sep))


@contextlib.contextmanager
def local_folder(folder: str, upload: bool = True) -> Iterator[Path]:
    """A local folder standing for `folder`, for tools that need local paths (SentencePiece, torch):
    `folder` itself when it is local; else a temporary one whose files are uploaded to `folder` (when
    `upload`) once the block ends without an error, then removed."""
    if not storage.is_remote(folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        yield Path(folder)
        return
    with tempfile.TemporaryDirectory(prefix="curate-stage-") as tmp:
        yield Path(tmp)
        if upload:
            for entry in storage.walk_files(tmp):
                rel = os.path.relpath(entry.path, tmp).replace(os.sep, "/")
                storage.copy(entry.path, storage.join(folder, rel))


def clean_stale_attempts(layout: RunLayout, stage: str, keep: str) -> None:
    """Delete every file under a remote stage's folder (and its rejected folder) but `_SUCCESS` and the
    attempt `keep`: parts of killed attempts, the previous commit's parts, old scratch files."""
    keep_prefix = keep.rstrip("/") + "/"
    stale = []
    for folder in (layout.join(stage), layout.join("rejected", stage)):
        for entry in storage.walk_files(folder, hidden=True):
            rel = storage.relative(entry.path, folder)
            if rel != SUCCESS and not rel.startswith(keep_prefix):
                stale.append(entry.path)
    storage.remove_files(stale)


def _describe(folder: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every file an attempt wrote under `folder` (hidden names and `_SUCCESS` aside): its path relative
    to the folder, size and sha256 (a reader may check what it gets); and the digest files the writers
    left (`storage.digest_path`: on an object store the Parquet writer records size and sha256 while it
    uploads). A file without a recorded digest of its size is read back to hash it (in parallel)."""
    found = storage.walk_files(folder, hidden=True)
    digests = {e.path for e in found if _is_digest(e.path)}
    entries = [e for e in found if os.path.basename(e.path) != SUCCESS and not any(
        part.startswith(".") for part in storage.relative(e.path, folder).replace(os.sep, "/").split("/"))]

    def one(e: storage.Entry) -> dict[str, Any]:
        rel = storage.relative(e.path, folder).replace(os.sep, "/")
        sha = storage.recorded_digest(e.path, e.size, digests) if digests else None
        return {"path": rel, "size": e.size, "sha256": sha or storage.sha256(e.path)}

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sorted(pool.map(one, entries), key=lambda f: f["path"]), sorted(digests)


def _is_digest(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(storage.DIGEST_SUFFIX)


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()


def write_json(path: str | Path, data: Any) -> None:
    """A JSON file of the run, locally written atomically (temporary name, fsync, rename), on an object
    store in one PUT (an object appears whole)."""
    path = str(path)
    if storage.is_remote(path):
        storage.write_bytes(path, json_bytes(data))
    else:
        write_json_atomic(Path(path), data)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(json_bytes(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    return json.loads(storage.read_bytes(str(path)))


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def count_rows(parts: list[str] | list[Path]) -> int:
    return sum(n for _, n in file_rows(parts))


def count_reasons(parts: list[str] | list[Path]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for p in parts:
        counts.update(read_table(p, columns=["reason"]).column("reason").to_pylist())
    return dict(sorted(counts.items()))


def total_bytes(parts: list[str] | list[Path]) -> int:
    return sum(storage.size(str(p)) for p in parts)
