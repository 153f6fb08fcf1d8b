"""The run folder: where each stage writes, and how it commits atomically.

    RUN/
      <stage>/part-*.parquet, _SUCCESS      (a stage is complete iff _SUCCESS exists)
      rejected/<stage>/part-*.parquet       (every dropped record with its reason)
      .tmp/<stage>-<nonce>/{out,rejected}   (work in progress, never read)

A stage writes into `.tmp`, then moves `rejected/` and `out/` into place; `_SUCCESS` is written inside
`out/` before the rename, so the stage folder appears complete in one atomic rename.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.stages import document_folders

SUCCESS = "_SUCCESS"


class StageMissingError(RuntimeError):
    """A stage needs an input stage that has not completed."""


class RunLayout:
    def __init__(self, root: str | os.PathLike[str], job_fingerprints: Mapping[str, str] | None = None):
        self.root = Path(root)
        # Given by `curate run`, keyed by stage folder: the fingerprint of each stage's config and
        # upstream, stored in its _SUCCESS so that a later run can skip the stage when nothing it
        # depends on changed.
        self.job_fingerprints: dict[str, str] = dict(job_fingerprints or {})

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def rejected_dir(self, stage: str) -> Path:
        return self.root / "rejected" / stage

    def success_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / SUCCESS

    def is_complete(self, stage: str) -> bool:
        return self.success_path(stage).is_file()

    def read_success(self, stage: str) -> dict[str, Any]:
        if not self.is_complete(stage):
            raise StageMissingError(f"stage '{stage}' has not completed in {self.root} (no {SUCCESS})")
        return json.loads(self.success_path(stage).read_text())

    def parts(self, stage: str, pattern: str = "part-*.parquet") -> list[Path]:
        """The data files of a completed stage, sorted."""
        if not self.is_complete(stage):
            raise StageMissingError(
                f"stage '{stage}' has not completed in {self.root}: run `curate {stage} --run {self.root}` first"
            )
        return sorted(self.stage_dir(stage).glob(pattern))

    def rejected_parts(self, stage: str) -> list[Path]:
        return sorted(self.rejected_dir(stage).glob("part-*.parquet"))

    def latest_documents_stage(self, before: str | None = None) -> str:
        """The latest completed documents stage (the registry's documents stages, latest first: dedup,
        filter, ingest), optionally only those before the stage folder `before`."""
        candidates = list(reversed(document_folders()))
        if before in candidates:
            candidates = candidates[candidates.index(before) + 1 :]
        for stage in candidates:
            if self.is_complete(stage):
                return stage
        raise StageMissingError(
            f"no completed documents stage among {candidates} in {self.root}: run `curate ingest` first"
        )

    def begin(self, stage: str) -> StageCommit:
        return StageCommit(self, stage)


class StageCommit:
    """Temporary folders for one stage attempt; `commit` moves them into place."""

    def __init__(self, layout: RunLayout, stage: str):
        self.layout = layout
        self.stage = stage
        self.tmp = layout.root / ".tmp" / f"{stage}-{uuid.uuid4().hex[:12]}"
        self.out = self.tmp / "out"
        self.rejected = self.tmp / "rejected"
        self.out.mkdir(parents=True)
        self.rejected.mkdir(parents=True)

    def commit(self, success: dict[str, Any]) -> Path:
        job_fp = self.layout.job_fingerprints.get(self.stage)
        if job_fp is not None:
            success = {**success, "job_fingerprint": job_fp}
        write_json_atomic(self.out / SUCCESS, success)
        final = self.layout.stage_dir(self.stage)
        final_rejected = self.layout.rejected_dir(self.stage)
        trash = self.tmp / "trash"
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
        os.replace(self.out, final)
        fsync_dir(final.parent)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def count_rows(parts: list[Path]) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


def count_reasons(parts: list[Path]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for p in parts:
        counts.update(pq.read_table(p, columns=["reason"]).column("reason").to_pylist())
    return dict(sorted(counts.items()))


def total_bytes(parts: list[Path]) -> int:
    return sum(p.stat().st_size for p in parts)
