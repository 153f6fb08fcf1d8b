"""`curate run` after a crash: kill -9 mid-job, run again, and get byte-identical shards and manifest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_DIR
from tests.pipelines.killing import kill_when

pytestmark = pytest.mark.slow

STAGES = ["ingest", "filter", "dedup", "tokenizer", "tokenize"]


def _job(tmp_path: Path, runner: dict) -> Path:
    path = tmp_path / f"job-{runner.get('name', 'direct')}.yaml"
    path.write_text(yaml.safe_dump({
        "inputs": [
            {"path": str(SAMPLE_DIR / "web" / "*.warc.gz"), "name": "web"},
            {"path": str(SAMPLE_DIR / "books" / "pg11.txt"), "name": "books"},
            {"path": str(SAMPLE_DIR / "udhr" / "*.jsonl"), "name": "udhr", "kind": "text"},
        ],
        "stages": STAGES,
        "report": False,
        "runner": runner,
        "tokenizer": {"vocab_size": 1000},
        "tokenize": {"val_fraction": 0.1},
    }))
    return path


def _curate(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)


def _shards(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "shards").iterdir()) if p.name != "_SUCCESS"}


def _kill_when(p: subprocess.Popen, line_marker: str, run: Path, wait_for: str | None = None) -> list[str]:
    """Kill -9 the job once `line_marker` is printed and (when given) `wait_for` exists under RUN."""
    return kill_when(p, line_marker, (lambda: bool(list(run.glob(wait_for)))) if wait_for else None)


def test_kill_9_then_rerun_gives_identical_shards(tmp_path):
    job = _job(tmp_path, {"workers": 1})
    ref = tmp_path / "ref"
    p = _curate("run", str(job), "--run", str(ref))
    assert p.wait(timeout=600) == 0, p.stdout.read()
    reference = _shards(ref)
    assert "manifest.json" in reference

    run = tmp_path / "crashed"
    # 1st crash: while dedup writes into RUN/.tmp (ingest and filter are committed)
    _kill_when(_curate("run", str(job), "--run", str(run)), "[dedup] running", run, ".tmp/dedup-*/out")
    assert (run / "filter" / "_SUCCESS").exists() and not (run / "dedup" / "_SUCCESS").exists()
    # 2nd crash: the rerun skips what committed, and is killed in tokenize
    seen = _kill_when(_curate("run", str(job), "--run", str(run)), "[tokenize] running", run, ".tmp/shards-*/out")
    assert any("[filter] up to date, skipped" in line for line in seen)
    assert not (run / "shards" / "_SUCCESS").exists()

    p = _curate("run", str(job), "--run", str(run))
    out = p.communicate(timeout=600)[0]
    assert p.returncode == 0, out
    assert "[dedup] up to date, skipped" in out and "[tokenize] running" in out
    assert _shards(run) == reference
    assert not list((run / ".tmp").glob("*"))  # what the killed attempts left was cleaned up
    p = _curate("run", str(job), "--run", str(run))
    out = p.communicate(timeout=600)[0]
    assert all(f"[{s}] up to date, skipped" in out for s in STAGES), out


def test_dask_runner_gives_the_same_manifest(tmp_path):
    direct, dask = tmp_path / "direct", tmp_path / "dask"
    for run, runner in ((direct, {"workers": 1}), (dask, {"name": "dask", "workers": 2})):
        p = _curate("run", str(_job(tmp_path, runner)), "--run", str(run))
        out = p.communicate(timeout=900)[0]
        assert p.returncode == 0, out
    assert _shards(dask) == _shards(direct)
