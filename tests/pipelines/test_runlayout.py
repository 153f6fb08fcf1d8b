from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipelines.runlayout import RunLayout, StageMissingError


def test_commit_is_atomic_and_replaces_the_old_stage(tmp_path):
    layout = RunLayout(tmp_path / "run")
    c = layout.begin("ingest")
    Path(c.out, "part-00000.parquet").write_text("new")
    Path(c.rejected, "part-00000.parquet").write_text("rej")
    assert not layout.is_complete("ingest")
    with pytest.raises(StageMissingError, match="curate ingest"):
        layout.parts("ingest")
    c.commit({"counts": {"out": 1}})
    assert layout.is_complete("ingest")
    assert layout.read_success("ingest")["counts"] == {"out": 1}
    assert layout.parts("ingest") == [str(tmp_path / "run" / "ingest" / "part-00000.parquet")]
    assert layout.rejected_parts("ingest") == [str(tmp_path / "run" / "rejected" / "ingest" / "part-00000.parquet")]
    files = layout.read_success("ingest")["files"]
    assert files == [{"path": "part-00000.parquet", "size": 3, "sha256": hashlib.sha256(b"new").hexdigest()}]
    c2 = layout.begin("ingest")
    Path(c2.out, "part-00001.parquet").write_text("newer")
    c2.commit({"counts": {"out": 2}})
    assert [Path(p).name for p in layout.parts("ingest")] == ["part-00001.parquet"]
    assert layout.rejected_parts("ingest") == []
    assert list((tmp_path / "run" / ".tmp").iterdir()) == []


def test_abort_leaves_nothing(tmp_path):
    layout = RunLayout(tmp_path / "run")
    c = layout.begin("filter")
    Path(c.out, "x.parquet").write_text("half")
    c.abort()
    assert not layout.stage_dir("filter").exists()
    assert list((tmp_path / "run" / ".tmp").iterdir()) == []


def test_latest_documents_stage(tmp_path):
    layout = RunLayout(tmp_path / "run")
    with pytest.raises(StageMissingError):
        layout.latest_documents_stage()
    for stage in ("ingest", "filter"):
        layout.begin(stage).commit({})
    assert layout.latest_documents_stage() == "filter"
    assert layout.latest_documents_stage(before="filter") == "ingest"
    assert layout.latest_documents_stage(before="dedup") == "filter"
