"""`curate jobs [--state S]`: the service's jobs, newest first."""

from __future__ import annotations

import argparse
import time

from service.client import add_client_arguments, run_client

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="queued, running, succeeded, failed or cancelled")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0)
    add_client_arguments(parser)


def _jobs(client, args: argparse.Namespace) -> int:
    query = f"?limit={args.limit}&offset={args.offset}" + (f"&state={args.state}" if args.state else "")
    data = client.get(f"/api/v1/jobs{query}")
    print(f"{'ID':>6}  {'STATE':<10} {'KIND':<7} {'PROGRESS':>8}  {'SUBMITTED':<19}  NAME")
    for j in data["jobs"]:
        frac = 1.0 if j["state"] == "succeeded" else j["progress"].get("fraction", 0.0)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j["created_at"]))
        print(f"{j['id']:>6}  {j['state']:<10} {j['kind']:<7} {frac * 100:>7.0f}%  {when}  {j['name']}")
    print(f"({len(data['jobs'])} of {data['total']})")
    return 0


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return run_client(_jobs, args)
