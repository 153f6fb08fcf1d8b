"""Real components for the service tests: a `curate serve` process on a free loopback port, a real PostgreSQL
server (Debian's postgresql: initdb/pg_ctl as the postgres user in a temp folder), the bundled sample as data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "sample"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
CURATE = [sys.executable, "-m", "pipelines.cli"]

#: A small job: the bundled sample's web pages and books, one worker, no training.
SMALL_JOB = """\
inputs:
  - {path: sample/web/*.warc.gz, name: web}
  - {path: sample/books/*.txt, name: books}
stages: [ingest, filter]
runner: {workers: 1}
report: false
"""

#: Through the token shards (for the byte-identity and training tests).
SHARDS_JOB = """\
inputs:
  - {path: sample/web/*.warc.gz, name: web}
  - {path: sample/books/*.txt, name: books}
stages: [ingest, tokenizer, tokenize]
runner: {workers: 1}
report: true
tokenizer: {vocab_size: 1024}
tokenize: {val_fraction: 0.1}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_sample(root: Path) -> Path:
    for part in ("web", "books"):
        shutil.copytree(SAMPLE / part, root / "sample" / part)
    return root


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A data root holding a copy of the bundled sample (web pages and books)."""
    return copy_sample(tmp_path / "data")


@pytest.fixture(scope="session")
def reference_shards_run(tmp_path_factory) -> Path:
    """A plain `curate run` of SHARDS_JOB (once per session): what the service must reproduce byte for byte."""
    root = copy_sample(tmp_path_factory.mktemp("reference") / "data")
    (root / "shards.yaml").write_text(SHARDS_JOB)
    run = root.parent / "run"
    subprocess.run([*CURATE, "run", "shards.yaml", "--run", str(run)], cwd=root, check=True, capture_output=True)
    return run


def _runuser(*argv: str, **kw) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *argv], check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL 15 server on 127.0.0.1 and a free port; stopped at the end of the session."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (apt-get install postgresql; .ci/run does this)")
    folder = Path(tempfile.mkdtemp(prefix="curate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    _runuser(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
    _runuser(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start", "-o",
             f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=300")
    try:
        _runuser(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "curate_test")
        yield f"postgresql://postgres@127.0.0.1:{port}/curate_test"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "-w", "stop"] if os.geteuid() == 0 else
                       [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


_PG_DB_COUNTER = [0]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:
    """A fresh database for one test: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "home" / "curate.db")
    base = request.getfixturevalue("postgres_url")
    _PG_DB_COUNTER[0] += 1
    name = f"t{os.getpid()}_{_PG_DB_COUNTER[0]}"
    port = base.rsplit(":", 1)[1].split("/")[0]
    _runuser(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name)
    return base.rsplit("/", 1)[0] + "/" + name


class Server:
    """`curate serve` as a real process; `kill9()` and `start()` again for crash tests."""

    def __init__(self, home: Path, data_root: Path, db: str | None, extra: list[str] | None = None):
        self.home = home
        self.data_root = data_root
        self.db = db
        self.extra = extra or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.token: str | None = None
        self.log = home.parent / f"serve-{self.port}.log"

    def start(self, wait: bool = True) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        argv = [*CURATE, "serve", "--port", str(self.port), "--home", str(self.home), "--data-root",
                str(self.data_root), "--grace", "5", *self.extra]
        if self.db:
            argv += ["--db", self.db]
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(argv, cwd=self.data_root, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"curate serve exited {self.proc.returncode}: {self.log.read_text()}")
                try:
                    self.request("GET", "/healthz")
                    return self
                except OSError:
                    time.sleep(0.2)
            raise RuntimeError(f"curate serve did not come up: {self.log.read_text()}")
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None,
                token: str | None = None):
        """(status, parsed JSON or text, headers). Never raises for HTTP errors."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None and raw is None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        tok = token or self.token
        if tok:
            req.add_header("Authorization", f"Bearer {tok}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, payload, hdrs = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as e:
            status, payload, hdrs = e.code, e.read(), dict(e.headers)
        ctype = hdrs.get("content-type", "")
        value = json.loads(payload) if payload and "json" in ctype else payload.decode(errors="replace")
        return status, value, hdrs

    def submit(self, spec: str, **extra) -> dict:
        status, job, _ = self.request("POST", "/api/v1/jobs", {"spec": spec, **extra})
        assert status == 201, job
        return job

    def job(self, job_id: int) -> dict:
        status, job, _ = self.request("GET", f"/api/v1/jobs/{job_id}")
        assert status == 200, job
        return job

    def wait(self, job_id: int, until=lambda j: j["state"] in ("succeeded", "failed", "cancelled"),
             timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if until(job):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} timed out: {self.job(job_id)}\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def make_server(tmp_path: Path, data_root: Path):
    servers: list[Server] = []

    def make(db: str | None = None, extra: list[str] | None = None, start: bool = True) -> Server:
        server = Server(tmp_path / "home", data_root, db, extra)
        servers.append(server)
        return server.start() if start else server

    yield make
    for s in servers:
        s.stop()


def stage_running(job: dict) -> bool:
    return job["state"] == "running" and any(s["state"] == "running" for s in job["progress"].get("stages", []))
