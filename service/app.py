"""The HTTP API (`/api/v1`, JSON, OpenAPI at /openapi.json), /healthz, /metrics and the web page.

FastAPI on uvicorn: the usual choice for a Python HTTP API (typed request models, an OpenAPI schema for
free, ASGI for the server-sent events stream); the database calls are synchronous and run in its thread pool.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import shutil
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from pipelines.configlib import ConfigError, apply_overrides, load_dataclass, to_dict
from service.db import FINAL_STATES, STATES, Job, Store
from service.executor import JOB_FILE, LOG_FILE, Executor, job_dir
from service.jobspec import InvalidYaml, PathNotAllowed, parse_yaml, validate_job
from service.settings import Settings

API = "/api/v1"
HIDDEN = {".tmp", ".progress"}  # never listed or served: work in progress
TOKEN_COOKIE = "curate_token"


class SubmitRequest(BaseModel):
    spec: str = Field(description="the job file (the same YAML as `curate run`)")
    base_dir: str | None = Field(None, description="folder relative input paths resolve against "
                                                   "(default: the first data root)")
    name: str = Field("", max_length=200)
    priority: int = Field(0, ge=-1000, le=1000, description="higher runs first; FIFO within a priority")
    client_key: str | None = Field(None, max_length=200, description="idempotency key: resubmitting with the "
                                   "same key returns the job already queued instead of a second one")


class TrainRequest(BaseModel):
    max_steps: int = Field(300, ge=1, le=10_000_000)
    d_model: int | None = Field(None, ge=8, le=16384)
    n_layers: int | None = Field(None, ge=1, le=256)
    n_heads: int | None = Field(None, ge=1, le=256)
    nproc: int | None = Field(None, ge=1, le=64, description="training processes; default: every local GPU")
    priority: int = Field(0, ge=-1000, le=1000)


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.db_url)
        self.executor: Executor | None = None

    def wake(self) -> None:
        """A job was queued: let this server's executor look now rather than at its next poll."""
        if self.executor is not None:
            self.executor.wake()


