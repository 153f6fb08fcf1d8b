"""`curate token create NAME`: a bearer token for the service, printed once (only its hash is stored)."""

from __future__ import annotations

import argparse
import sys

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["create"])
    parser.add_argument("name")
    parser.add_argument("--home", default=".curate")
    parser.add_argument("--db", help="postgresql://... or a SQLite file (default HOME/curate.db)")


def main(args: argparse.Namespace, config: object, beam_args: list[str]) -> int:
    from pathlib import Path

    from service.db import Store

    store = Store(args.db or str(Path(args.home).resolve() / "curate.db"))
    try:
        token = store.create_token(args.name)
    except Exception as e:  # the name is taken
        print(f"curate token: cannot create {args.name!r}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(token)
    print(f"(token {args.name!r}: shown once, only its hash is stored)", file=sys.stderr)
    return 0
