"""curate as a service: a job queue in SQLite or PostgreSQL, an executor that runs each job as `curate run`
in its own process group, an HTTP API and a server-rendered web page on top.

Layering: `service` imports `pipelines`; `pipelines` never imports `service`.
"""