def error(status: int, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def create_app(settings: Settings) -> FastAPI:
    services = Services(settings)
    settings.home.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.run_executor:
            services.executor = Executor(services.store, settings.home, max_concurrent=settings.max_concurrent_jobs,
                                         grace_s=settings.grace_s, lease_s=settings.lease_s,
                                         train_gpus=settings.train_gpus)
            services.executor.start()
        yield
        if services.executor:
            await run_in_threadpool(services.executor.stop)

    app = FastAPI(title="curate", version="1", lifespan=lifespan,
                  description="Submit, watch, cancel and resume curation and training jobs.")
    app.state.services = services
    from service.security import install_security

    install_security(app, settings, services.store)

    def store() -> Store:
        return services.store

    def get_job(job_id: int, st: Store = Depends(store)) -> Job:
        job = st.get(job_id)
        if job is None:
            raise error(404, f"no job {job_id}")
        return job

    # ---- health and metrics ---------------------------------------------------------------------------

    @app.get("/healthz", tags=["service"])
    def healthz(st: Store = Depends(store)) -> dict[str, Any]:
        return {"ok": True, "schema_version": st.schema_version(), "time": time.time()}

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    def metrics(st: Store = Depends(store)) -> str:
        return prometheus_text(st)

    # ---- jobs ---------------------------------------------------------------------------------------

    @app.post(f"{API}/jobs", status_code=201, tags=["jobs"])
    def submit(body: SubmitRequest, response: Response) -> dict[str, Any]:
        job, created = submit_job(services, body)
        if not created:
            response.status_code = 200
        return job.public()

    @app.get(f"{API}/jobs", tags=["jobs"])
    def list_jobs(state: str | None = Query(None, description="queued, running, succeeded, failed or cancelled"),
                  limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
                  st: Store = Depends(store)) -> dict[str, Any]:
        if state is not None and state not in STATES:
            raise error(422, f"state: {state!r} is not one of {', '.join(STATES)}")
        jobs, total = st.list(state, limit, offset)
        return {"jobs": [j.public() for j in jobs], "total": total, "limit": limit, "offset": offset}

    @app.get(f"{API}/jobs/{{job_id}}", tags=["jobs"])
    def get_one(job: Job = Depends(get_job)) -> dict[str, Any]:
        return job.public()

    @app.post(f"{API}/jobs/{{job_id}}/cancel", tags=["jobs"])
    def cancel(job: Job = Depends(get_job), st: Store = Depends(store)) -> dict[str, Any]:
        if job.state in FINAL_STATES:
            raise error(409, f"job {job.id} is already {job.state}")
        return st.request_cancel(job.id).public()  # type: ignore[union-attr]

    @app.post(f"{API}/jobs/{{job_id}}/retry", tags=["jobs"])
    def retry(job: Job = Depends(get_job), st: Store = Depends(store)) -> dict[str, Any]:
        again = st.retry(job.id)
        services.wake()
        if again is None:
            raise error(409, f"job {job.id} is {job.state}: only failed or cancelled jobs can be retried")
        return again.public()

    @app.delete(f"{API}/jobs/{{job_id}}", status_code=204, tags=["jobs"])
    def delete(job: Job = Depends(get_job), remove_files: bool = Query(False), st: Store = Depends(store)):
        if not st.delete(job.id):
            raise error(409, f"job {job.id} is running: cancel it first")
        if remove_files:
            shutil.rmtree(job_dir(settings.home, job.id), ignore_errors=True)
        return Response(status_code=204)

    @app.post(f"{API}/jobs/{{job_id}}/train", status_code=201, tags=["jobs"])
    def train(body: TrainRequest, job: Job = Depends(get_job)) -> dict[str, Any]:
        return submit_train(services, job, body).public()

    @app.get(f"{API}/jobs/{{job_id}}/events", tags=["jobs"])
    async def events(job_id: int, request: Request) -> StreamingResponse:
        first = await run_in_threadpool(services.store.get, job_id)
        if first is None:
            raise error(404, f"no job {job_id}")
        return StreamingResponse(job_events(services.store, job_id, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get(f"{API}/jobs/{{job_id}}/logs", tags=["jobs"], response_class=PlainTextResponse)
    def logs(job: Job = Depends(get_job), offset: int = Query(0, ge=0),
             tail: int | None = Query(None, ge=1, le=10000)) -> Response:
        text, next_offset = read_log(job_dir(settings.home, job.id) / LOG_FILE, offset, tail)
        return PlainTextResponse(text, headers={"X-Next-Offset": str(next_offset), "X-Job-State": job.state})

    @app.get(f"{API}/jobs/{{job_id}}/files", tags=["files"])
    def files(job: Job = Depends(get_job)) -> dict[str, Any]:
        return {"files": list_files(job_dir(settings.home, job.id))}

    @app.get(f"{API}/jobs/{{job_id}}/files/{{path:path}}", tags=["files"])
    def file(path: str, job: Job = Depends(get_job)) -> FileResponse:
        target = confined_file(job_dir(settings.home, job.id), path)
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media)

    from service.web import install_web

    install_web(app, services)
    return app


# ---- the work behind the endpoints (shared by the API and the web page) -----------------------------------


def submit_job(services: Services, body: SubmitRequest) -> tuple[Job, bool]:
    settings = services.settings
    base_dir = body.base_dir or settings.data_roots[0]
    try:
        config = validate_job(body.spec, base_dir, settings.data_roots)
    except InvalidYaml as e:
        raise error(400, f"config error: {e}") from None
    except ConfigError as e:
        raise error(422, f"config error: {e}") from None
    except PathNotAllowed as e:
        raise error(403, f"config error: {e}") from None
    job, created = services.store.submit(spec=body.spec, base_dir=base_dir, name=body.name, priority=body.priority,
                                         params={"stages": list(config.stages)}, client_key=body.client_key)
    services.wake()
    return job, created


def submit_train(services: Services, source: Job, body: TrainRequest) -> Job:
    """A train job on a finished job's shards: the source's resolved config with this run's steps and size."""
    run = job_dir(services.settings.home, source.id)
    if source.kind != "curate" or source.state != "succeeded":
        raise error(409, f"job {source.id} is {source.state}: train on a succeeded curation job")
    if not (run / "shards" / "_SUCCESS").is_file():
        raise error(409, f"job {source.id} made no shards (its stages must include tokenize)")
    data = parse_yaml((run / "config.yaml").read_text())
    overrides = [f"train.max_steps={body.max_steps}"]
    for key in ("d_model", "n_layers", "n_heads"):
        if getattr(body, key) is not None:
            overrides.append(f"train.model.{key}={getattr(body, key)}")
    try:
        from pipelines.config import JobConfig

        config = load_dataclass(JobConfig, apply_overrides(data, overrides))
    except ConfigError as e:
        raise error(422, f"config error: {e}") from None
    import yaml

    spec = yaml.safe_dump(to_dict(config), sort_keys=False)
    params: dict[str, Any] = {"stages": ["train"], "max_steps": body.max_steps,
                              "model": {k: getattr(config.train.model, k) for k in ("d_model", "n_layers", "n_heads")}}
    if body.nproc:
        params["nproc"] = body.nproc
    job, _ = services.store.submit(spec=spec, base_dir=str(run), kind="train", name=f"train on job {source.id}",
                                   priority=body.priority, source_job=source.id, params=params)
    services.wake()
    return job


async def job_events(store: Store, job_id: int, request: Request):
    """Server-sent events: the job (state and progress) whenever it changes, until it ends."""
    last = None
    quiet = 0.0
    while True:
        if await request.is_disconnected():
            return
        job = await run_in_threadpool(store.get, job_id)
        if job is None:
            yield "event: deleted\ndata: {}\n\n"
            return
        payload = json.dumps(job.public())
        if payload != last:
            last = payload
            quiet = 0.0
            yield f"event: job\ndata: {payload}\n\n"
        elif quiet >= 15:
            quiet = 0.0
            yield ": keep-alive\n\n"
        if job.state in FINAL_STATES:
            yield "event: end\ndata: {}\n\n"
            return
        await asyncio.sleep(1.0)
        quiet += 1.0


def read_log(path: Path, offset: int, tail: int | None, limit: int = 1 << 20) -> tuple[str, int]:
    try:
        size = path.stat().st_size
    except OSError:
        return "", 0
    if tail is not None:
        with open(path, "rb") as f:
            f.seek(max(size - limit, 0))
            lines = f.read().decode(errors="replace").splitlines()[-tail:]
        return "\n".join(lines) + ("\n" if lines else ""), size
    offset = min(offset, size)
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(limit)
    return data.decode(errors="replace"), offset + len(data)


def list_files(run: Path) -> list[dict[str, Any]]:
    """Plain files inside the run folder (no symlinks followed, work in progress hidden), sorted."""
    out = []
    if not run.is_dir():
        return out
    for root, dirs, names in os.walk(run):
        rel_root = Path(root).relative_to(run)
        dirs[:] = sorted(d for d in dirs if d not in HIDDEN and not (Path(root) / d).is_symlink())
        for name in sorted(names):
            p = Path(root) / name
            if p.is_symlink() or not p.is_file():
                continue
            out.append({"path": str(rel_root / name) if str(rel_root) != "." else name, "size": p.stat().st_size})
    return out


def confined_file(run: Path, rel: str) -> Path:
    """`rel` inside the run folder, or a 4xx: no absolute paths, no `..`, no symlink leading out."""
    parts = Path(rel).parts
    if not rel or rel.startswith("/") or ".." in parts or "\\" in rel or "\x00" in rel:
        raise error(400, f"file path {rel!r}: must be relative to the job's folder, without '..'")
    if parts and parts[0] in HIDDEN:
        raise error(404, f"no file {rel!r} in this job")
    root = os.path.realpath(run)
    real = os.path.realpath(os.path.join(root, rel))
    if not real.startswith(root + os.sep):
        raise error(403, f"file path {rel!r} leads outside the job's folder")
    if not os.path.isfile(real):
        raise error(404, f"no file {rel!r} in this job")
    return Path(real)


def prometheus_text(store: Store) -> str:
    counts = store.counts()
    lines = ["# HELP curate_jobs Jobs by state.", "# TYPE curate_jobs gauge"]
    lines += [f'curate_jobs{{state="{s}"}} {n}' for s, n in counts.items()]
    lines += ["# HELP curate_queue_length Jobs waiting to run.", "# TYPE curate_queue_length gauge",
              f"curate_queue_length {counts['queued']}"]
    docs = 0
    for (progress,) in store.execute("SELECT progress FROM jobs WHERE kind = 'curate'").fetchall():
        stages = json.loads(progress or "{}").get("stages") or []
        if stages:  # documents read by the job's first stage (ingest)
            first = stages[0]
            docs += int((first.get("counts") or {}).get("in", 0) or first.get("docs", 0) or 0)
    lines += ["# HELP curate_docs_processed_total Documents read by jobs' ingest stages.",
              "# TYPE curate_docs_processed_total counter", f"curate_docs_processed_total {docs}"]
    return "\n".join(lines) + "\n"


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


_ = JOB_FILE
