"""`curate logs ID [--follow]`: a job's log (stdout and stderr of its `curate run`)."""

from __future__ import annotations

import argparse
import sys
import time

from service.client import FINAL, add_client_arguments, run_client

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int)
    parser.add_argument("-f", "--follow", action="store_true")
    add_client_arguments(parser)


def _logs(client, args: argparse.Namespace) -> int:
    offset = 0
    while True:
        body, headers = client.request("GET", f"/api/v1/jobs/{args.id}/logs?offset={offset}", raw=True)
        sys.stdout.write(body.decode(errors="replace"))
        sys.stdout.flush()
        offset = int(headers.get("x-next-offset", offset))
        if not args.follow:
            return 0
        if headers.get("x-job-state") in FINAL and not body:
            return 0
        if not body:
            time.sleep(1.0)


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return run_client(_logs, args)
