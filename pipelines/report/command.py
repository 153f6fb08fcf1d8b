"""`curate report --run RUN`: write RUN/report/index.html and the dataset card RUN/shards/README.md."""

from __future__ import annotations

import argparse
import sys

from pipelines.config import JobConfig
from pipelines.report.report import DEFAULT_EXACT_ROWS, DEFAULT_SAMPLE_ROWS, write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="where to write the page (default: RUN/report/index.html)")
    parser.add_argument("--no-card", action="store_true", help="do not write RUN/shards/README.md")
    parser.add_argument(
        "--sample-rows", type=int, default=DEFAULT_SAMPLE_ROWS,
        help="documents per stage read for histograms and, in large stages, for estimates",
    )
    parser.add_argument(
        "--exact-rows", type=int, default=DEFAULT_EXACT_ROWS,
        help="stages with at most this many documents are read completely (exact totals)",
    )


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    del config, beam_args  # the report reads only the run folder
    if args.sample_rows < 1 or args.exact_rows < 0:
        print("curate report: --sample-rows must be >= 1 and --exact-rows >= 0", file=sys.stderr)
        return 2
    try:
        written = write_report(args.run, out=args.out, card=not args.no_card,
                               sample_rows=args.sample_rows, exact_rows=args.exact_rows)
    except FileNotFoundError as e:
        print(f"curate report: {e}", file=sys.stderr)
        return 2
    for what, path in written.items():
        print(f"report: {what} -> {path}")
    if "card" not in written and not args.no_card:
        print("report: no shards in this run (curate tokenize has not run), so no dataset card")
    return 0
