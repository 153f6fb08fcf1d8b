"""`curate ingest` with inputs in a real S3 server (moto_server on loopback, behind a fault proxy) and on
a loopback HTTP server: same documents and ids as from local disk, faults retried or rejected."""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.cli import main as curate
from tests.pipelines.io.warcfixtures import html_page, write_warc
from tests.pipelines.s3server import upload_tree

SECRET = "never-write-this-secret-0123456789"


@pytest.fixture()
def secret_env(s3, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return s3


@pytest.fixture()
def http_root(tmp_path):
    """A plain http:// server on loopback serving tmp_path/www (https would need a certificate the
    client trusts: the same fsspec HTTP file system reads both)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _rows(run: Path, folder: str = "ingest") -> list[dict]:
    rows = []
    for p in sorted((run / folder).glob("*.parquet")):
        rows.extend(pq.read_table(p).to_pylist())
    return rows


def _bytes(run: Path) -> dict[str, bytes]:
    files = sorted(run.glob("ingest/*.parquet")) + sorted(run.glob("rejected/ingest/*.parquet"))
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def _run_text(run: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in run.rglob("*")
                     if p.is_file() and p.suffix in ("", ".json", ".yaml", ".txt", ".log", ".html"))


def test_demo_sample_from_s3_matches_local(secret_env, sample_dir, tmp_path, capsys):
    client, bucket, proxy = secret_env
    upload_tree(client, bucket, "sample", sample_dir)
    local, remote = tmp_path / "local", tmp_path / "remote"
    inputs = [("web", "web/*.warc.gz"), ("books", "books/*.txt"), ("udhr", "udhr/*.jsonl")]

    def args(root: str) -> list[str]:
        out = []
        for name, pattern in inputs:
            out += ["--input", f"{name}={root}/{pattern}"]
        return out

    assert curate(["ingest", "--run", str(local), "--workers", "1", *args(str(sample_dir))]) == 0
    assert curate(["ingest", "--run", str(remote), "--workers", "1", *args(f"s3://{bucket}/sample")]) == 0
    a, b = _rows(local), _rows(remote)
    assert len(a) > 50
    # Same ids (from paths relative to each input's folder), texts and metadata; only `source` names
    # where each file was read from.
    assert [{**r, "source": None} for r in a] == [{**r, "source": None} for r in b]
    assert {r["source"].split("/sample/")[1] for r in b} == {str(Path(r["source"]).relative_to(sample_dir))
                                                               for r in a}
    assert all(r["source"].startswith(f"s3://{bucket}/sample/") for r in b)
    out = capsys.readouterr()
    assert SECRET not in _run_text(remote) + out.out + out.err


def _paths_list(path: Path, names: list[str]) -> Path:
    with gzip.open(path, "wt") as f:
        f.write("".join(f"{n}\n" for n in names))
    return path


@pytest.fixture()
def crawl(tmp_path) -> tuple[Path, list[str]]:
    """A small Common Crawl-like mirror: crawl-data/.../warc/*.warc.gz and its warc.paths.gz."""
    root = tmp_path / "mirror"
    names = []
    for i in (3, 1, 2):  # list order is not sorted order
        rel = f"crawl-data/CC-TEST/segments/{i}/warc/CC-TEST-{i:05d}.warc.gz"
        (root / rel).parent.mkdir(parents=True)
        write_warc(root / rel, [
            (f"https://e.org/{i}/a", html_page(f"Page {i}", f"Whales and ships number {i} in a long story."),
             "text/html"),
            (f"https://e.org/{i}/b", html_page(f"Other {i}", f"The sea is deep and wide, part {i}."), "text/html"),
        ])
        names.append(rel)
    return root, names


def test_path_list_against_bucket_http_and_local_mirror_is_byte_identical(s3, crawl, http_root, tmp_path):
    client, bucket, proxy = s3
    root, names = crawl
    upload_tree(client, bucket, "cc", root)
    www, http_url = http_root
    import shutil

    shutil.copytree(root, www / "cc")
    paths = _paths_list(tmp_path / "warc.paths.gz", names)
    client.upload_file(str(paths), bucket, "lists/warc.paths.gz")
    runs = {}
    for label, lst, base in [
        ("local", str(paths), f"{root}/"),
        ("s3", f"s3://{bucket}/lists/warc.paths.gz", f"s3://{bucket}/cc/"),
        ("http", str(paths), f"{http_url}/cc/"),
    ]:
        run = tmp_path / f"run-{label}"
        assert curate(["ingest", "--run", str(run), "--workers", "1",
                       "--input-list", f"web={lst}", "--input-base", base]) == 0, label
        runs[label] = _bytes(run)
        rows = _rows(run)
        assert len(rows) == 6
        assert {r["source"] for r in rows} == set(names)  # named by the listed path
    assert runs["s3"] == runs["local"] and runs["http"] == runs["local"]
    success = json.loads((tmp_path / "run-s3" / "ingest" / "_SUCCESS").read_text())
    assert success["counts"]["out"] == 6


def test_https_style_single_file_has_the_local_ids(crawl, http_root, tmp_path):
    root, names = crawl
    www, http_url = http_root
    (www / "one.warc.gz").write_bytes((root / names[0]).read_bytes())
    local_file = tmp_path / "one.warc.gz"
    local_file.write_bytes((root / names[0]).read_bytes())
    assert curate(["ingest", "--run", str(tmp_path / "a"), "--workers", "1", "--input", f"web={local_file}"]) == 0
    assert curate(["ingest", "--run", str(tmp_path / "b"), "--workers", "1",
                   "--input", f"web={http_url}/one.warc.gz"]) == 0
    ids = lambda run: [(r["id"], r["text"]) for r in _rows(run)]  # noqa: E731
    assert ids(tmp_path / "a") == ids(tmp_path / "b") and len(ids(tmp_path / "a")) == 2


def test_faults_are_retried_and_a_missing_object_is_rejected_with_its_url(secret_env, crawl, tmp_path, capsys):
    client, bucket, proxy = secret_env
    root, names = crawl
    upload_tree(client, bucket, "cc", root)
    proxy.faults.slowdown[names[0]] = 2  # 503 SlowDown twice, then fine
    proxy.faults.cut[names[1]] = 1  # the connection drops half-way through the object once
    proxy.faults.missing.add(names[2])  # listed, then gone for good
    run = tmp_path / "run"
    assert curate(["ingest", "--run", str(run), "--workers", "1",
                   "--set", "storage.backoff_initial_s=0.01",
                   "--input", f"web=s3://{bucket}/cc/crawl-data/**/*.warc.gz"]) == 0
    rows = _rows(run)
    assert sorted(r["source"].split("/segments/")[1][0] for r in rows) == ["1", "1", "3", "3"]
    rejected = _rows(run, "rejected/ingest")
    assert [(r["reason"], r["source"]) for r in rejected] == [("unreadable_file", f"s3://{bucket}/cc/{names[2]}")]
    assert f"s3://{bucket}/cc/{names[2]}" in rejected[0]["snippet"]
    assert "NoSuchKey" in rejected[0]["snippet"] or "FileNotFound" in rejected[0]["snippet"]
    statuses = [s for _, p, s in proxy.faults.seen]
    assert statuses.count(503) == 2
    out = capsys.readouterr()
    assert SECRET not in json.dumps(rejected) + _run_text(run) + out.out + out.err


def test_missing_bucket_and_denied_credential_fail_fast_naming_the_url(s3, tmp_path, capsys, monkeypatch):
    client, bucket, proxy = s3
    run = tmp_path / "run"
    assert curate(["ingest", "--run", str(run), "--input", "s3://no-such-bucket-xyz/crawl/*.warc.gz"]) == 2
    err = capsys.readouterr().err
    assert "s3://no-such-bucket-xyz" in err and "bucket does not exist" in err
    client.put_object(Bucket=bucket, Key="a.jsonl", Body=b'{"text": "hello"}\n')
    proxy.faults.denied_keys.add("no-rights")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "no-rights")
    assert curate(["ingest", "--run", str(run), "--input", f"s3://{bucket}/*.jsonl"]) == 2
    err = capsys.readouterr().err
    assert f"s3://{bucket}" in err and "no-rights" not in err
    assert not run.exists()
    assert curate(["ingest", "--run", str(run), "--input", "https://u:p@example.org/a.warc.gz"]) == 2
    assert "credentials in a URL" in capsys.readouterr().err


