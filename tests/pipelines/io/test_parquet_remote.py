"""The one Parquet writer on an object store (moto_server on loopback): the same bytes as on disk, in
multipart uploads of `storage.part_size`, and nothing at all when the write fails."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from pipelines import storage
from pipelines.io.parquet import AtomicParquetWriter, read_table, write_table
from pipelines.storage import StorageConfig

SCHEMA = pa.schema([pa.field("id", pa.string()), pa.field("blob", pa.binary())])


def _table(n: int, size: int) -> pa.Table:
    return pa.table({"id": [f"{i:06d}" for i in range(n)], "blob": [os.urandom(size) for _ in range(n)]},
                    schema=SCHEMA)


def test_remote_file_is_byte_identical_to_local(s3, tmp_path):
    client, bucket, _ = s3
    table = _table(3000, 100)
    write_table(table, SCHEMA, tmp_path / "part-00000.parquet")
    url = f"s3://{bucket}/run/part-00000.parquet"
    write_table(table, SCHEMA, url)
    assert storage.read_bytes(url) == (tmp_path / "part-00000.parquet").read_bytes()
    assert read_table(url).equals(table)


def test_large_file_goes_up_in_parts_of_part_size(s3):
    client, bucket, proxy = s3
    storage.configure(StorageConfig(part_size=storage.MIN_PART_SIZE, backoff_initial_s=0.01))
    url = f"s3://{bucket}/run/big.parquet"
    table = _table(120, 100_000)  # 12 MB of random bytes: three parts
    with AtomicParquetWriter(url, SCHEMA, row_group_size=40) as w:
        for i in range(0, 120, 40):
            w.write(table.slice(i, 40))
    assert read_table(url).equals(table)
    parts = [p for m, p, s in proxy.faults.seen if m == "PUT" and p.endswith("/run/big.parquet")]
    assert len(parts) >= 2  # UploadPart requests (PUT ?partNumber=...), not one PutObject


def test_a_failed_part_upload_is_retried_and_the_file_is_complete(s3):
    """A 503 SlowDown and a dropped connection on UploadPart requests: each part is sent again (the
    layer's backoff), the object is whole, and no upload is left open."""
    client, bucket, proxy = s3
    storage.configure(StorageConfig(part_size=storage.MIN_PART_SIZE, backoff_initial_s=0.01))
    url = f"s3://{bucket}/run/flaky.parquet"
    proxy.faults.part_faults["/run/flaky.parquet"] = ["503", "drop", "503"]
    table = _table(120, 100_000)  # 12 MB: three parts
    write_table(table, SCHEMA, url)
    assert read_table(url).equals(table)
    assert proxy.faults.part_faults["/run/flaky.parquet"] == []  # every fault was met
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_failed_write_leaves_no_object_and_no_upload(s3):
    client, bucket, _ = s3
    storage.configure(StorageConfig(part_size=storage.MIN_PART_SIZE, backoff_initial_s=0.01))
    url = f"s3://{bucket}/run/broken.parquet"
    table = _table(40, 200_000)  # 8 MB: the first part is uploaded before the failure
    with pytest.raises(RuntimeError, match="worker died"), AtomicParquetWriter(url, SCHEMA, row_group_size=20) as w:
        w.write(table.slice(0, 20))
        w.write(table.slice(20, 20))
        raise RuntimeError("worker died")
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="run/")
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_part_size_is_validated():
    with pytest.raises(ValueError, match="part_size"):
        StorageConfig(part_size=1024 * 1024).validate()
    StorageConfig(part_size=storage.MIN_PART_SIZE).validate()
