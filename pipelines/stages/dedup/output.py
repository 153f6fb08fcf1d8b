"""Pass 7 and the stage's output formats: each input file re-read once, its kept rows written in order
to the output file of the same name (with `dup_cluster`, `dup_count`), their signatures to
`_signatures/`, and its dropped rows turned into Rejected records."""

from __future__ import annotations

import os
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa

from filters.document import Rejected
from pipelines import storage
from pipelines.document import from_row, rejected_schema
from pipelines.io import arrays as arrays_io
from pipelines.io.parquet import AtomicParquetWriter, open_parquet
from pipelines.stages.base import counter
from pipelines.stages.dedup.plan import NAME, Plan, SourceFile, work_path

SIGNATURES = "_signatures"  # "_": pyarrow dataset discovery of RUN/dedup skips it
EDGES = "_edges"

SIGNATURE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),  # num_perm little-endian uint32
        pa.field("exact", pa.binary(16), nullable=False),  # xxh3-128 of the normalized text
        pa.field("url_key", pa.uint64(), nullable=False),  # 0: no URL
        pa.field("score", pa.float64(), nullable=True),
        pa.field("num_shingles", pa.int64(), nullable=False),
    ]
)
EDGE_SCHEMA = pa.schema(
    [
        pa.field("edge", pa.string(), nullable=False),  # "id_a|id_b"; rows are sorted by (edge, kind)
        pa.field("id_a", pa.string(), nullable=False),
        pa.field("id_b", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # exact / url / near
        pa.field("jaccard", pa.float64(), nullable=True),  # verified similarity of near edges
    ]
)
DUP_FIELDS = [pa.field("dup_cluster", pa.string(), nullable=False), pa.field("dup_count", pa.int32(), nullable=False)]
REJECTED_SCHEMA = rejected_schema([pa.field("duplicate_of", pa.string(), nullable=False)])


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = [f for f in input_schema if f.name not in ("dup_cluster", "dup_count")]
    return pa.schema([*fields, *DUP_FIELDS])


def signature_schema(num_perm: int) -> pa.Schema:
    return pa.schema([f if f.name != "signature" else pa.field("signature", pa.binary(4 * num_perm), nullable=False)
                      for f in SIGNATURE_SCHEMA])


class WriteFile(beam.DoFn):
    """Re-read one input file and apply its decisions: the kept rows go to the output file of the same
    name (same rows order, so the input's sharding and id order carry over), their stored signatures
    to `_signatures/` row by row; dropped rows become Rejected records (the only per-row output)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, element):
        _, g = element
        files = list(g["file"])
        if not files:
            return
        sf: SourceFile = files[0]
        decisions: dict[int, tuple] = {}
        for items in g["dec"]:
            decisions.update(items)
        with arrays_io.load(work_path(self.plan, sf)) as npz:  # an NpzFile reads a member on every access
            sketch = {k: npz[k] for k in ("signatures", "exact", "url", "num_shingles")}
        name = os.path.basename(sf.path)
        out = self.plan.out_dir
        kept_total = 0
        sig_path = storage.join(storage.join(out, SIGNATURES), name)
        with AtomicParquetWriter(storage.join(out, name), self.plan.out_schema) as docs_w, \
                AtomicParquetWriter(sig_path, signature_schema(self.plan.cfg.num_perm)) as sig_w, \
                open_parquet(sf.path) as pf:
            row0 = 0
            for batch in pf.iter_batches(batch_size=self.plan.cfg.batch_size):
                n = batch.num_rows
                keep = np.ones(n, dtype=bool)
                count = np.ones(n, dtype=np.int32)
                dropped = []
                for row in range(row0, row0 + n):
                    d = decisions.get(row)
                    if d is None:
                        continue
                    if d[0] == "keep":
                        count[row - row0] = d[1]
                    else:
                        keep[row - row0] = False
                        dropped.append((row - row0, d))
                table = pa.Table.from_batches([batch])
                for i, d in dropped:
                    doc = from_row(table.slice(i, 1).to_pylist()[0])
                    yield Rejected.of(doc, d[1], duplicate_of=d[2])
                idx = np.flatnonzero(keep)
                kept = table.take(pa.array(idx))
                docs_w.write(_with_dup_columns(kept, count[idx], self.plan.out_schema))
                sig_w.write(_signature_table(kept, sketch, row0 + idx, self.plan))
                kept_total += len(idx)
                row0 += n
        counter(NAME, "kept").inc(kept_total)


def _with_dup_columns(kept: pa.Table, counts: np.ndarray, schema: pa.Schema) -> pa.Table:
    cols = {name: kept.column(name) for name in kept.column_names if name not in ("dup_cluster", "dup_count")}
    cols["dup_cluster"] = kept.column("id")
    cols["dup_count"] = pa.array(counts, type=pa.int32())
    return pa.table([cols[f.name] for f in schema], schema=schema)


def _signature_table(kept: pa.Table, sketch: Any, rows: np.ndarray, plan: Plan) -> pa.Table:
    num_perm = plan.cfg.num_perm
    sig = np.ascontiguousarray(sketch["signatures"][rows].astype("<u4"))
    exact = np.ascontiguousarray(sketch["exact"][rows].astype("<u8"))
    n = len(rows)
    col = plan.score_column
    score = kept.column(col).cast(pa.float64()) if col and col in kept.column_names else pa.nulls(n, pa.float64())
    return pa.table(
        [
            kept.column("id"),
            pa.Array.from_buffers(pa.binary(4 * num_perm), n, [None, pa.py_buffer(sig.tobytes())]),
            pa.Array.from_buffers(pa.binary(16), n, [None, pa.py_buffer(exact.tobytes())]),
            pa.array(sketch["url"][rows], type=pa.uint64()),
            score,
            pa.array(sketch["num_shingles"][rows], type=pa.int64()),
        ],
        schema=signature_schema(num_perm),
    )


def edge_row(edge) -> dict[str, Any]:
    a, b, kind, j = edge
    return {"edge": f"{a.id}|{b.id}", "id_a": a.id, "id_b": b.id, "kind": kind, "jaccard": j}