def test_truncated_remote_gzip_is_truncated_file_as_locally(s3, crawl, tmp_path):
    client, bucket, proxy = s3
    root, names = crawl
    whole = (root / names[0]).read_bytes()
    cut = tmp_path / "local" / "cut.warc.gz"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    client.upload_file(str(cut), bucket, "cut/cut.warc.gz")
    results = {}
    for label, path in [("local", str(cut)), ("s3", f"s3://{bucket}/cut/cut.warc.gz")]:
        run = tmp_path / label
        assert curate(["ingest", "--run", str(run), "--workers", "1", "--input", f"web={path}"]) == 0
        results[label] = ([r["id"] for r in _rows(run)],
                          [(r["id"], r["reason"], r["location"]) for r in _rows(run, "rejected/ingest")])
    assert results["s3"] == results["local"]
    assert [reason for _, reason, _ in results["local"][1]] == ["truncated_file"]
    assert len(results["local"][0]) >= 1


def test_curate_run_job_file_with_a_path_list_in_the_bucket(s3, crawl, tmp_path):
    client, bucket, proxy = s3
    root, names = crawl
    upload_tree(client, bucket, "cc", root)
    client.upload_file(str(_paths_list(tmp_path / "warc.paths.gz", names)), bucket, "lists/warc.paths.gz")
    job = tmp_path / "job.yaml"
    job.write_text(
        f"inputs:\n  - {{path_list: s3://{bucket}/lists/warc.paths.gz, base: s3://{bucket}/cc/, name: web}}\n"
        "stages: [ingest]\nreport: false\nrunner: {workers: 1}\nstorage: {max_retries: 3}\n"
    )
    run = tmp_path / "run"
    assert curate(["run", str(job), "--run", str(run)]) == 0
    assert [r["source"] for r in _rows(run)] and {r["source"] for r in _rows(run)} == set(names)
    success = json.loads((run / "ingest" / "_SUCCESS").read_text())
    assert success["config"]["inputs"][0]["path_list"] == f"s3://{bucket}/lists/warc.paths.gz"


