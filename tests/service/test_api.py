"""The HTTP API against a real `curate serve` process, with SQLite and with a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

from tests.service.conftest import CURATE, SMALL_JOB, stage_running


def test_job_runs_and_is_watched(make_server, db_url):
    server = make_server(db_url)
    job = server.submit(SMALL_JOB, name="small")
    assert job["state"] == "queued" and job["name"] == "small"
    # The server-sent events stream follows the job to its end.
    with urllib.request.urlopen(f"{server.url}/api/v1/jobs/{job['id']}/events", timeout=120) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = resp.read().decode().split("\n\n")
    states = [json.loads(e.split("data: ", 1)[1])["state"] for e in events if e.startswith("event: job")]
    assert states[-1] == "succeeded" and "running" in states
    assert any(e.startswith("event: end") for e in events)
    done = server.job(job["id"])
    stages = {s["name"]: s for s in done["progress"]["stages"]}
    assert stages["ingest"]["state"] == "done" and stages["ingest"]["counts"]["in"] > 0
    assert stages["filter"]["state"] == "done"
    # Listing, filtering and paging.
    status, listing, _ = server.request("GET", "/api/v1/jobs?state=succeeded&limit=1")
    assert status == 200 and listing["total"] == 1 and listing["jobs"][0]["id"] == job["id"]
    status, listing, _ = server.request("GET", "/api/v1/jobs?state=queued")
    assert listing["total"] == 0
    # Logs, files, metrics, OpenAPI.
    status, log, headers = server.request("GET", f"/api/v1/jobs/{job['id']}/logs")
    assert status == 200 and "[filter] done" in log and int(headers["x-next-offset"]) > 0
    status, files, _ = server.request("GET", f"/api/v1/jobs/{job['id']}/files")
    paths = {f["path"] for f in files["files"]}
    assert {"ingest/_SUCCESS", "filter/_SUCCESS", "job.yaml", "job.log"} <= paths
    status, success, _ = server.request("GET", f"/api/v1/jobs/{job['id']}/files/filter/_SUCCESS")
    assert status == 200 and json.loads(success)["stage"] == "filter"
    status, metrics, _ = server.request("GET", "/metrics")
    assert 'curate_jobs{state="succeeded"} 1' in metrics and "curate_queue_length 0" in metrics
    assert f"curate_docs_processed_total {stages['ingest']['counts']['in']}" in metrics
    status, schema, _ = server.request("GET", "/openapi.json")
    assert status == 200 and "/api/v1/jobs/{job_id}/events" in schema["paths"]
    # A succeeded job cannot be cancelled or retried; it can be deleted with its folder.
    assert server.request("POST", f"/api/v1/jobs/{job['id']}/cancel")[0] == 409
    assert server.request("POST", f"/api/v1/jobs/{job['id']}/retry")[0] == 409
    assert server.request("DELETE", f"/api/v1/jobs/{job['id']}?remove_files=true")[0] == 204
    assert server.request("GET", f"/api/v1/jobs/{job['id']}")[0] == 404
    assert not (server.home / "runs" / str(job["id"])).exists()


def test_bad_input_is_refused_and_nothing_is_queued(make_server, db_url, tmp_path):
    server = make_server(db_url)
    (server.data_root / "escape").symlink_to("/etc")
    (server.data_root / "links").mkdir()
    (server.data_root / "links" / "a.txt").symlink_to("/etc/passwd")
    cases = [
        ({"spec": "inputs: [unclosed"}, 400, "not valid YAML"),
        ({"spec": "inputs: !!python/object/apply:os.system ['true']"}, 400, "not valid YAML"),
        ({"spec": SMALL_JOB + "bogus: 1\n"}, 422, "unknown key bogus"),
        ({"spec": SMALL_JOB.replace("workers: 1", "workers: -1")}, 422, "runner.workers: must be >= 0"),
        ({"spec": "inputs: [{path: sample/nothing/*.txt}]"}, 422, "inputs[0].path: nothing matches"),
        ({"spec": "inputs: [{path: /etc/passwd}]"}, 403, "outside the data roots"),
        ({"spec": "inputs: [{path: ../../../etc/passwd}]"}, 403, "outside the data roots"),
        ({"spec": "inputs: [{path: escape/passwd}]"}, 403, "outside the data roots"),
        ({"spec": "inputs: [{path: links/*.txt}]"}, 403, "resolves outside the data roots"),
        ({"spec": SMALL_JOB + "dedup: {against: /etc}\n"}, 403, "dedup.against"),
        ({"spec": SMALL_JOB, "base_dir": "/"}, 403, "outside the data roots"),
        ({"spec": SMALL_JOB, "priority": 10**6}, 422, "priority"),
        ({}, 422, "spec"),
    ]
    for body, code, message in cases:
        status, reply, _ = server.request("POST", "/api/v1/jobs", body)
        assert status == code, (body, reply)
        assert message in json.dumps(reply), (body, reply)
    # The same message as `curate run` gives for the same file.
    job_file = tmp_path / "bad.yaml"
    job_file.write_text(SMALL_JOB + "bogus: 1\n")
    cli = subprocess.run([*CURATE, "run", str(job_file)], capture_output=True, text=True, cwd=tmp_path)
    api = server.request("POST", "/api/v1/jobs", {"spec": SMALL_JOB + "bogus: 1\n"})[1]["detail"]
    assert cli.returncode == 2 and api.split("config error: ", 1)[1] in cli.stderr
    # Over the body limit (1 MiB).
    status, reply, _ = server.request("POST", "/api/v1/jobs", {"spec": "#" * (2 << 20)})
    assert status == 413 and "limit" in reply["detail"]
    # Unknown ids, path traversal in file requests.
    assert server.request("GET", "/api/v1/jobs/999")[0] == 404
    assert server.request("POST", "/api/v1/jobs/999/cancel")[0] == 404
    assert server.request("GET", "/api/v1/jobs/999/logs")[0] == 404
    assert server.request("GET", "/api/v1/jobs?state=bogus")[0] == 422
    # A cross-site request (another page driving the user's browser) is refused.
    status, reply, _ = server.request("POST", "/api/v1/jobs", {"spec": SMALL_JOB},
                                      headers={"Origin": "http://evil.example"})
    assert status == 403 and "cross-site" in reply["detail"]
    # The web form needs its CSRF token.
    status, reply, _ = server.request("POST", "/submit", raw=b"spec=x",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "CSRF" in reply["detail"]
    status, listing, _ = server.request("GET", "/api/v1/jobs")
    assert listing["total"] == 0, listing


def test_file_requests_stay_inside_the_job_folder(make_server):
    server = make_server()
    job = server.submit(SMALL_JOB)
    server.wait(job["id"])
    run = server.home / "runs" / str(job["id"])
    (run / "leak").symlink_to(server.home / "curate.db")
    raw = urllib.request.Request(f"{server.url}/api/v1/jobs/{job['id']}/files/../../curate.db")
    for path, code in [("../../curate.db", 400), ("ingest/../../../curate.db", 400), ("leak", 403),
                       ("%2e%2e/%2e%2e/curate.db", 400), ("nothing.txt", 404), (".tmp/x", 404)]:
        status, reply, _ = server.request("GET", f"/api/v1/jobs/{job['id']}/files/{path}")
        assert status == code, (path, reply)
    assert raw  # urllib normalizes nothing: the server sees the `..` itself
    assert "leak" not in {f["path"] for f in server.request("GET", f"/api/v1/jobs/{job['id']}/files")[1]["files"]}


def test_tokens_required_off_loopback(make_server, tmp_path):
    server = make_server(extra=["--require-token"], start=False)
    # Without any token the service refuses to start on a non-loopback address (and binds nothing).
    home = server.home
    refused = subprocess.run([*CURATE, "serve", "--host", "0.0.0.0", "--port", "0", "--home", str(home)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "without tokens" in refused.stderr
    made = subprocess.run([*CURATE, "token", "create", "alice", "--home", str(home)], capture_output=True,
                          text=True, check=True)
    token = made.stdout.strip()
    assert token.startswith("cur_") and token not in (home / "curate.db").read_bytes().decode(errors="replace")
    server.start()
    assert server.request("GET", "/healthz")[0] == 200
    status, reply, headers = server.request("GET", "/api/v1/jobs")
    assert status == 401 and "token" in reply["detail"] and headers.get("www-authenticate") == "Bearer"
    assert server.request("POST", "/api/v1/jobs", {"spec": SMALL_JOB})[0] == 401
    assert server.request("GET", "/api/v1/jobs", token="cur_wrong")[0] == 401
    assert server.request("GET", "/api/v1/jobs", token=token)[0] == 200
    # The CLI client sends it.
    listing = subprocess.run([*CURATE, "jobs", "--server", server.url, "--token", token], capture_output=True,
                             text=True)
    assert listing.returncode == 0 and "(0 of 0)" in listing.stdout
    denied = subprocess.run([*CURATE, "jobs", "--server", server.url], capture_output=True, text=True)
    assert denied.returncode == 1 and "token" in denied.stderr


def test_cli_submit_wait_status_logs(make_server, tmp_path):
    server = make_server()
    job_file = server.data_root / "small.yaml"
    job_file.write_text(SMALL_JOB)
    run = subprocess.run([*CURATE, "submit", str(job_file), "--server", server.url, "--wait"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    job_id = int(run.stdout.splitlines()[0])
    assert "succeeded" in run.stdout.splitlines()[-1]
    status = subprocess.run([*CURATE, "status", str(job_id), "--server", server.url], capture_output=True, text=True)
    assert status.returncode == 0 and "ingest" in status.stdout and "done" in status.stdout
    logs = subprocess.run([*CURATE, "logs", str(job_id), "--follow", "--server", server.url], capture_output=True,
                          text=True, timeout=60)
    assert logs.returncode == 0 and "[ingest] running" in logs.stdout
    jobs = subprocess.run([*CURATE, "jobs", "--server", server.url], capture_output=True, text=True)
    assert "succeeded" in jobs.stdout and "small" in jobs.stdout
    bad = subprocess.run([*CURATE, "cancel", "4242", "--server", server.url], capture_output=True, text=True)
    assert bad.returncode == 1 and "no job 4242" in bad.stderr
    _ = stage_running, sys
