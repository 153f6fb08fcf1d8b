"""The service's confinement of what a job reads: local folders, object-store prefixes, path lists."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from service.jobspec import PathNotAllowed, validate_job, within
from tests.pipelines.conftest import moto, s3  # noqa: F401 (fixtures: a real S3 server on loopback)

SAMPLE_WARC = sorted((Path(__file__).resolve().parents[2] / "examples" / "sample" / "web").glob("*.warc.gz"))[0]


def test_url_roots_match_by_prefix_and_refuse_dot_segments():
    roots = ["/data", "s3://corpus/crawl/"]
    assert within("s3://corpus/crawl/a.warc.gz", roots)
    assert within("s3://corpus/crawl/2024/*.warc.gz", roots)
    assert not within("s3://corpus/crawler/a.warc.gz", roots)  # a prefix of the name is not a folder
    assert not within("s3://corpus/crawl/../secret/a.warc.gz", roots)
    assert not within("s3://corpus/crawl/./a.warc.gz", roots)
    assert not within("s3://other/crawl/a.warc.gz", roots)
    assert not within("https://corpus/crawl/a.warc.gz", roots)
    assert not within("/data/x", ["s3://corpus/"])  # a URL root allows no local path


def test_every_path_list_entry_is_read_inside_the_roots(tmp_path):
    root = tmp_path / "root"
    (root / "crawl").mkdir(parents=True)
    shutil.copy(SAMPLE_WARC, root / "crawl" / "a.warc.gz")
    (tmp_path / "outside.warc.gz").write_bytes(SAMPLE_WARC.read_bytes())
    good = root / "good.paths.gz"
    good.write_bytes(gzip.compress(b"crawl/a.warc.gz\n"))
    job = f"inputs: [{{path_list: {good}, base: {root}/}}]\n"
    config = validate_job(job, str(root), [str(root)])
    assert config.inputs[0].path_list == str(good)
    escape = root / "escape.paths.gz"
    escape.write_bytes(gzip.compress(b"crawl/a.warc.gz\n../outside.warc.gz\n"))
    with pytest.raises(PathNotAllowed, match=r"entry '\.\./outside\.warc\.gz' .* outside the data roots"):
        validate_job(f"inputs: [{{path_list: {escape}, base: {root}/}}]\n", str(root), [str(root)])
    (tmp_path / "list.paths.gz").write_bytes(good.read_bytes())
    with pytest.raises(PathNotAllowed, match="path_list: .* outside the data roots"):
        validate_job(f"inputs: [{{path_list: {tmp_path / 'list.paths.gz'}, base: {root}/}}]\n", str(root),
                     [str(root)])


def test_bucket_inputs_need_a_bucket_root(s3, tmp_path):  # noqa: F811
    client, bucket, _proxy = s3
    client.put_object(Bucket=bucket, Key="crawl/a.warc.gz", Body=SAMPLE_WARC.read_bytes())
    job = f"inputs: [{{path: 's3://{bucket}/crawl/*.warc.gz', name: web}}]\n"
    config = validate_job(job, str(tmp_path), [str(tmp_path), f"s3://{bucket}/crawl/"])
    assert config.inputs[0].path == f"s3://{bucket}/crawl/*.warc.gz"
    with pytest.raises(PathNotAllowed, match=f"'s3://{bucket}/crawl/\\*.warc.gz' is outside the data roots"):
        validate_job(job, str(tmp_path), [str(tmp_path)])
    with pytest.raises(PathNotAllowed, match="outside the data roots"):
        validate_job(job, str(tmp_path), [str(tmp_path), f"s3://{bucket}/other/"])
