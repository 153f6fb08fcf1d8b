"""`curate quality train`: train the fastText quality classifier the `quality` filter rule uses.

    curate quality train --positive 'books/*.txt' --positive 'articles/*.jsonl' \\
                         --negative 'RUN/ingest/*.parquet' --negative-kind web --out models/quality.bin

Inputs are plain text files (one document each), JSONL / Parquet records, or WARC files, read and
normalized as ingest reads them; Parquet files written by a curate stage can be narrowed to some
document kinds (`--positive-kind book,article`). Prints the held-out precision / recall and writes
them next to the model as `<model>.json`. Then filter with `--set filter.quality.model=<model>`.
"""

from __future__ import annotations

import argparse
import glob
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from filters.quality import train_classifier
from pipelines.config import IngestConfig, InputSpec, JobConfig
from pipelines.configlib import ConfigError, to_dict
from pipelines.io.inputs import list_input_files, read_input_file

NEEDS_RUN = False


def _stage_parquet(path: str) -> bool:
    names = set(pq.ParquetFile(path).schema_arrow.names)
    return {"id", "text", "kind"} <= names


def read_docs(patterns: list[str], kinds: set[str] | None) -> Iterator[tuple[str, str]]:
    """(id, text) of every document the globs name; `kinds` narrows curate stage Parquet files."""
    ingest = IngestConfig()
    for pattern in patterns:
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise ConfigError(f"nothing matches {pattern!r}")
        for path in paths:
            if path.endswith(".parquet") and _stage_parquet(path):
                table = pq.read_table(path, columns=["id", "text", "kind"])
                for doc_id, text, kind in zip(*(table.column(c).to_pylist() for c in ("id", "text", "kind")), strict=True):
                    if kinds is None or kind in kinds:
                        yield doc_id, text
                continue
            for f in list_input_files([InputSpec(path=path)]):
                for item in read_input_file(f, ingest):
                    text = getattr(item, "text", None)
                    if text and (kinds is None or item.kind in kinds):
                        yield item.id, text


def _kinds(value: str | None) -> set[str] | None:
    return {k.strip() for k in value.split(",") if k.strip()} if value else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["train"], help="what to do (train)")
    parser.add_argument("--positive", action="append", required=True, metavar="GLOB",
                        help="reference-quality documents (repeatable): books, articles, Wikipedia...")
    parser.add_argument("--negative", action="append", required=True, metavar="GLOB",
                        help="raw web documents (repeatable)")
    parser.add_argument("--positive-kind", help="only these kinds from curate Parquet files (comma list)")
    parser.add_argument("--negative-kind", help="only these kinds from curate Parquet files (comma list)")
    parser.add_argument("--out", required=True, help="model file to write (.bin; .ftz for a quantized one)")


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    cfg = config.filter.quality
    positives = list(read_docs(args.positive, _kinds(args.positive_kind)))
    negatives = list(read_docs(args.negative, _kinds(args.negative_kind)))
    print(f"quality: {len(positives)} positive and {len(negatives)} negative documents")
    report = train_classifier(positives, negatives, args.out, cfg, seed=config.seed)
    card = {**report.to_dict(), "config": to_dict(cfg), "positive": args.positive, "negative": args.negative}
    Path(f"{args.out}.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    print(
        f"quality: trained on {report.train_examples['positive']} examples per class; held-out "
        f"{report.holdout_documents['positive']} positive / {report.holdout_documents['negative']} negative "
        f"documents: precision {report.precision:.3f}, recall {report.recall:.3f}, F1 {report.f1:.3f} "
        f"(score >= {report.threshold:g})"
    )
    print(f"  model: {args.out}  (use --set filter.quality.model={args.out})")
    return 0
