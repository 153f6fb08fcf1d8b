"""The web page: server-rendered HTML (jobs list, submit form, job page) with a little JavaScript that follows
the API (server-sent events for the job, the log tail by polling). No build step.
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.db import FINAL_STATES, Job
from service.executor import LOG_FILE, job_dir
from service.security import TOKEN_COOKIE

CSRF_COOKIE = "curate_csrf"

STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em;color:#222}
h1 a{color:inherit;text-decoration:none} table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:middle}
.bar{background:#eee;border-radius:3px;height:12px;width:180px;display:inline-block;vertical-align:middle}
.bar>span{display:block;height:100%;background:#3a7;border-radius:3px}
.state{padding:.1em .5em;border-radius:3px;font-size:.9em}
.queued{background:#eee}.running{background:#def}.succeeded{background:#dfd}.failed{background:#fdd}
.cancelled{background:#fed}.pending{color:#999}.done{color:#272}
.error{background:#fdd;border:1px solid #c66;padding:.5em;white-space:pre-wrap}
pre.log{background:#111;color:#ddd;padding:.6em;max-height:420px;overflow:auto;font-size:12px}
textarea{width:100%;font-family:monospace} form.inline{display:inline}
button{padding:.3em .9em} svg{background:#fafafa;border:1px solid #ddd}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str, csrf: str, status: int = 200) -> HTMLResponse:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
           f"<style>{STYLE}</style></head><body><h1><a href='/'>curate</a></h1>{body}</body></html>")
    response = HTMLResponse(doc, status_code=status)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict")
    return response


def _csrf(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _check_csrf(request: Request, form: Any) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = form.get("csrf")
    if not cookie or not sent or not secrets.compare_digest(str(cookie), str(sent)):
        raise HTTPException(403, "the form's CSRF token is missing or does not match: reload the page")


def _fraction(job: Job) -> float:
    if job.state == "succeeded":
        return 1.0
    return float(job.progress.get("fraction") or 0.0)


def _bar(fraction: float) -> str:
    return f"<span class='bar'><span style='width:{max(0.0, min(fraction, 1.0)) * 100:.0f}%'></span></span>"


def _ago(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else ""


def _jobs_table(jobs: list[Job]) -> str:
    rows = "".join(
        f"<tr id='job-{j.id}'><td><a href='/jobs/{j.id}'>{j.id}</a></td><td>{_e(j.name)}</td><td>{j.kind}</td>"
        f"<td><span class='state {j.state}'>{j.state}</span></td><td>{_bar(_fraction(j))}</td>"
        f"<td>{_ago(j.created_at)}</td></tr>"
        for j in jobs
    )
    return ("<table id='jobs'><tr><th>id</th><th>name</th><th>kind</th><th>state</th><th>progress</th>"
            f"<th>submitted</th></tr>{rows}</table>")


INDEX_JS = """
<script>
async function refresh(){
  const r = await fetch('/api/v1/jobs?limit=50', {headers:{'Accept':'application/json'}});
  if(!r.ok) return;
  const data = await r.json();
  const esc = s => String(s ?? '').replace(/[&<>"']/g, c => '&#'+c.charCodeAt(0)+';');
  const rows = data.jobs.map(j => {
    const f = j.state==='succeeded' ? 1 : (j.progress.fraction||0);
    return `<tr id="job-${j.id}"><td><a href="/jobs/${j.id}">${j.id}</a></td><td>${esc(j.name)}</td>`+
      `<td>${j.kind}</td><td><span class="state ${j.state}">${j.state}</span></td>`+
      `<td><span class="bar"><span style="width:${Math.round(f*100)}%"></span></span></td>`+
      `<td>${new Date(j.created_at*1000).toLocaleString()}</td></tr>`;}).join('');
  document.getElementById('jobs').innerHTML = '<tr><th>id</th><th>name</th><th>kind</th><th>state</th>'+
    '<th>progress</th><th>submitted</th></tr>' + rows;
}
setInterval(refresh, 2000);
</script>
"""


def _index_body(jobs: list[Job], csrf: str, error: str | None, spec: str, name: str) -> str:
    err = f"<div class='error' id='submit-error'>{_e(error)}</div>" if error else ""
    return (
        "<h2>Submit a job</h2>"
        f"{err}<form method='post' action='/submit' enctype='multipart/form-data' id='submit-form'>"
        f"<input type='hidden' name='csrf' value='{_e(csrf)}'>"
        "<p>Paste the job file (the same YAML as <code>curate run</code>; relative input paths resolve against "
        "the service's first data root) or upload it.</p>"
        f"<textarea name='spec' id='spec' rows='12'>{_e(spec)}</textarea>"
        "<p><input type='file' name='upload' accept='.yaml,.yml'> name <input name='name' id='name' "
        f"value='{_e(name)}'> priority <input name='priority' type='number' value='0' style='width:5em'> "
        "<button type='submit' id='submit'>Submit</button></p></form>"
        f"<h2>Jobs</h2>{_jobs_table(jobs)}{INDEX_JS}"
    )


JOB_JS = """
<script>
const jobId = __JOB_ID__;
const initiallyFinal = __FINAL__;  // a page rendered after the end never reloads itself
const esc = s => String(s ?? '').replace(/[&<>"']/g, c => '&#'+c.charCodeAt(0)+';');
function stagesHtml(stages){
  return '<tr><th>stage</th><th>state</th><th>progress</th><th>docs</th><th>docs/s</th><th>ETA</th><th>counts</th></tr>' +
    (stages||[]).map(s => {
      const f = s.state==='done' ? 1 : (s.fraction||0);
      const counts = s.counts ? Object.entries(s.counts).map(([k,v]) => k+' '+v).join(', ') : '';
      const step = s.step !== undefined ? ('step '+s.step) : (s.docs ?? '');
      return `<tr><td>${esc(s.name)}</td><td class="${s.state}">${s.state}</td>`+
        `<td><span class="bar"><span style="width:${Math.round(f*100)}%"></span></span></td>`+
        `<td>${esc(step)}</td><td>${esc(s.docs_per_s ?? '')}</td>`+
        `<td>${s.eta_s!==undefined ? Math.round(s.eta_s)+' s' : ''}</td><td>${esc(counts)}</td></tr>`;
    }).join('');
}
function curve(stages){
  const t = (stages||[]).find(s => s.curve && s.curve.length);
  const svg = document.getElementById('curve');
  if(!t){ svg.style.display='none'; return; }
  svg.style.display='';
  const pts = t.curve, W=600, H=200;
  const maxS = Math.max(...pts.map(p=>p.step)), losses = pts.map(p=>p.loss);
  const lo = Math.min(...losses), hi = Math.max(...losses);
  const xy = p => [(p.step/Math.max(maxS,1))*(W-20)+10, H-10-((p.loss-lo)/Math.max(hi-lo,1e-9))*(H-20)];
  svg.innerHTML = `<polyline fill="none" stroke="#36c" stroke-width="1.5" points="${pts.map(p=>xy(p).join(',')).join(' ')}"/>`+
    `<text x="12" y="14" font-size="11">loss ${hi.toFixed(3)} → ${losses[losses.length-1].toFixed(3)} (step ${maxS})</text>`;
}
function show(job){
  const st = document.getElementById('state');
  st.textContent = job.state; st.className = 'state ' + job.state;
  document.getElementById('stages').innerHTML = stagesHtml(job.progress.stages);
  document.getElementById('error').textContent = job.error || '';
  curve(job.progress.stages);
  if(['succeeded','failed','cancelled'].includes(job.state) && !initiallyFinal && !window.reloaded){
    window.reloaded = true; setTimeout(() => location.reload(), 500);
  }
}
const es = new EventSource('/api/v1/jobs/' + jobId + '/events');
es.addEventListener('job', e => show(JSON.parse(e.data)));
es.addEventListener('end', () => es.close());
async function tail(){
  const r = await fetch('/api/v1/jobs/' + jobId + '/logs?tail=60');
  if(r.ok){ const pre = document.getElementById('log'); pre.textContent = await r.text(); pre.scrollTop = pre.scrollHeight; }
}
tail(); const logTimer = setInterval(tail, 2000);
curve(__STAGES__);
</script>
"""


def _stage_rows(job: Job) -> str:
    rows = "<tr><th>stage</th><th>state</th><th>progress</th><th>docs</th><th>docs/s</th><th>ETA</th><th>counts</th></tr>"
    for s in job.progress.get("stages") or [{"name": n, "state": "pending"} for n in job.params.get("stages", [])]:
        frac = 1.0 if s.get("state") == "done" else float(s.get("fraction") or 0)
        counts = ", ".join(f"{k} {v}" for k, v in (s.get("counts") or {}).items())
        docs = f"step {s['step']}" if "step" in s else s.get("docs", "")
        eta = f"{s['eta_s']:.0f} s" if s.get("eta_s") is not None else ""
        rows += (f"<tr><td>{_e(s.get('name'))}</td><td class='{_e(s.get('state'))}'>{_e(s.get('state'))}</td>"
                 f"<td>{_bar(frac)}</td><td>{_e(docs)}</td><td>{_e(s.get('docs_per_s', ''))}</td><td>{eta}</td>"
                 f"<td>{_e(counts)}</td></tr>")
    return rows


def _job_body(job: Job, csrf: str, files: list[dict[str, Any]], has_shards: bool) -> str:
    import json

    hidden = f"<input type='hidden' name='csrf' value='{_e(csrf)}'>"
    buttons = ""
    if job.state not in FINAL_STATES:
        buttons += (f"<form class='inline' method='post' action='/jobs/{job.id}/cancel'>{hidden}"
                    "<button id='cancel'>Cancel</button></form> ")
    if job.state in ("failed", "cancelled"):
        buttons += (f"<form class='inline' method='post' action='/jobs/{job.id}/retry'>{hidden}"
                    "<button id='retry'>Retry</button></form> ")
    train = ""
    if job.kind == "curate" and job.state == "succeeded" and has_shards:
        train = (f"<h3>Pretrain on this job's shards</h3><form method='post' action='/jobs/{job.id}/train'>{hidden}"
                 "steps <input name='max_steps' type='number' value='300' min='1' style='width:6em'> "
                 "d_model <input name='d_model' type='number' value='128' style='width:5em'> "
                 "layers <input name='n_layers' type='number' value='4' style='width:4em'> "
                 "heads <input name='n_heads' type='number' value='4' style='width:4em'> "
                 "<button id='train'>Train</button></form>")
    paths = {f["path"] for f in files}
    links = []
    for label, path in (("report", "report/index.html"), ("dataset card", "report/dataset_card.md"),
                        ("manifest", "shards/manifest.json")):
        for candidate in ([path] + [p for p in sorted(paths) if p.endswith(path.split("/")[-1])]):
            if candidate in paths:
                links.append(f"<a id='link-{label.replace(' ', '-')}' href='/api/v1/jobs/{job.id}/files/{_e(candidate)}'>"
                             f"{label}</a>")
                break
    file_list = "".join(f"<li><a href='/api/v1/jobs/{job.id}/files/{_e(f['path'])}'>{_e(f['path'])}</a> "
                        f"({f['size']} bytes)</li>" for f in files[:300])
    source = f" on <a href='/jobs/{job.source_job}'>job {job.source_job}</a>" if job.source_job else ""
    return (
        f"<h2>Job {job.id} <small>{_e(job.name)}</small> <span id='state' class='state {job.state}'>{job.state}</span>"
        f"</h2><p>{job.kind}{source}, attempt {job.attempts}, submitted {_ago(job.created_at)}"
        f"{', finished ' + _ago(job.finished_at) if job.finished_at else ''}</p>"
        f"<p>{buttons}{' · '.join(links)}</p><div id='error' class='{'error' if job.error else ''}'>{_e(job.error)}</div>"
        f"<table id='stages'>{_stage_rows(job)}</table>"
        "<svg id='curve' width='600' height='200' style='display:none'></svg>"
        f"{train}<h3>Log</h3><pre class='log' id='log'></pre>"
        f"<details><summary>Job file</summary><pre>{_e(job.spec)}</pre></details>"
        f"<details><summary>Files ({len(files)})</summary><ul>{file_list}</ul></details>"
        + JOB_JS.replace("__JOB_ID__", str(int(job.id))).replace(
            "__FINAL__", "true" if job.state in FINAL_STATES else "false").replace(
            "__STAGES__", json.dumps(job.progress.get("stages") or []).replace("</", "<\\/"))
    )


def install_web(app: FastAPI, services: Any) -> None:
    from service.app import SubmitRequest, TrainRequest, list_files, submit_job, submit_train

    store = services.store
    settings = services.settings

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> Response:
        jobs, _ = store.list(None, 50, 0)
        csrf = _csrf(request)
        return _page("curate jobs", _index_body(jobs, csrf, None, "", ""), csrf)

    @app.post("/submit", include_in_schema=False)
    async def submit_form(request: Request) -> Response:
        form = await request.form()
        _check_csrf(request, form)
        spec = str(form.get("spec") or "")
        upload = form.get("upload")
        if upload is not None and hasattr(upload, "read"):
            data = await upload.read()
            if data:
                spec = data.decode("utf-8", errors="replace")
        name = str(form.get("name") or "")
        try:
            priority = int(str(form.get("priority") or 0))
            job, _ = await run_in_threadpool(submit_job, services,
                                             SubmitRequest(spec=spec, name=name, priority=priority))
        except HTTPException as e:
            jobs, _ = await run_in_threadpool(store.list, None, 50, 0)
            csrf = _csrf(request)
            return _page("curate jobs", _index_body(jobs, csrf, str(e.detail), spec, name), csrf, e.status_code)
        except ValueError as e:
            jobs, _ = await run_in_threadpool(store.list, None, 50, 0)
            csrf = _csrf(request)
            return _page("curate jobs", _index_body(jobs, csrf, f"priority: {e}", spec, name), csrf, 422)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(job_id: int, request: Request) -> Response:
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        run = job_dir(settings.home, job.id)
        files = list_files(run)
        has_shards = (run / "shards" / "_SUCCESS").is_file()
        csrf = _csrf(request)
        return _page(f"job {job.id}", _job_body(job, csrf, files, has_shards), csrf)

    @app.post("/jobs/{job_id}/{action}", include_in_schema=False)
    async def job_action(job_id: int, action: str, request: Request) -> Response:
        form = await request.form()
        _check_csrf(request, form)
        job = await run_in_threadpool(store.get, job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        if action == "cancel":
            if job.state not in FINAL_STATES:
                await run_in_threadpool(store.request_cancel, job_id)
        elif action == "retry":
            await run_in_threadpool(store.retry, job_id)
            services.wake()
        elif action == "train":
            def num(key: str) -> int | None:
                v = str(form.get(key) or "").strip()
                return int(v) if v else None

            try:
                body = TrainRequest(max_steps=num("max_steps") or 300, d_model=num("d_model"),
                                    n_layers=num("n_layers"), n_heads=num("n_heads"))
            except ValueError as e:
                raise HTTPException(422, f"train: {e}") from None
            train = await run_in_threadpool(submit_train, services, job, body)
            return RedirectResponse(f"/jobs/{train.id}", status_code=303)
        else:
            raise HTTPException(404, f"no action {action!r}")
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request) -> Response:
        csrf = _csrf(request)
        return _page("log in", "<h2>Log in</h2><form method='post' action='/login'>"
                     f"<input type='hidden' name='csrf' value='{_e(csrf)}'>token <input name='token' "
                     "type='password' size='60'> <button>Log in</button></form>", csrf)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        _check_csrf(request, form)
        token = str(form.get("token") or "")
        if not token or await run_in_threadpool(store.check_token, token) is None:
            raise HTTPException(401, "unknown token")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    _ = LOG_FILE
