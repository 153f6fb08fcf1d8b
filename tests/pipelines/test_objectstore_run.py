"""`--run s3://...`: a run folder on a real S3 server (moto_server on loopback, behind the fault proxy).

The job's shards and manifest are byte-identical to the same job on local disk; `kill -9` mid-stage and
the same command again give the same bytes; parts a killed attempt left (or planted strays) are never
read, because readers take the file list from `_SUCCESS`; a missing bucket or a read-only credential
fails before anything is written, naming the URL."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.cli import main as curate
from pipelines.runlayout import RunLayout, count_rows
from tests.conftest import SAMPLE_DIR
from tests.pipelines.killing import kill_when
from tests.pipelines.s3server import upload_tree
from tests.trainer.test_cli import SETTINGS

pytestmark = pytest.mark.slow

SECRET = "never-write-this-secret-0123456789"
STAGES = ["ingest", "filter", "dedup", "dedup_lines", "tokenizer", "tokenizer_eval", "tokenize"]
INPUTS = [("web", "web/*.warc.gz", None), ("books", "books/pg11.txt", None), ("udhr", "udhr/*.jsonl", "text")]


def _job(path: Path, root: str, report: bool = False) -> Path:
    inputs = []
    for name, pattern, kind in INPUTS:
        spec = {"path": f"{root}/{pattern}", "name": name}
        if kind:
            spec["kind"] = kind
        inputs.append(spec)
    path.write_text(yaml.safe_dump({
        "inputs": inputs, "stages": STAGES, "report": report, "runner": {"workers": 1},
        "tokenizer": {"vocab_size": 1000}, "tokenize": {"val_fraction": 0.1},
    }))
    return path


def _local_shards(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "shards").iterdir()) if p.name != "_SUCCESS"}


def _bucket_shards(client, bucket: str, prefix: str) -> dict[str, bytes]:
    """The shards stage's committed files, resolved through its _SUCCESS, by file name."""
    layout = RunLayout(f"s3://{bucket}/{prefix}")
    out = {}
    for url in layout.parts("shards", "*"):
        key = url[len(f"s3://{bucket}/"):]
        out[url.rsplit("/", 1)[-1]] = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return out


