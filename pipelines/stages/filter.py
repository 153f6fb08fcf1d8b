"""Filter: the latest documents stage (normally ingest) -> RUN/filter/ + RUN/rejected/filter/.

Documents travel in batches: language ID and the quality classifier are one native fastText call per
batch, and the models load once per worker in `DoFn.setup`. Kept documents carry every rule's
measurements as typed columns; each dropped one is written with its reason, the measured value and
the limit it failed, so `RUN/rejected/filter/` says why anything went.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa

from filters.config import FilterConfig
from filters.document import Document, Rejected
from filters.rules import REJECTED_EXTRAS, SIGNALS, FilterChain
from pipelines.config import JobConfig
from pipelines.document import document_schema, rejected_schema
from pipelines.io.parquet import ReadDocuments, RowSlice, file_rows, row_slices
from pipelines.runlayout import RunLayout
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from pipelines.stages.common import CountKept, SplitRejected, WriteDocuments, WriteRejected

NAME = get_stage("filter").folder

_ARROW_TYPES = {"string": pa.string(), "float": pa.float64(), "int": pa.int64()}

SIGNAL_FIELDS = [pa.field(name, _ARROW_TYPES[t]) for name, t in SIGNALS.items()]
REJECTED_FIELDS = [pa.field(name, _ARROW_TYPES[t]) for name, t in REJECTED_EXTRAS.items()]
OUTPUT_SCHEMA = document_schema(SIGNAL_FIELDS)
REJECTED_OUTPUT_SCHEMA = rejected_schema(REJECTED_FIELDS)


class FilterBatch(beam.DoFn):
    """A batch of documents -> each kept `Document` (cleaned, with signals) or its `Rejected` record."""

    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg
        self.chain: FilterChain | None = None

    def setup(self) -> None:
        self.chain = FilterChain(self.cfg)
        self.chain.load()

    def process(self, batch: list[Document]):
        counter(NAME, "batches").inc()
        for item in self.chain.apply(batch):
            if isinstance(item, Rejected):
                yield item
                continue
            for kind in ("email", "ip", "phone"):
                n = item.signals.get(f"pii_{kind}")
                if n:
                    counter(NAME, f"pii.{kind}").inc(n)
            removed = item.signals.get("c4_lines_removed")
            if removed:
                counter(NAME, "c4.lines_removed").inc(removed)
            yield item


class Filter(beam.PTransform):
    """Parquet document files -> (kept documents, rejected records)."""

    def __init__(self, sources: list[str] | list[RowSlice], cfg: FilterConfig):
        super().__init__()
        self.sources, self.cfg = sources, cfg

    def expand(self, pbegin):
        kept, rejected = (
            pbegin
            | "Read" >> ReadDocuments(self.sources, batched=True, batch_size=self.cfg.batch_size)
            | "Rules" >> beam.ParDo(FilterBatch(self.cfg))
            | "Split" >> SplitRejected()
        )
        return kept | "CountKept" >> beam.ParDo(CountKept(NAME)), rejected


# The rules cost a few ms per document, ~1,000x what reading it costs: the input is read in slices so
# that every worker gets work even when the input is one file (one ingest part holds up to ~128 MB of
# input): MIN_SLICES even slices at least (a number that divides among 2, 4, 8 or 16 workers), more
# where a slice would hold more than MAX_SLICE_BATCHES batches.
MIN_SLICES = 16
# ~2.6 ms CPU per document: two worker processes beat this one from ~300 documents on (2 cores, the
# shared web corpus: 1,056 documents filtered in 2.4-2.8 s on two workers against 3.5-3.7 s here).
IN_PROCESS_MAX_DOCS = 500
MAX_SLICE_BATCHES = 16


def slice_count(total_docs: int, batch_size: int) -> int:
    need = math.ceil(total_docs / (batch_size * MAX_SLICE_BATCHES))
    return MIN_SLICES * max(1, math.ceil(need / MIN_SLICES))


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{int(st.st_mtime)}"


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    cfg = config.filter
    source = layout.latest_documents_stage(before=NAME)
    paths = layout.parts(source)
    if not paths:
        raise StageError(f"stage '{source}' in {layout.root} has no Parquet parts to filter")
    chain = FilterChain(cfg)  # fails early on a missing model or list, before Beam starts
    n = cfg.num_shards or len(paths)

    files = file_rows(paths)  # one footer read per file, for the count and the slices
    total_docs = sum(n for _, n in files)
    slices = row_slices(files, slice_count(total_docs, cfg.batch_size))

    def build(p: beam.Pipeline, out: str, rejected_dir: str) -> None:
        docs, rejected = p | "Filter" >> Filter(slices, cfg)
        _ = docs | "WriteDocs" >> WriteDocuments(out, n, OUTPUT_SCHEMA)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir, 1, REJECTED_OUTPUT_SCHEMA)

    inputs = [f"{source}:{layout.read_success(source)['fingerprint']}"]
    if chain.lid is not None:
        inputs.append(f"lid_model:{_file_id(chain.lid.path)}")
    if chain.quality is not None:
        inputs.append(f"quality_model:{_file_id(chain.quality.path)}")
    stage = BeamStage(
        NAME, build, inputs,
        config={"filter": cfg},
        allow_empty=True,
        total_docs=total_docs,
        in_process_max_docs=IN_PROCESS_MAX_DOCS,
        finish=lambda _out, _rejected: {"source_stage": source, "rules": chain.active_rules()},
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"{get_stage('filter').help}. Reads the latest documents stage of the run (normally ingest); thresholds come from "
        "the `filter:` section of --config and --set filter.<rule>.<key>=VALUE (null turns a check off)."
    )


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    counts = stats["counts"]
    print(f"filter: {counts['out']} kept, {counts['rejected']} rejected of {counts['in']} -> {args.run}/filter")
    if counts["out"] == 0:
        print(f"  warning: every document was dropped; see {args.run}/rejected/filter/ for the reasons")
    for reason, n in sorted(stats["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  rejected {reason}: {n}")
    return 0
