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


def _keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_commit_on_an_object_store_writes_success_last_and_cleans_up(s3):
    """No rename on a bucket: parts go under the attempt's prefix, _SUCCESS lists them, the next commit
    deletes what its _SUCCESS does not list; an aborted attempt leaves nothing."""
    from pipelines import storage

    client, bucket, _ = s3
    layout = RunLayout(f"s3://{bucket}/run")
    assert layout.root == layout.url == f"s3://{bucket}/run"
    c = layout.begin("ingest")
    assert c.out == f"s3://{bucket}/run/ingest/_attempts/{c.nonce}"
    storage.write_bytes(storage.join(c.out, "part-00000.parquet"), b"new")
    storage.write_bytes(storage.join(c.rejected, "part-00000.parquet"), b"rej")
    assert not layout.is_complete("ingest")
    c.commit({"counts": {"out": 1}})
    success = layout.read_success("ingest")
    assert success["attempt"] == f"_attempts/{c.nonce}"
    assert success["files"] == [{"path": "part-00000.parquet", "size": 3,
                                 "sha256": hashlib.sha256(b"new").hexdigest()}]
    assert layout.parts("ingest") == [f"{c.out}/part-00000.parquet"]
    assert layout.rejected_parts("ingest") == [f"{c.rejected}/part-00000.parquet"]
    assert layout.file("ingest", "part-00000.parquet") == f"{c.out}/part-00000.parquet"
    first = _keys(client, bucket)
    assert not [k for k in first if "/_work/" in k]

    killed = layout.begin("ingest")  # a killed attempt: its files stay until the next commit
    storage.write_bytes(storage.join(killed.out, "part-00000.parquet"), b"half")
    c2 = layout.begin("ingest")
    storage.write_bytes(storage.join(c2.out, "part-00001.parquet"), b"newer")
    c2.commit({"counts": {"out": 2}})
    assert [p.rsplit("/", 1)[-1] for p in layout.parts("ingest")] == ["part-00001.parquet"]
    assert layout.rejected_parts("ingest") == []
    assert _keys(client, bucket) == ["run/ingest/_SUCCESS", f"run/ingest/_attempts/{c2.nonce}/part-00001.parquet"]

    aborted = layout.begin("filter")
    storage.write_bytes(storage.join(aborted.out, "part-00000.parquet"), b"x")
    aborted.abort()
    assert not [k for k in _keys(client, bucket) if k.startswith("run/filter")]


def test_commit_on_an_object_store_takes_the_digests_the_writer_recorded(s3):
    """The Parquet writer hashes what it uploads and leaves size and sha256 beside the part: the commit
    lists the same sha256 without reading the part back, and removes the digest files; a digest whose
    size no longer matches the part is not trusted (the part is hashed)."""
    import pyarrow as pa

    from pipelines import storage
    from pipelines.io.parquet import write_table

    client, bucket, proxy = s3
    layout = RunLayout(f"s3://{bucket}/run")
    c = layout.begin("ingest")
    table = pa.table({"id": [f"{i:05d}" for i in range(2000)]})
    write_table(table, table.schema, storage.join(c.out, "part-00000.parquet"))
    write_table(table, table.schema, storage.join(c.rejected, "part-00000.parquet"))
    storage.write_bytes(storage.join(c.out, "part-00001.parquet"), b"unrecorded")
    storage.write_bytes(storage.digest_path(storage.join(c.out, "part-00001.parquet")),
                        b'{"sha256": "0000", "size": 3}')  # stale: another size
    assert storage.exists(storage.digest_path(storage.join(c.out, "part-00000.parquet")))
    proxy.faults.seen.clear()
    c.commit({})
    gets = [p for m, p, _ in proxy.faults.seen if m == "GET" and p.endswith(".parquet")]
    assert gets == [f"/{bucket}/run/ingest/_attempts/{c.nonce}/part-00001.parquet"]  # only the unrecorded one
    success = layout.read_success("ingest")
    for listed in (*success["files"], *success["rejected_files"]):
        folder = c.out if listed in success["files"] else c.rejected
        assert listed["sha256"] == hashlib.sha256(storage.read_bytes(storage.join(folder, listed["path"]))).hexdigest()
    assert [f["path"] for f in success["files"]] == ["part-00000.parquet", "part-00001.parquet"]
    assert not [k for k in _keys(client, bucket) if k.endswith(storage.DIGEST_SUFFIX)]
