"""`curate train --run s3://...` against a real S3 server (moto_server on loopback, behind the proxy that
records every request): the shards are streamed from the bucket into a local cache, verified against the
manifest, and the outputs land in RUN/train/ in the bucket."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.pipelines.s3server import upload_tree
from tests.trainer.test_cli import SETTINGS, _make_run

pytest.importorskip("sentencepiece")

STEPS = ["--max-steps", "4", "--set", "train.checkpoint_interval=2"]


def _losses(lines: str) -> list[tuple]:
    return [(r["step"], r["loss"], r.get("val_loss")) for r in map(json.loads, lines.splitlines()) if "loss" in r]


def _mark_committed(folder: Path) -> None:
    """A hand-made stage folder as a commit leaves it: a _SUCCESS listing its files, which is where readers
    of a run in object storage take a stage's files from."""
    files = [{"path": p.name, "size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != "_SUCCESS"]
    (folder / "_SUCCESS").write_text(json.dumps({"files": files, "rejected_files": []}))


def _get(client, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_train_from_the_bucket_matches_local_reuses_its_cache_and_refuses_a_changed_shard(
        s3, sample_dir, tmp_path, monkeypatch, capsys):
    client, bucket, proxy = s3
    run = _make_run(tmp_path / "run", sample_dir)
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--run", str(run), *STEPS, *SETTINGS]) == 0
    local = _losses((run / "train" / "metrics.jsonl").read_text())
    assert [s for s, _, _ in local] == [1, 2, 3, 4]
    for folder in ("shards", "tokenizer"):
        _mark_committed(run / folder)
        upload_tree(client, bucket, f"runs/r1/{folder}", run / folder)
    url = f"s3://{bucket}/runs/r1"

    # From the bucket: the same losses; outputs in RUN/train/ of the bucket, _SUCCESS among them.
    assert main(["train", "--run", url, *STEPS, *SETTINGS]) == 0
    assert _losses(_get(client, bucket, "runs/r1/train/metrics.jsonl").decode()) == local
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="runs/r1/train/")["Contents"]}
    local_files = {f"runs/r1/train/{p.relative_to(run / 'train').as_posix()}"
                   for p in (run / "train").rglob("*") if p.is_file()}
    assert keys == local_files and "runs/r1/train/_SUCCESS" in keys
    assert json.loads(_get(client, bucket, "runs/r1/train/_SUCCESS"))["step"] == 4
    parts = [p for m, p, _ in proxy.faults.seen if m == "GET" and p.endswith(".parquet")]
    assert any("/shards/train-" in p for p in parts)

    # Again (--fresh): the cache serves every shard, nothing but the manifest and the card is fetched.
    proxy.faults.seen.clear()
    assert main(["train", "--run", url, "--fresh", *STEPS, *SETTINGS]) == 0
    assert not [p for m, p, _ in proxy.faults.seen if m == "GET" and p.endswith(".parquet")]
    assert _losses(_get(client, bucket, "runs/r1/train/metrics.jsonl").decode()) == local

    # --resume takes the checkpoints from the bucket (the local work folder is rebuilt from it each run).
    shutil.rmtree(tmp_path / "cache" / "runs")
    assert main(["train", "--run", url, "--resume", *STEPS, *SETTINGS]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "(step 4)" in out
    assert _losses(_get(client, bucket, "runs/r1/train/metrics.jsonl").decode()) == local

    # eval and generate read the model from the bucket: the figures and text of the local run
    _readers_match_local(client, bucket, run, url, tmp_path, capsys)

    # A shard whose bytes changed in the bucket: refused before use, naming its URL (cold cache).
    name = "train-00000-of-00001.parquet"
    data = bytearray((run / "shards" / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=f"runs/r1/shards/{name}", Body=bytes(data))
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cold"))
    assert main(["train", "--run", url, "--fresh", *STEPS, *SETTINGS]) == 1
    err = capsys.readouterr().err
    assert f"{url}/shards/{name}: sha256" in err and "refused" in err
    sha = next(s["sha256"] for s in json.loads((run / "shards" / "manifest.json").read_text())["shards"]
               if s["file"] == name)
    assert not (tmp_path / "cold" / "shards" / f"{sha}.parquet").exists()  # never put into the cache
    # --fresh started over: the bucket's RUN/train/ no longer claims a finished stage, nor keeps checkpoints
    left = {o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="runs/r1/train/").get("Contents", [])}
    assert not {k for k in left if k.endswith("_SUCCESS") or "/checkpoints/" in k}, left


def test_train_on_a_bucket_run_without_shards_names_the_manifest_url(s3, tmp_path, monkeypatch, capsys):
    _, bucket, _ = s3
    monkeypatch.setenv("CURATE_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--run", f"s3://{bucket}/runs/none", *SETTINGS]) == 1
    assert f"s3://{bucket}/runs/none/shards/manifest.json: no shard manifest" in capsys.readouterr().err


def _readers_match_local(client, bucket: str, run: Path, url: str, tmp_path: Path, capsys) -> None:
    """`curate eval` and `curate generate` on the bucket run give what they give on the local run (the same
    checkpoint); `curate export` of a bucket run: tests/pipelines/test_objectstore_run.py."""
    held = tmp_path / "held.jsonl"
    held.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("The cat sat on the mat.", "Zwei Birnen.")))
    for where in (str(run), url):
        assert main(["eval", "--run", where, "--eval", f"held={held}"]) == 0
    local = json.loads((run / "eval" / "results.json").read_text())
    remote = json.loads(_get(client, bucket, "runs/r1/eval/results.json"))
    assert remote["sets"]["held"]["bits_per_byte"] == local["sets"]["held"]["bits_per_byte"] > 0
    assert remote["checkpoint"] == f"{url}/train/checkpoints/step-00000004.pt" and remote["step"] == 4
    capsys.readouterr()
    texts = []
    for where in (str(run), url):
        assert main(["generate", "--run", where, "--prompt", "The", "--max-new-tokens", "12"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and texts[0].startswith("The")

