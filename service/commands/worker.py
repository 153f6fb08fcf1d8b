"""`curate worker --db postgresql://...`: take jobs from a shared queue (no HTTP), e.g. on another machine
that shares the service home's runs/ folder."""

from __future__ import annotations

import argparse
import signal
import sys

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="the service's database (postgresql://... or SQLite file)")
    parser.add_argument("--home", default=".curate", help="service home whose runs/ the jobs write (shared)")
    parser.add_argument("--max-concurrent-jobs", type=int, default=1)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--train-gpus", type=int)


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate worker: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    from pathlib import Path

    from service.db import Store
    from service.executor import Executor

    executor = Executor(Store(args.db), Path(args.home).resolve(), max_concurrent=args.max_concurrent_jobs,
                        grace_s=args.grace, train_gpus=args.train_gpus)

    def stop(signum: int, frame: object) -> None:
        executor.stop_soon()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"curate worker {executor.worker}: taking jobs from the queue", flush=True)
    executor.run_forever()
    return 0