def test_http_stream_resumes_after_a_dropped_connection(crawl, http_root, tmp_path):
    from tests.pipelines.s3server import FaultProxy

    root, names = crawl
    www, http_url = http_root
    (www / "one.warc.gz").write_bytes((root / names[0]).read_bytes())
    proxy = FaultProxy(int(http_url.rsplit(":", 1)[1]))
    try:
        proxy.faults.cut["/one.warc.gz"] = 1
        proxy.faults.slowdown["/one.warc.gz"] = 1
        assert curate(["ingest", "--run", str(tmp_path / "a"), "--workers", "1",
                       "--set", "storage.backoff_initial_s=0.01", "--input", f"web={proxy.url}/one.warc.gz"]) == 0
        assert len(_rows(tmp_path / "a")) == 2 and not _rows(tmp_path / "a", "rejected/ingest")
        assert proxy.faults.cut["/one.warc.gz"] == 0 and proxy.faults.slowdown["/one.warc.gz"] == 0
    finally:
        proxy.stop()


def test_relative_path_list_and_mirror_in_a_job_file(crawl, tmp_path, monkeypatch):
    root, names = crawl
    _paths_list(root.parent / "warc.paths.gz", names)
    job = root.parent / "job.yaml"
    job.write_text("inputs:\n  - {path_list: warc.paths.gz, base: mirror/, name: web}\n"
                   "stages: [ingest]\nreport: false\nrunner: {workers: 1}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert curate(["run", str(job), "--run", str(tmp_path / "run")]) == 0
    assert [r["source"] for r in _rows(tmp_path / "run")] and {r["source"] for r in _rows(tmp_path / "run")} == set(names)