def _keys(client, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    """The job on local disk, inputs and run folder: its shards and manifest."""
    tmp = tmp_path_factory.mktemp("local")
    run = tmp / "run"
    assert curate(["run", str(_job(tmp / "job.yaml", str(SAMPLE_DIR))), "--run", str(run)]) == 0
    shards = _local_shards(run)
    assert "manifest.json" in shards and any(n.startswith("train-") for n in shards)
    return shards


@pytest.fixture()
def secret_s3(s3, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return s3


def test_job_with_inputs_and_run_in_a_bucket_matches_local_disk(secret_s3, reference, tmp_path, monkeypatch,
                                                                 capsys):
    client, bucket, proxy = secret_s3
    upload_tree(client, bucket, "sample", SAMPLE_DIR)
    job = _job(tmp_path / "job.yaml", f"s3://{bucket}/sample", report=True)
    assert curate(["run", str(job), "--run", f"s3://{bucket}/runs/demo"]) == 0
    assert _bucket_shards(client, bucket, "runs/demo") == reference
    keys = _keys(client, bucket, "runs/demo/")
    # committed parts live under their attempt's prefix; nothing of an attempt's scratch is left
    assert any(k.startswith("runs/demo/filter/_attempts/") for k in keys)
    assert not [k for k in keys if "/_work/" in k or "/.tmp/" in k]
    assert "runs/demo/config.yaml" in keys and "runs/demo/shards/_SUCCESS" in keys
    assert {"runs/demo/report/index.html", "runs/demo/shards/README.md"} <= set(keys)  # the report reads the bucket
    page = client.get_object(Bucket=bucket, Key="runs/demo/report/index.html")["Body"].read().decode()
    assert "Missing" not in page and "could not read" not in page
    layout = RunLayout(f"s3://{bucket}/runs/demo")
    success = layout.read_success("filter")
    assert count_rows(layout.parts("filter")) == success["counts"]["out"]
    # the parts readers take from _SUCCESS are exactly the committed attempt's objects in the bucket
    listed = {k for k in keys if k.startswith("runs/demo/filter/_attempts/") and k.rsplit("/", 1)[-1].startswith("part-")}
    assert {p.removeprefix(f"s3://{bucket}/") for p in layout.parts("filter")} == listed
    # multipart uploads were used for nothing here (small files), but every PUT went to the proxy
    assert any(m == "PUT" for m, _, _ in proxy.faults.seen)
    for key in keys:  # no credential anywhere in the run folder
        assert SECRET.encode() not in client.get_object(Bucket=bucket, Key=key)["Body"].read(), key
    # the trainer finds the committed shards (under their attempt's prefix) through _SUCCESS
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    assert curate(["train", "--run", f"s3://{bucket}/runs/demo", "--max-steps", "2", *SETTINGS]) == 0
    assert "runs/demo/train/_SUCCESS" in _keys(client, bucket, "runs/demo/train/")
    _export_from_the_bucket(client, bucket, f"s3://{bucket}/runs/demo", tmp_path, capsys)


def _export_from_the_bucket(client, bucket: str, url: str, tmp_path: Path, capsys) -> None:
    """`curate export` reads the checkpoint and tokenizer from the bucket; to a URL (default RUN/export) it
    commits like a stage: files under export/_attempts/<nonce>/, then export/_SUCCESS listing them; the same
    bytes as an export of the same run to a local folder."""
    local = tmp_path / "hf"
    assert curate(["export", "--run", url, "--out", str(local)]) == 0
    for _ in range(2):  # the second export replaces the first whole
        assert curate(["export", "--run", url]) == 0
    prefix = url[len(f"s3://{bucket}/"):] + "/export/"
    keys = _keys(client, bucket, prefix)
    assert f"{prefix}_SUCCESS" in keys and len({k.split("/")[4] for k in keys if "/_attempts/" in k}) == 1, keys
    layout = RunLayout(url)
    files = {f["path"] for f in layout.read_success("export")["files"]}
    assert files == {p.name for p in local.iterdir()} and "model.safetensors" in files
    for name in sorted(files):
        key = layout.file("export", name)[len(f"s3://{bucket}/"):]
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == (local / name).read_bytes(), name
    info = json.loads((local / "curate_export.json").read_text())
    assert info["run"] == url and info["step"] == 2 and info["checkpoint"] == "train/checkpoints/step-00000002.pt"
    assert f"{url}/export/_attempts/" in capsys.readouterr().out
    # a --out that holds something else is refused, and left alone
    mine = prefix.replace("/export/", "/mine/")
    client.put_object(Bucket=bucket, Key=f"{mine}notes.txt", Body=b"keep")
    assert curate(["export", "--run", url, "--out", f"{url}/mine"]) == 1
    assert "is not a curate export" in capsys.readouterr().err
    assert _keys(client, bucket, mine) == [f"{mine}notes.txt"]


def test_stray_parts_are_never_read(s3, tmp_path, monkeypatch):
    """Parts of a killed attempt, or a stray part next to _SUCCESS, are not in _SUCCESS: not read.
    (The endpoint comes from the config here, and filter runs two worker processes: they inherit it.)"""
    client, bucket, proxy = s3
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    run = f"s3://{bucket}/runs/stray"
    args = ["--run", run, "--workers", "1", "--set", f"storage.endpoint_url={proxy.url}"]
    assert curate(["ingest", *args, "--input", f"udhr={SAMPLE_DIR}/udhr/*.jsonl"]) == 0
    layout = RunLayout(run)
    committed = layout.parts("ingest")
    n = count_rows(committed)
    stray = pq.read_table(io.BytesIO(client.get_object(
        Bucket=bucket, Key=committed[0][len(f"s3://{bucket}/"):])["Body"].read()))
    buf = io.BytesIO()
    pq.write_table(pa.concat_tables([stray, stray]), buf)
    for key in ("runs/stray/ingest/_attempts/dead/part-00099.parquet", "runs/stray/ingest/part-00000.parquet",
                "runs/stray/rejected/ingest/_attempts/dead/part-00000.parquet"):
        client.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    assert layout.parts("ingest") == committed and count_rows(layout.parts("ingest")) == n
    assert all("/dead/" not in p for p in layout.rejected_parts("ingest"))
    assert curate(["filter", "--run", run, "--workers", "2", "--set", f"storage.endpoint_url={proxy.url}"]) == 0
    assert RunLayout(run).read_success("filter")["counts"]["in"] == n
    # a later attempt of the stage cleans up what is not its own
    assert curate(["ingest", *args, "--input", f"udhr={SAMPLE_DIR}/udhr/*.jsonl"]) == 0
    keys = _keys(client, bucket, "runs/stray/")
    assert not [k for k in keys if "/dead/" in k or k == "runs/stray/ingest/part-00000.parquet"]
    assert count_rows(RunLayout(run).parts("ingest")) == n


def _curate(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)


def _kill_when(p: subprocess.Popen, marker: str, client, bucket: str, prefix: str) -> None:
    """Kill -9 the job once `marker` is printed and the stage has written a part under `prefix`."""
    kill_when(p, marker, lambda: any(k.endswith(".parquet") for k in _keys(client, bucket, prefix)), must_write=True)


def test_kill_9_mid_stage_then_rerun_gives_identical_shards(s3, reference, tmp_path):
    client, bucket, _ = s3
    job = _job(tmp_path / "job.yaml", str(SAMPLE_DIR))
    run = f"s3://{bucket}/runs/crashed"
    _kill_when(_curate("run", str(job), "--run", run), "[dedup] running", client, bucket,
               "runs/crashed/dedup/_attempts/")
    keys = _keys(client, bucket, "runs/crashed/")
    assert "runs/crashed/filter/_SUCCESS" in keys and "runs/crashed/dedup/_SUCCESS" not in keys
    killed = [k for k in keys if k.startswith("runs/crashed/dedup/_attempts/")]
    assert killed
    p = _curate("run", str(job), "--run", run)
    out = p.communicate(timeout=600)[0]
    assert p.returncode == 0, out
    assert "[filter] up to date, skipped" in out and "[dedup] running" in out
    assert _bucket_shards(client, bucket, "runs/crashed") == reference
    after = _keys(client, bucket, "runs/crashed/")
    assert not set(killed) & set(after)  # the killed attempt's parts were cleaned up
    assert not [k for k in after if "/_work/" in k]


def test_missing_bucket_fails_fast_naming_it(s3, tmp_path, capsys):
    client, bucket, _ = s3
    job = _job(tmp_path / "job.yaml", str(SAMPLE_DIR))
    before = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert curate(["run", str(job), "--run", "s3://no-such-bucket-for-curate/runs/x"]) == 1
    err = capsys.readouterr().err
    assert "s3://no-such-bucket-for-curate" in err and "does not exist" in err, err
    assert curate(["ingest", "--run", "s3://no-such-bucket-for-curate/runs/x", "--input",
                   f"udhr={SAMPLE_DIR}/udhr/*.jsonl"]) == 1
    assert "s3://no-such-bucket-for-curate" in capsys.readouterr().err
    for command in ("filter", "report"):  # not "run `curate ingest` first": the bucket is the problem
        assert curate([command, "--run", "s3://no-such-bucket-for-curate/runs/x"]) != 0
        assert "s3://no-such-bucket-for-curate: FileNotFoundError" in capsys.readouterr().err
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == before


def test_read_only_credential_fails_fast_naming_the_url(s3, tmp_path, monkeypatch, capsys):
    client, bucket, proxy = s3
    proxy.faults.readonly_keys.add("readonly-key")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "readonly-key")
    job = _job(tmp_path / "job.yaml", str(SAMPLE_DIR))
    run = f"s3://{bucket}/runs/ro"
    start = time.monotonic()
    assert curate(["run", str(job), "--run", run]) == 1
    err = capsys.readouterr().err
    assert run in err and ("AccessDenied" in err or "Access Denied" in err), err
    assert curate(["ingest", "--run", run, "--input", f"udhr={SAMPLE_DIR}/udhr/*.jsonl"]) == 1
    assert run in capsys.readouterr().err
    assert time.monotonic() - start < 30  # no retries of a permanent error
    assert _keys(client, bucket, "runs/") == []
