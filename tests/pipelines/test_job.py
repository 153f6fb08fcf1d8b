"""`curate run`: validation before work, skipping completed stages, --from, stale stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.cli import main as curate


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text("".join(json.dumps({"text": f"Document number {i} about ships."}) + "\n"
                                          for i in range(20)))
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({
        "inputs": [{"path": "data/*.jsonl", "name": "articles"}],
        "stages": ["ingest"],
        "report": False,
        "runner": {"workers": 1},
    }))
    return path


def test_second_run_skips_completed_stages(job, tmp_path, capsys):
    run = tmp_path / "run"
    assert curate(["run", str(job), "--run", str(run)]) == 0
    first = json.loads((run / "ingest" / "_SUCCESS").read_text())
    assert "[ingest] running" in capsys.readouterr().out
    assert curate(["run", str(job), "--run", str(run)]) == 0
    assert "[ingest] up to date, skipped" in capsys.readouterr().out
    assert json.loads((run / "ingest" / "_SUCCESS").read_text()) == first
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["inputs"][0]["name"] == "articles"


def test_a_changed_config_or_from_reruns(job, tmp_path, capsys):
    run = tmp_path / "run"
    curate(["run", str(job), "--run", str(run)])
    capsys.readouterr()
    curate(["run", str(job), "--run", str(run), "--set", "ingest.max_doc_bytes=100000"])
    assert "[ingest] running" in capsys.readouterr().out
    curate(["run", str(job), "--run", str(run), "--set", "ingest.max_doc_bytes=100000", "--from", "ingest"])
    assert "[ingest] running" in capsys.readouterr().out


@pytest.mark.parametrize(("override", "key"), [
    ("ingest.bogus=1", "ingest.bogus"),
    ("stages=[filter]", "stages"),
    ("stages=[ingest, tokenize]", "stages"),
    ("inputs=[{path: nowhere/*.jsonl}]", "inputs[0].path"),
    ("train.no_such_key=1", "train.no_such_key"),
])
def test_invalid_job_names_the_key_and_writes_nothing(job, tmp_path, capsys, override, key):
    run = tmp_path / "run"
    assert curate(["run", str(job), "--run", str(run), "--set", override]) == 2
    assert key in capsys.readouterr().err
    assert not run.exists()


def test_stage_left_from_another_job_is_not_used(job, tmp_path):
    run = tmp_path / "run"
    curate(["run", str(job), "--run", str(run)])
    stale = run / "dedup"
    stale.mkdir()
    (stale / "_SUCCESS").write_text("{}")
    curate(["run", str(job), "--run", str(run)])
    assert not (stale / "_SUCCESS").exists()


def test_a_middle_stage_change_reruns_it_and_what_follows_not_what_precedes(job, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["run", str(job), "--run", str(run), "--set", "stages=[ingest, filter, dedup]",
            "--set", "filter.lid.enabled=false"]
    assert curate(base) == 0
    capsys.readouterr()
    ingest_before = (run / "ingest" / "_SUCCESS").read_text()
    assert curate([*base, "--set", "filter.pii.enabled=false"]) == 0
    out = capsys.readouterr().out
    assert "[ingest] up to date, skipped" in out
    assert "[filter] running" in out and "[dedup] running" in out
    assert (run / "ingest" / "_SUCCESS").read_text() == ingest_before
    assert curate([*base, "--set", "filter.pii.enabled=false"]) == 0
    out = capsys.readouterr().out
    assert all(f"[{s}] up to date, skipped" in out for s in ("ingest", "filter", "dedup"))
