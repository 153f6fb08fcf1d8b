"""`curate retry ID`: queue a failed or cancelled job again; it resumes from its committed stages."""

from __future__ import annotations

import argparse

from service.client import add_client_arguments, run_client

HELP = "retry a failed or cancelled job"
NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int)
    add_client_arguments(parser)


def _retry(client, args: argparse.Namespace) -> int:
    job = client.post(f"/api/v1/jobs/{args.id}/retry")
    print(f"job {job['id']}: {job['state']}" + (" (cancel requested)" if job.get("cancel_requested") and job["state"] == "running" else ""))
    return 0


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return run_client(_retry, args)
