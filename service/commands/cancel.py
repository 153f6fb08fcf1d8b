"""`curate cancel ID`: stop a queued or running job (SIGTERM to its process group, SIGKILL after the grace period)."""

from __future__ import annotations

import argparse

from service.client import add_client_arguments, job_action

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=int)
    add_client_arguments(parser)


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    return job_action("cancel", args)
