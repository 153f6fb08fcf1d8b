"""pipelines.storage against a real S3 server (moto_server on loopback) behind a fault-injecting proxy."""

from __future__ import annotations

import random

import pytest

from pipelines import storage
from pipelines.storage import StorageConfig, StorageError


def test_paths_and_urls():
    assert storage.glob_base("s3://b/crawl/*/x.warc.gz") == "s3://b/crawl"
    assert storage.glob_base("s3://b/crawl/a.warc.gz") == "s3://b/crawl"
    assert storage.relative("s3://b/crawl/2024/a.warc.gz", "s3://b/crawl") == "2024/a.warc.gz"
    assert storage.join("s3://commoncrawl/", "crawl-data/a.warc.gz") == "s3://commoncrawl/crawl-data/a.warc.gz"
    assert storage.glob_base("data/web/*.warc.gz") == "data/web"
    assert storage.redact("https://user:pw@host/a?X-Amz-Signature=zz") == "https://host/a"
    with pytest.raises(ValueError, match="credentials in a URL"):
        storage.check_url("https://user:pw@host/a.warc.gz")
    assert not storage.is_remote("/tmp/x") and storage.is_remote("gs://b/x")


def test_backoff_is_capped_exponential_with_jitter():
    cfg = StorageConfig(backoff_initial_s=1.0, backoff_max_s=8.0)
    rng = random.Random(0)
    for attempt in range(8):
        delays = [storage.backoff_delay(attempt, cfg, rng) for _ in range(200)]
        cap = min(8.0, 2.0 ** attempt)
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # full jitter spreads over the whole range


def test_list_exists_size_and_streamed_read(s3):
    client, bucket, proxy = s3
    for key in ["crawl/b.warc.gz", "crawl/a.warc.gz", "crawl/sub/c.warc.gz", "other/x.txt"]:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode() * 10)
    root = f"s3://{bucket}"
    assert storage.glob(f"{root}/crawl/*.warc.gz") == [f"{root}/crawl/a.warc.gz", f"{root}/crawl/b.warc.gz"]
    assert storage.glob(f"{root}/crawl/**/*.warc.gz")[-1] == f"{root}/crawl/sub/c.warc.gz"
    assert [e.path for e in storage.walk_files(f"{root}/crawl")] == [
        f"{root}/crawl/a.warc.gz", f"{root}/crawl/b.warc.gz", f"{root}/crawl/sub/c.warc.gz"]
    assert storage.exists(f"{root}/other/x.txt") and not storage.exists(f"{root}/other/y.txt")
    assert storage.size(f"{root}/other/x.txt") == len(b"other/x.txt" * 10)
    with storage.open_read(f"{root}/other/x.txt") as f:
        assert f.read(5) == b"other"
        f.seek(0)
        assert f.read() == b"other/x.txt" * 10


def test_slowdown_and_dropped_connections_are_retried(s3):
    client, bucket, proxy = s3
    body = bytes(range(256)) * 4096  # 1 MiB
    client.put_object(Bucket=bucket, Key="big.bin", Body=body)
    proxy.faults.slowdown["/big.bin"] = 2
    proxy.faults.cut["/big.bin"] = 2
    storage.configure(StorageConfig(backoff_initial_s=0.01, backoff_max_s=0.05, block_size=256 * 1024))
    assert storage.read_bytes(f"s3://{bucket}/big.bin") == body
    statuses = [s for m, p, s in proxy.faults.seen if p.endswith("/big.bin")]
    assert statuses.count(503) == 2
    gets = [s for m, p, s in proxy.faults.seen if p.endswith("/big.bin") and m == "GET"]
    assert proxy.faults.cut["/big.bin"] == 0 and proxy.faults.slowdown["/big.bin"] == 0
    assert len(gets) >= 2 + 4  # the two cut ones, then every block


def test_retries_stop_at_the_limit_with_the_url(s3):
    client, bucket, proxy = s3
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"x" * 100)
    proxy.faults.slowdown["/a.txt"] = 100
    storage.configure(StorageConfig(max_retries=3, backoff_initial_s=0.01, backoff_max_s=0.02))
    with pytest.raises(StorageError) as e:
        storage.read_bytes(f"s3://{bucket}/a.txt")
    assert f"s3://{bucket}/a.txt" in str(e.value) and "after 4 attempts" in str(e.value)
    assert len([1 for _, p, s in proxy.faults.seen if p.endswith("/a.txt") and s == 503]) == 4


def test_missing_bucket_and_denied_credentials_fail_fast(s3, monkeypatch):
    client, bucket, proxy = s3
    with pytest.raises(StorageError, match="s3://no-such-bucket-here.*bucket does not exist"):
        storage.glob("s3://no-such-bucket-here/crawl/*.warc.gz")
    proxy.faults.denied_keys.add("reader-without-rights")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "reader-without-rights")
    with pytest.raises(StorageError, match=f"s3://{bucket}.*(Access Denied|AccessDenied)") as e:
        storage.glob(f"s3://{bucket}/*.txt")
    assert isinstance(e.value.cause, PermissionError)
    assert len([1 for _, _, s in proxy.faults.seen if s == 403]) == 1  # not retried
