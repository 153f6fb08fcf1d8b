"""`curate serve`: the job service (HTTP API, web page and executor) on 127.0.0.1:8080 by default."""

from __future__ import annotations

import argparse
import os
import sys

from pipelines import storage
from service.settings import DEFAULT_HOST, DEFAULT_PORT, Settings

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default 127.0.0.1; any other "
                        "address requires tokens: curate token create NAME)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--home", default=".curate", help="service home: database and runs/ (default ./.curate)")
    parser.add_argument("--db", help="postgresql://... or a SQLite file (default HOME/curate.db)")
    parser.add_argument("--data-root", action="append", default=[],
                        help="folder or object-store prefix (s3://bucket/crawl/) jobs may read inputs from "
                        "(repeatable; default: the current folder)")
    parser.add_argument("--max-concurrent-jobs", type=int, default=1)
    parser.add_argument("--require-token", action="store_true", help="require a token even on loopback")
    parser.add_argument("--no-executor", action="store_true",
                        help="serve the API only; `curate worker` processes run the jobs")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL on cancel")
    parser.add_argument("--train-gpus", type=int, help="processes per train job (default: every local GPU, "
                        "torchrun when more than one; the CPU when none)")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(home=args.home, db=args.db, data_roots=args.data_root or [os.getcwd()], host=args.host,
                    port=args.port, max_concurrent_jobs=args.max_concurrent_jobs, require_token=args.require_token,
                    run_executor=not args.no_executor, grace_s=args.grace, train_gpus=args.train_gpus)


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate serve: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    if args.max_concurrent_jobs < 1:
        print("curate serve: --max-concurrent-jobs must be >= 1", file=sys.stderr)
        return 2
    for root in args.data_root:
        if not storage.is_remote(root) and not os.path.isdir(root):
            print(f"curate serve: --data-root {root}: not a folder", file=sys.stderr)
            return 2
    settings = settings_from(args)
    from service.db import Store

    store = Store(settings.db_url)
    if settings.require_token and store.token_count() == 0:
        print(f"curate serve: refusing to listen on {settings.host} without tokens: "
              f"create one with `curate token create NAME --home {args.home}`", file=sys.stderr)
        return 2
    store.close()
    import uvicorn

    from service.app import create_app

    app = create_app(settings)
    print(f"curate serve: http://{settings.host}:{settings.port}/  home {settings.home}  "
          f"data roots {', '.join(settings.data_roots)}", flush=True)
    # Open event streams (a browser on a job page) must not hold a stopping server forever.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)
    return 0
