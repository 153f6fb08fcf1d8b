"""A small HTTP client for the service's API (standard library only), used by the `curate` client commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8080"


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get("CURATE_SERVER", DEFAULT_SERVER),
                        help=f"the service's URL (default: $CURATE_SERVER or {DEFAULT_SERVER})")
    parser.add_argument("--token", default=os.environ.get("CURATE_TOKEN"),
                        help="bearer token (default: $CURATE_TOKEN)")


class Client:
    def __init__(self, server: str, token: str | None = None, timeout: float = 30.0):
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = resp.read()
                if raw:
                    return payload, {k.lower(): v for k, v in resp.headers.items()}
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                message = json.loads(text).get("detail", text)
            except ValueError:
                message = text
            raise ApiError(e.code, str(message)) from None
        except urllib.error.URLError as e:
            raise ApiError(0, f"cannot reach {self.server}: {e.reason}") from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})


def client_from(args: argparse.Namespace) -> Client:
    return Client(args.server, args.token)


def job_action(action: str, args: argparse.Namespace) -> int:
    """`curate cancel ID` / `curate retry ID`: POST /api/v1/jobs/ID/<action>, then print the job's state."""

    def post(client, args: argparse.Namespace) -> int:
        job = client.post(f"/api/v1/jobs/{args.id}/{action}")
        requested = job.get("cancel_requested") and job["state"] == "running"
        print(f"job {job['id']}: {job['state']}" + (" (cancel requested)" if requested else ""))
        return 0

    return run_client(post, args)


def run_client(fn, args: argparse.Namespace) -> int:
    """Run a client command; API errors become one clear line and exit status 1."""
    try:
        return int(fn(client_from(args), args) or 0)
    except ApiError as e:
        print(f"curate: {e.message}" if e.status else f"curate: {e}", file=sys.stderr)
        return 1


FINAL = ("succeeded", "failed", "cancelled")


def progress_line(job: dict[str, Any]) -> str:
    parts = []
    for s in job.get("progress", {}).get("stages", []):
        if s["state"] == "done":
            parts.append(f"{s['name']} done")
        elif s["state"] == "running":
            extra = f" step {s['step']}" if "step" in s else f" {s.get('docs', 0)} docs {s.get('docs_per_s', 0)}/s"
            if s.get("eta_s") is not None:
                extra += f" ETA {s['eta_s']:.0f}s"
            parts.append(f"{s['name']} running{extra}")
    return f"job {job['id']}: {job['state']}" + (f" ({', '.join(parts)})" if parts else "")


def wait_for(client: Client, job_id: int, quiet: bool = False, poll_s: float = 1.0) -> dict[str, Any]:
    last = None
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}")
        line = progress_line(job)
        if line != last and not quiet:
            print(line, flush=True)
            last = line
        if job["state"] in FINAL:
            return job
        time.sleep(poll_s)
