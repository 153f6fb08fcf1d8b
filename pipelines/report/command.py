"""`curate report --run RUN` and `write_report` (what `curate run` calls): gather the run's numbers
(data.py), render the page (page.py) and the dataset card (card.py), write both atomically."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipelines import storage
from pipelines.config import JobConfig
from pipelines.report.card import render_card
from pipelines.report.data import DEFAULT_EXACT_ROWS, DEFAULT_SAMPLE_ROWS, gather, shards_dir
from pipelines.report.page import render_page
from pipelines.runlayout import RunLayout

# ---- writing ------------------------------------------------------------------------------------------


def _write_text(path: str, text: str) -> None:
    """Locally: a temporary name, then a rename; on an object store one PUT (the object appears whole)."""
    if storage.is_remote(path):
        storage.write_bytes(path, text.encode("utf-8"))
        return
    local = Path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, local)


def write_report(
    run: str | Path | RunLayout, *, out: str | Path | None = None, card: bool = True,
    sample_rows: int = DEFAULT_SAMPLE_ROWS, exact_rows: int = DEFAULT_EXACT_ROWS,
) -> dict[str, Path | str]:
    """Write RUN/report/index.html (or `out`) and, when the run has shards, RUN/shards/README.md.

    Returns the paths written: {"report": ..., "card": ...} (no "card" without shards).
    """
    layout = run if isinstance(run, RunLayout) else RunLayout(run)
    if layout.remote:
        storage.check_reachable(layout.url)  # a missing bucket or no access: fail, naming it
        if not storage.walk_files(layout.url):
            raise FileNotFoundError(f"run folder {layout.url} does not exist")
    elif not layout.root.is_dir():
        raise FileNotFoundError(f"run folder {layout.root} does not exist")
    data = gather(layout, sample_rows=sample_rows, exact_rows=exact_rows)
    written: dict[str, Path | str] = {}
    page = str(out) if out else layout.join("report", "index.html")
    _write_text(page, render_page(data))
    written["report"] = Path(page) if not storage.is_remote(page) else page
    if card:
        text = render_card(data)
        d = shards_dir(layout)
        if text is not None and d is not None:
            readme = storage.join(str(d), "README.md")
            _write_text(readme, text)
            written["card"] = Path(readme) if not storage.is_remote(readme) else readme
    return written


# ---- command line -------------------------------------------------------------------------------------


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
