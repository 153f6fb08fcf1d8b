"""Ingest: raw WARC / JSONL / Parquet / text files -> normalized Documents in RUN/ingest/."""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from filters.document import Document, Rejected
from pipelines import progress, storage
from pipelines.config import IngestConfig, InputSpec, JobConfig, check_inputs
from pipelines.io.inputs import InputFile, list_input_files, read_input_file
from pipelines.runlayout import RunLayout
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, counter, run_beam_stage
from pipelines.stages.common import CountKept, SplitRejected, WriteDocuments, WriteRejected

NAME = get_stage("ingest").folder
SHARD_INPUT_BYTES = 128 * 1024 * 1024


class ReadFiles(beam.DoFn):
    """One input file -> its Documents and its Rejected records, mixed (split by SplitRejected)."""

    def __init__(self, cfg: IngestConfig, storage_cfg: storage.StorageConfig | None = None):
        self.cfg = cfg
        self.storage_cfg = storage_cfg or storage.StorageConfig()

    def setup(self) -> None:
        storage.configure(self.storage_cfg)  # endpoint and retries, in every worker process

    def process(self, f: InputFile) -> Iterator[Document | Rejected]:
        counter(NAME, "files").inc()
        yield from read_input_file(f, self.cfg)
        progress.tick(docs=0, nbytes=f.size)


class Ingest(beam.PTransform):
    """Input files -> (documents, rejected)."""

    def __init__(self, files: list[InputFile], cfg: IngestConfig, storage_cfg: storage.StorageConfig | None = None):
        super().__init__()
        self.files, self.cfg, self.storage_cfg = files, cfg, storage_cfg

    def expand(self, pbegin):
        docs, rejected = (
            pbegin
            | "ListFiles" >> beam.Create(self.files)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadFiles(self.cfg, self.storage_cfg))
            | "Split" >> SplitRejected()
        )
        return docs | "CountKept" >> beam.ParDo(CountKept(NAME)), rejected


# HTML extraction costs ~5 ms CPU per WARC record (~33 records per MB of WARC.gz): two worker processes
# beat this one from ~13 MB of compressed WARC on (2 cores, the shared web corpus: 30 MB ran in 4.5 s
# on two workers against 6.1 s here).
IN_PROCESS_MAX_BYTES = 16 * 1024 * 1024


def num_shards_for(files: list[InputFile], cfg: IngestConfig) -> int:
    if cfg.num_shards:
        return cfg.num_shards
    return max(1, math.ceil(sum(f.size for f in files) / SHARD_INPUT_BYTES))


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    check_inputs(config)
    files = list_input_files(config.inputs)
    n = num_shards_for(files, config.ingest)

    def build(p: beam.Pipeline, out: str, rejected_dir: str) -> None:
        docs, rejected = p | "Ingest" >> Ingest(files, config.ingest, config.storage)
        _ = docs | "WriteDocs" >> WriteDocuments(out, n)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir)

    inputs = [f"{f.ctx.dataset}:{f.ctx.path}:{f.size}" for f in files]
    stage = BeamStage(
        NAME, build, inputs,
        config={"ingest": config.ingest, "inputs": config.inputs},
        total_bytes=sum(f.size for f in files),
        in_process_max_bytes=IN_PROCESS_MAX_BYTES,
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", action="append", nargs="+", default=[], metavar="[NAME=]PATH_OR_GLOB",
        help="input files or globs, several after one --input (an unquoted glob the shell expanded) or "
             "--input repeated; NAME is the dataset name used for mixtures (default: the kind), and applies "
             "to the paths that follow it in the same --input",
    )
    parser.add_argument(
        "--input-list", action="append", default=[], metavar="[NAME=]PATHS_FILE",
        help="a path list (Common Crawl's warc.paths.gz, plain or gzip; local or a URL): every listed file "
             "is an input, in list order, named by its listed path",
    )
    parser.add_argument(
        "--input-base", default="", metavar="PREFIX",
        help="where the listed paths are read from: s3://commoncrawl/, https://data.commoncrawl.org/ or a "
             "local mirror (default: the listed paths as they are)",
    )
    parser.add_argument("--kind", choices=["auto", "web", "book", "article", "text"], default="auto")
    parser.add_argument("--text-field", default="text", help="JSONL / Parquet field holding the text")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if not args.input and not getattr(args, "input_list", None):
        return config
    from dataclasses import replace

    specs = []
    for item in getattr(args, "input_list", None) or []:
        name, path = split_input_arg(item)
        specs.append(InputSpec(path_list=path, base=args.input_base, name=name, kind=args.kind,
                               text_field=args.text_field))
    for group in args.input:
        group_name = ""
        for item in group:
            name, path = split_input_arg(item)
            group_name = name or group_name
            specs.append(InputSpec(path=path, name=group_name, kind=args.kind, text_field=args.text_field))
    return replace(config, inputs=specs)


def split_input_arg(item: str) -> tuple[str, str]:
    """`NAME=PATH` -> (NAME, PATH); a plain path (which may itself hold `=`) -> ("", PATH)."""
    name, sep, path = item.partition("=")
    if sep and path and name and not item.startswith(("/", ".")) and "/" not in name:
        return name, path
    return "", item


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    print(f"ingest: {stats['counts']['out']} documents, {stats['counts']['rejected']} rejected -> {args.run}/ingest")
    for reason, n in stats["rejected_by_reason"].items():
        print(f"  rejected {reason}: {n}")
    return 0
