from __future__ import annotations

import pytest

from pipelines.runlayout import RunLayout, StageMissingError


def test_commit_is_atomic_and_replaces_the_old_stage(tmp_path):
    layout = RunLayout(tmp_path / "run")
    c = layout.begin("ingest")
    (c.out / "part-00000.parquet").write_text("new")
    (c.rejected / "part-00000.parquet").write_text("rej")
    assert not layout.is_complete("ingest")
    with pytest.raises(StageMissingError, match="curate ingest"):
        layout.parts("ingest")
    c.commit({"counts": {"out": 1}})
    assert layout.is_complete("ingest")
    assert layout.read_success("ingest")["counts"] == {"out": 1}
    assert [p.name for p in layout.parts("ingest")] == ["part-00000.parquet"]
    c2 = layout.begin("ingest")
    (c2.out / "part-00001.parquet").write_text("newer")
    c2.commit({"counts": {"out": 2}})
    assert [p.name for p in layout.parts("ingest")] == ["part-00001.parquet"]
    assert layout.rejected_parts("ingest") == []
    assert list((tmp_path / "run" / ".tmp").iterdir()) == []


def test_abort_leaves_nothing(tmp_path):
    layout = RunLayout(tmp_path / "run")
    c = layout.begin("filter")
    (c.out / "x.parquet").write_text("half")
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
