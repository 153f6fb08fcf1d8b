"""Crashes and cancels: `kill -9` of the server mid-job, then a restart, gives the same bytes as `curate run`;
a cancel mid-stage leaves no half-written stage and a retry finishes the job."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.service.conftest import SHARDS_JOB, SMALL_JOB, stage_running


def _committed(run: Path, stages: list[str]) -> None:
    """Every stage folder present is complete; nothing of an attempt in progress is left."""
    assert not (run / ".tmp").exists() or not any((run / ".tmp").iterdir())
    for stage in stages:
        folder = run / stage
        if folder.exists():
            assert (folder / "_SUCCESS").is_file(), f"{folder} is half-written"


def _outputs(run: Path) -> dict[str, bytes]:
    shards = run / "shards"
    # The shards and their manifest (the dataset card and _SUCCESS also hold timings and the run's path).
    return {p.name: p.read_bytes() for p in sorted(shards.iterdir())
            if p.suffix == ".parquet" or p.name == "manifest.json"}


@pytest.mark.slow
def test_kill9_mid_job_then_restart_finishes_byte_identical(make_server, db_url, reference_shards_run):
    server = make_server(db_url)
    job = server.submit(SHARDS_JOB)
    # Wait until the job has committed a stage and is inside the next one.
    server.wait(job["id"], lambda j: stage_running(j) and any(s["state"] == "done" for s in j["progress"]["stages"]))
    run = server.home / "runs" / str(job["id"])
    pid = server.job(job["id"])  # the job's process is recorded while it runs
    server.kill9()
    # The job's process group follows its dead server (no orphan keeps writing the run folder).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and subprocess.run(["pgrep", "-f", f"--run {run}"],
                                                         capture_output=True).returncode == 0:
        time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", f"--run {run}"], capture_output=True).returncode != 0
    server.start()
    done = server.wait(job["id"])
    assert done["state"] == "succeeded", done
    assert done["attempts"] == 2
    log = (run / "job.log").read_text()
    assert "up to date, skipped" in log  # resumed from the committed stages
    # Byte-identical to a plain `curate run` of the same file.
    ours, theirs = _outputs(run), _outputs(reference_shards_run)
    assert "manifest.json" in ours and any(n.endswith(".parquet") for n in ours)
    assert ours == theirs
    _ = pid
    if "postgres" in db_url:
        return  # training is the executor's business, not the database's: once is enough
    # A train job on the finished job's shards: the CPU here, a few steps of a tiny model, its loss curve kept.
    status, train, _ = server.request("POST", f"/api/v1/jobs/{job['id']}/train",
                                      {"max_steps": 4, "d_model": 32, "n_layers": 1, "n_heads": 2})
    assert status == 201 and train["kind"] == "train" and train["source_job"] == job["id"]
    trained = server.wait(train["id"], timeout=300)
    assert trained["state"] == "succeeded", (server.home / "runs" / str(train["id"]) / "job.log").read_text()
    curve = trained["progress"]["stages"][0]["curve"]
    assert curve[-1]["step"] == 4 and all("loss" in p for p in curve)
    # Training needs shards: a job without tokenize is refused.
    small = server.submit(SMALL_JOB)
    server.wait(small["id"])
    status, reply, _ = server.request("POST", f"/api/v1/jobs/{small['id']}/train", {"max_steps": 2})
    assert status == 409 and "no shards" in reply["detail"]


def test_cancel_mid_stage_then_retry(make_server, db_url):
    server = make_server(db_url)
    stages = ["ingest", "filter", "dedup"]
    spec = SMALL_JOB.replace("[ingest, filter]", "[ingest, filter, dedup]")
    job = server.submit(spec)
    queued = server.submit(spec)  # max 1 concurrent job: this one waits, and is cancelled while queued
    server.wait(job["id"], stage_running)
    status, reply, _ = server.request("POST", f"/api/v1/jobs/{job['id']}/cancel")
    assert status == 200 and reply["cancel_requested"]
    assert server.request("POST", f"/api/v1/jobs/{queued['id']}/cancel")[1]["state"] == "cancelled"
    cancelled = server.wait(job["id"])
    assert cancelled["state"] == "cancelled", cancelled
    run = server.home / "runs" / str(job["id"])
    _committed(run, stages)
    assert not all((run / s / "_SUCCESS").exists() for s in stages)  # it was stopped before the end
    assert server.job(queued["id"])["attempts"] == 0  # never started
    # Retry resumes and finishes.
    status, again, _ = server.request("POST", f"/api/v1/jobs/{job['id']}/retry")
    assert status == 200 and again["state"] == "queued"
    done = server.wait(job["id"])
    assert done["state"] == "succeeded", done
    _committed(run, stages)
    assert all((run / s / "_SUCCESS").exists() for s in stages)
