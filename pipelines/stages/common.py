"""Transforms every stage reuses: writing kept documents and rejected records as Parquet shards."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pyarrow as pa

from filters.document import Document, Rejected, reason_family
from pipelines import progress
from pipelines.document import DOCUMENT_SCHEMA, REJECTED_SCHEMA, rejected_to_row, to_row
from pipelines.io.parquet import WriteShards
from pipelines.stages.base import counter


class WriteDocuments(beam.PTransform):
    def __init__(self, out_dir: str | Path, num_shards: int, schema: pa.Schema = DOCUMENT_SCHEMA):
        super().__init__()
        self.out_dir, self.num_shards, self.schema = out_dir, num_shards, schema

    def expand(self, docs):
        schema = self.schema
        return (
            docs
            | "ToRow" >> beam.Map(lambda d: to_row(d, schema))
            | "Write" >> WriteShards(self.out_dir, schema, self.num_shards)
        )


class _CountRejected(beam.DoFn):
    def __init__(self, stage: str):
        self.stage = stage

    def process(self, rej: Rejected):
        counter(self.stage, f"rejected.{reason_family(rej.reason)}").inc()
        progress.tick()
        yield rej


class WriteRejected(beam.PTransform):
    """Rejected records -> `rejected/<stage>/part-*.parquet`, counted per reason in Beam metrics."""

    def __init__(self, stage: str, out_dir: str | Path, num_shards: int = 1, schema: pa.Schema = REJECTED_SCHEMA):
        super().__init__()
        self.stage, self.out_dir, self.num_shards, self.schema = stage, out_dir, num_shards, schema

    def expand(self, rejected):
        schema = self.schema
        return (
            rejected
            | "Count" >> beam.ParDo(_CountRejected(self.stage))
            | "ToRow" >> beam.Map(lambda r: rejected_to_row(r, schema))
            | "Write" >> WriteShards(self.out_dir, schema, self.num_shards)
        )


class CountKept(beam.DoFn):
    def __init__(self, stage: str):
        self.stage = stage

    def process(self, doc: Document):
        counter(self.stage, "kept").inc()
        progress.tick()
        yield doc


class SplitRejected(beam.PTransform):
    """A PCollection of `Document | Rejected` (or any items with rejections mixed in) -> (kept, rejected).

    Two filters rather than a multi-output ParDo: Beam's DaskRunner does not route tagged outputs,
    and every stage must run the same on every runner.
    """

    def expand(self, items):
        kept = items | "Kept" >> beam.Filter(lambda x: not isinstance(x, Rejected))
        rejected = items | "Rejected" >> beam.Filter(lambda x: isinstance(x, Rejected))
        return kept, rejected
