"""dedup_lines: remove lines / paragraphs that many documents share (boilerplate), after document dedup.

    RUN/<dedup|filter|ingest>/part-*.parquet
      -> Hash (per file, batches): each in-scope document's units (lines or paragraphs) normalized
         as for MinHash and hashed to 64 bits (numpy over each batch); the distinct eligible hashes
         of each document counted per file into (hash, documents) arrays, split by (scope, hash % partitions); the per-unit hashes
         of every document saved to the stage's work folder for the second pass
         (+ with --against: the prior run's stored counts, split the same way)
      -> CombinePerKey on (scope, partition): (hash, documents) arrays summed per hash in numpy
      -> Decide: units in at least max(min_docs, min_doc_fraction x documents of the scope) documents
      -> (scope -> removed hashes) as a side input of
      -> Apply (per file, second look at its saved hashes): removed units cut out of each document;
         documents with too little left are rejected `repeated_text`; the kept ones are written to
         the output file of the same name, in the same order, with `repeated_chars_removed` and
         `repeated_units_removed`; one example (smallest document id) and a sample of ids per removed unit
      -> RUN/dedup_lines/part-*.parquet, RUN/dedup_lines/_counts/*.parquet (every counted unit with its
         documents: what a later `--against` adds), RUN/rejected/dedup_lines/part-*.parquet (dropped
         documents), RUN/rejected/dedup_lines/_units/part-00000.parquet (per removed unit: scope, hash,
         documents, example text, sample ids; most frequent first).

Why a stage of its own after `dedup` rather than an option of it: counting units must see every
document once, after exact and near duplicates are gone (a page crawled twice would otherwise count
its own text twice and lose it); its output is edited text, which the dedup stage never produces (it
keeps or drops whole documents, and its stored signatures describe the unedited text that `dedup
--against` compares with); and it can be rerun with other thresholds without recomputing MinHash.

Why the combine key is (scope, hash partition) and not each hash: most units are unique, and one
Beam element per (document, unit) would cost more than the counting itself. Each file sends one
(hashes, counts) array pair per partition and the CombineFn sums them in numpy (sort, reduceat): the
same count per hash, spread over `partitions` keys so that no process holds every hash.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from filters.dedup.lines import (
    UNIT_HASH_SCHEME,
    Units,
    doc_unit_counts,
    hash_unit_batch,
    keeps,
    merge_counts,
    remove_units,
    removed_mask,
    scope_of,
    split_units,
    threshold,
)
from filters.dedup.lines_config import LineDedupConfig
from filters.dedup.normalize import NORMALIZATION_VERSION
from filters.document import Rejected
from pipelines import progress, storage
from pipelines.config import JobConfig
from pipelines.configlib import ConfigError, replace_section
from pipelines.document import from_row, rejected_schema
from pipelines.io import arrays as arrays_io
from pipelines.io.parquet import AtomicParquetWriter, open_parquet, read_table, write_table
from pipelines.runlayout import RunLayout, count_rows, same_run, scratch_of
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from pipelines.stages.common import WriteRejected

log = logging.getLogger(__name__)

NAME = get_stage("dedup_lines").folder
COUNTS = "_counts"  # "_": pyarrow dataset discovery of RUN/dedup_lines skips it
UNITS = "_units"  # inside RUN/rejected/dedup_lines
REASON = "repeated_text"

REMOVED_FIELDS = [
    pa.field("repeated_chars_removed", pa.int64(), nullable=False),
    pa.field("repeated_units_removed", pa.int32(), nullable=False),
]
REJECTED_SCHEMA = rejected_schema([pa.field("chars_removed", pa.int64()), pa.field("units_removed", pa.int32())])
COUNTS_SCHEMA = pa.schema([
    pa.field("scope", pa.string(), nullable=False),
    pa.field("hash", pa.uint64(), nullable=False),
    pa.field("doc_count", pa.int64(), nullable=False),
])
UNITS_SCHEMA = pa.schema([
    pa.field("scope", pa.string(), nullable=False),
    pa.field("hash", pa.uint64(), nullable=False),
    pa.field("doc_count", pa.int64(), nullable=False),
    pa.field("doc_fraction", pa.float64(), nullable=False),
    pa.field("example", pa.string(), nullable=False),  # the unit as it reads in its example document
    pa.field("example_id", pa.string(), nullable=False),  # the smallest id of this run holding it
    pa.field("sample_ids", pa.list_(pa.string()), nullable=False),  # the smallest ids of this run
])

UNITS_TAG, REJECTED_TAG, EXAMPLE_TAG = "u", "r", "x"


@dataclass(frozen=True)
class SourceFile:
    key: int
    path: str  # this run's documents, or a prior run's stored counts file
    prior: bool = False


@dataclass(frozen=True)
class Plan:
    cfg: LineDedupConfig
    docs_by_scope: dict[str, int] = field(default_factory=dict)  # this run's and the prior run's
    out_dir: str = ""
    work_dir: str = ""
    out_schema: pa.Schema | None = None


def work_path(plan: Plan, sf: SourceFile) -> str:
    return storage.join(plan.work_dir, f"units-{sf.key:08x}.npz")


def _partitioned(scope: str, hashes: np.ndarray, counts: np.ndarray, partitions: int):
    part = hashes % np.uint64(partitions)
    for p in np.unique(part).tolist():
        sel = part == p
        yield UNITS_TAG, ((scope, int(p)), (hashes[sel], counts[sel]))


# ---- 1. hash units, count per file --------------------------------------------------------------------


class HashFile(beam.DoFn):
    """A documents file -> (UNITS_TAG, ((scope, partition), (hashes, documents))) per partition; the
    per-unit hashes of every document are saved for the second pass. A prior run's counts file ->
    the same arrays from its stored counts."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, sf: SourceFile) -> Iterator[tuple[str, Any]]:
        cfg = self.plan.cfg
        if sf.prior:
            t = read_table(sf.path)
            scopes = np.array(t.column("scope").to_pylist(), dtype=object)
            hashes = t.column("hash").to_numpy().astype(np.uint64)
            counts = t.column("doc_count").to_numpy().astype(np.int64)
            for scope in sorted(set(scopes.tolist())):
                sel = scopes == scope
                yield from _partitioned(scope, hashes[sel], counts[sel], cfg.partitions)
            return
        per_scope: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        all_hashes: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        n_docs = n_scoped = 0
        for batch in _batches(sf.path, cfg.batch_size, ["text", "dataset", "kind"]):
            cols = batch.to_pydict()
            scopes = [scope_of(d or "", k, cfg) for d, k in zip(cols["dataset"], cols["kind"], strict=True)]
            inside = [i for i, sc in enumerate(scopes) if sc is not None]
            units = hash_unit_batch([cols["text"][i] for i in inside], cfg.unit, cfg.min_unit_chars)
            n_units = np.zeros(len(scopes), dtype=np.int64)
            n_units[inside] = np.diff(units.offsets)
            lengths.append(n_units)
            all_hashes.append(units.hashes)
            n_docs += len(scopes)
            n_scoped += len(inside)
            scope_in = np.array([scopes[i] for i in inside], dtype=object)
            for scope in sorted(set(scope_in.tolist())):
                h, c = doc_unit_counts(units, np.flatnonzero(scope_in == scope))
                acc = per_scope.setdefault(scope, ([], []))
                acc[0].append(h)
                acc[1].append(c)
        offsets = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=offsets[1:])
        hashes = np.concatenate(all_hashes) if all_hashes else np.zeros(0, np.uint64)
        arrays_io.save_npz(work_path(self.plan, sf), hashes=hashes, offsets=offsets)
        counter(NAME, "docs").inc(n_docs)
        counter(NAME, "docs_in_scope").inc(n_scoped)
        counter(NAME, "units").inc(len(hashes))
        progress.tick(docs=n_docs)
        for scope in sorted(per_scope):
            h, c = merge_counts(*per_scope[scope])
            yield from _partitioned(scope, h, c, cfg.partitions)


class SumUnitCounts(beam.CombineFn):
    """(hashes, counts) arrays -> one sorted (hashes, summed counts) pair. Inputs wait in a list and
    are summed in numpy every `COMPACT` inputs, so a partition costs one sort per batch of arrays."""

    COMPACT = 32

    def create_accumulator(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        return [], []

    def add_input(self, acc, element):
        acc[0].append(element[0])
        acc[1].append(element[1])
        if len(acc[0]) >= self.COMPACT:
            h, c = merge_counts(acc[0], acc[1])
            return [h], [c]
        return acc

    def merge_accumulators(self, accumulators: Iterable):
        hs: list[np.ndarray] = []
        cs: list[np.ndarray] = []
        for h, c in accumulators:
            hs += h
            cs += c
        h, c = merge_counts(hs, cs)
        return [h], [c]

    def extract_output(self, acc) -> tuple[np.ndarray, np.ndarray]:
        return merge_counts(acc[0], acc[1])


class Decide(beam.DoFn):
    """((scope, partition), (hashes, documents)) -> (scope, (removed hashes, their documents))."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, element):
        (scope, _), (hashes, counts) = element
        mask = removed_mask(counts, self.plan.docs_by_scope.get(scope, 0), self.plan.cfg)
        counter(NAME, "distinct_units").inc(len(hashes))
        if mask.any():
            counter(NAME, "removed_distinct_units").inc(int(mask.sum()))
            yield scope, (hashes[mask], counts[mask])


def merge_removed(element) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
    scope, parts = element
    parts = list(parts)
    h = np.concatenate([p[0] for p in parts])
    c = np.concatenate([p[1] for p in parts])
    order = np.argsort(h)
    return scope, (h[order], c[order])


class WriteCounts(beam.DoFn):
    """Every counted unit of one (scope, partition) -> RUN/dedup_lines/_counts/ (for `--against`)."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def process(self, element):
        (scope, p), (hashes, counts) = element
        name = f"counts-{xxhash.xxh3_64_hexdigest(scope.encode('utf-8', 'surrogatepass'))}-{p:05d}.parquet"
        table = pa.table([pa.array([scope] * len(hashes), pa.string()), pa.array(hashes, pa.uint64()),
                          pa.array(counts, pa.int64())], schema=COUNTS_SCHEMA)
        write_table(table, COUNTS_SCHEMA, storage.join(self.out_dir, name))


# ---- 2. apply the removals ----------------------------------------------------------------------------


def _in_sorted(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not len(sorted_values) or not len(values):
        return np.zeros(len(values), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[idx] == values


class ApplyFile(beam.DoFn):
    """Re-read one documents file, cut its removed units out (hashes from the first pass), write the
    kept documents to the output file of the same name; yields (REJECTED_TAG, Rejected) per dropped
    document and (EXAMPLE_TAG, ((scope, hash), (sample ids, example id, example text))) per removed unit."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, sf: SourceFile, removed: dict[str, tuple[np.ndarray, np.ndarray]]):
        plan, cfg = self.plan, self.plan.cfg
        with arrays_io.load(work_path(plan, sf)) as npz:
            all_hashes, offsets = npz["hashes"], npz["offsets"]
        examples: dict[tuple[str, int], list] = {}  # (scope, hash) -> [ids, example id, example text]
        out_path = storage.join(plan.out_dir, os.path.basename(sf.path))
        kept_total = edited = units_removed = chars_removed = 0
        row = 0
        with AtomicParquetWriter(out_path, plan.out_schema) as writer:
            for batch in _batches(sf.path, cfg.batch_size):
                table = pa.Table.from_batches([batch])
                cols = table.select(["id", "text", "dataset", "kind"]).to_pydict()
                n = table.num_rows
                texts = list(cols["text"])
                chars = np.zeros(n, dtype=np.int64)
                units_n = np.zeros(n, dtype=np.int32)
                keep = np.ones(n, dtype=bool)
                dropped = []
                for i in range(n):
                    scope = scope_of(cols["dataset"][i] or "", cols["kind"][i], cfg)
                    gone = removed.get(scope) if scope is not None else None
                    if gone is None:
                        continue
                    hashes = all_hashes[offsets[row + i] : offsets[row + i + 1]]
                    mask = _in_sorted(gone[0], hashes)
                    if not mask.any():
                        continue
                    text = texts[i]
                    spans = split_units(text, cfg.unit)
                    if len(spans) != len(hashes):
                        raise StageError(f"{sf.path}: row {row + i} changed between the two passes")
                    units = Units(spans, hashes, mask)
                    new_text, chars[i], units_n[i] = remove_units(text, units, mask)
                    _note_examples(examples, scope, cols["id"][i], text, spans, hashes, mask, cfg.sample_ids)
                    edited += 1
                    units_removed += int(units_n[i])
                    chars_removed += int(chars[i])
                    if keeps(text, new_text, cfg):
                        texts[i] = new_text
                    else:
                        keep[i] = False
                        dropped.append(i)
                for i in dropped:
                    doc = from_row(table.slice(i, 1).to_pylist()[0])
                    yield REJECTED_TAG, Rejected.of(doc, REASON, chars_removed=int(chars[i]),
                                                    units_removed=int(units_n[i]))
                idx = np.flatnonzero(keep)
                out = _output_table(table, texts, chars, units_n, idx, plan.out_schema)
                writer.write_row_groups(out)  # one batch, its own row groups (as always)
                kept_total += len(idx)
                row += n
        counter(NAME, "kept").inc(kept_total)
        counter(NAME, "docs_edited").inc(edited)
        counter(NAME, "units_removed").inc(units_removed)
        counter(NAME, "chars_removed").inc(chars_removed)
        for key in sorted(examples):
            ids, ex_id, ex_text = examples[key]
            yield EXAMPLE_TAG, (key, (ids, ex_id, ex_text))


def _note_examples(examples: dict[tuple[str, int], list], scope: str, doc_id: str, text: str,
                   spans: list[tuple[int, int]], hashes: np.ndarray, mask: np.ndarray, k: int) -> None:
    """Per removed unit of one document: keep the k smallest document ids and the example text of the
    smallest (a unit repeated inside the document is noted once)."""
    seen: set[int] = set()
    for j in np.flatnonzero(mask).tolist():
        h = int(hashes[j])
        if h in seen:
            continue
        seen.add(h)
        ex = examples.get((scope, h))
        if ex is None:
            s, e = spans[j]
            examples[(scope, h)] = [[doc_id], doc_id, text[s:e]]
            continue
        ids = ex[0]
        if len(ids) < k or doc_id < ids[-1]:
            bisect.insort(ids, doc_id)
            del ids[k:]
        if doc_id < ex[1]:
            s, e = spans[j]
            ex[1], ex[2] = doc_id, text[s:e]


def _output_table(table: pa.Table, texts: list[str], chars: np.ndarray, units: np.ndarray, idx: np.ndarray,
                  schema: pa.Schema) -> pa.Table:
    cols = {name: table.column(name) for name in table.column_names}
    cols["text"] = pa.chunked_array([pa.array(texts, type=schema.field("text").type)])
    cols["repeated_chars_removed"] = pa.chunked_array([pa.array(chars, pa.int64())])
    cols["repeated_units_removed"] = pa.chunked_array([pa.array(units, pa.int32())])
    full = pa.table([cols[f.name].cast(f.type) for f in schema], schema=schema)
    return full.take(pa.array(idx, pa.int64()))


class MergeExamples(beam.CombineFn):
    """(sample ids, example id, example text) of one unit from many files -> the smallest ids, and the
    example of the smallest id (so the same on every runner)."""

    def __init__(self, sample_ids: int):
        self.k = sample_ids

    def create_accumulator(self):
        return None

    def add_input(self, acc, x):
        return self.merge_accumulators([acc, x])

    def merge_accumulators(self, accumulators):
        out = None
        for a in accumulators:
            if a is None:
                continue
            if out is None:
                out = (list(a[0]), a[1], a[2])
                continue
            ids = sorted(set(out[0]) | set(a[0]))[: self.k]
            ex = (out[1], out[2]) if out[1] <= a[1] else (a[1], a[2])
            out = (ids, *ex)
        return out

    def extract_output(self, acc):
        return acc


class WriteUnits(beam.DoFn):
    """All removed units -> RUN/rejected/dedup_lines/_units/part-00000.parquet, most frequent first."""

    def __init__(self, plan: Plan, path: str):
        self.plan, self.path = plan, path

    def process(self, element, removed: dict[str, tuple[np.ndarray, np.ndarray]]):
        _, items = element
        count_of: dict[tuple[str, int], int] = {}
        for scope, (h, c) in removed.items():
            count_of.update(zip(((scope, x) for x in h.tolist()), c.tolist(), strict=True))
        rows = []
        for (scope, h), (ids, ex_id, ex_text) in items:
            n = count_of.get((scope, h), 0)
            rows.append({"scope": scope, "hash": h, "doc_count": n,
                         "doc_fraction": n / max(1, self.plan.docs_by_scope.get(scope, 0)),
                         "example": ex_text, "example_id": ex_id, "sample_ids": ids})
        rows.sort(key=lambda r: (-r["doc_count"], r["scope"], r["hash"]))
        write_table(pa.Table.from_pylist(rows, schema=UNITS_SCHEMA), UNITS_SCHEMA, self.path)


def _batches(path: str, batch_size: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    with open_parquet(path) as pf:
        yield from pf.iter_batches(batch_size=batch_size, columns=columns)


class DedupLines(beam.PTransform):
    """Source files -> (rejected documents, removed-unit examples); kept documents, counts and the
    units file are written from inside."""

    def __init__(self, plan: Plan, current: list[SourceFile], prior: list[SourceFile], counts_dir: str,
                 units_path: str):
        super().__init__()
        self.plan, self.current, self.prior = plan, current, prior
        self.counts_dir, self.units_path = counts_dir, units_path

    def expand(self, pbegin):
        plan = self.plan
        counts = (
            pbegin
            | "ListFiles" >> beam.Create(self.current + self.prior)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Hash" >> beam.ParDo(HashFile(plan))
            | "UnitArrays" >> beam.Map(lambda t: t[1])
            | "CountDocsPerUnit" >> beam.CombinePerKey(SumUnitCounts())
        )
        _ = counts | "WriteCounts" >> beam.ParDo(WriteCounts(self.counts_dir))
        removed = beam.pvalue.AsDict(
            counts
            | "Decide" >> beam.ParDo(Decide(plan))
            | "GroupRemoved" >> beam.GroupByKey()
            | "MergeRemoved" >> beam.Map(merge_removed)
        )
        applied = (
            pbegin
            | "ListCurrent" >> beam.Create(self.current)
            | "SpreadCurrent" >> beam.Reshuffle()
            | "Apply" >> beam.ParDo(ApplyFile(plan), removed=removed)
        )
        rejected = (
            applied
            | "Rejected" >> beam.Filter(lambda t: t[0] == REJECTED_TAG)
            | "RejectedDocs" >> beam.Map(lambda t: t[1])
        )
        _ = (
            applied
            | "Examples" >> beam.Filter(lambda t: t[0] == EXAMPLE_TAG)
            | "ExampleItems" >> beam.Map(lambda t: t[1])
            | "MergeExamples" >> beam.CombinePerKey(MergeExamples(plan.cfg.sample_ids))
            | "OneKey" >> beam.Map(lambda kv: (0, kv))
            | "GatherUnits" >> beam.GroupByKey()
            | "WriteUnits" >> beam.ParDo(WriteUnits(plan, self.units_path), removed=removed)
        )
        return rejected


# ---- stage --------------------------------------------------------------------------------------------


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    names = {f.name for f in REMOVED_FIELDS}
    return pa.schema([*(f for f in input_schema if f.name not in names), *REMOVED_FIELDS])


def docs_by_scope(parts: list[str], cfg: LineDedupConfig) -> dict[str, int]:
    """In-scope documents per scope, from the dataset and kind columns only."""
    out: dict[str, int] = {}
    for p in parts:
        t = read_table(p, columns=["dataset", "kind"])
        for (dataset, kind), n in _value_counts(t).items():
            scope = scope_of(dataset or "", kind, cfg)
            if scope is not None:
                out[scope] = out.get(scope, 0) + n
    return dict(sorted(out.items()))


def _value_counts(t: pa.Table) -> dict[tuple[str, str], int]:
    grouped = t.group_by(["dataset", "kind"]).aggregate([([], "count_all")])
    return {(d, k): n for d, k, n in zip(*(grouped.column(c).to_pylist() for c in ("dataset", "kind", "count_all")),
                                          strict=True)}


#: Config fields a prior run's stored counts must share with this run to be added to its counts.
COMPATIBLE = ("unit", "min_unit_chars", "scope")


def prior_counts(against: str | Path, cfg: LineDedupConfig) -> tuple[list[str], dict[str, int], str]:
    """A previous run's stored unit counts and documents per scope; checks they are compatible."""
    prior = RunLayout(against)
    success = prior.read_success(NAME)
    pcfg = success.get("config", {})
    stored = pcfg.get(NAME, {})
    problems = [f"{k} {stored.get(k)!r} != {getattr(cfg, k)!r}" for k in COMPATIBLE if stored.get(k) != getattr(cfg, k)]
    if sorted(stored.get("kinds") or []) != sorted(cfg.kinds):
        problems.append(f"kinds {stored.get('kinds')!r} != {cfg.kinds!r}")
    for k, v in (("normalization", NORMALIZATION_VERSION), ("unit_hash_scheme", UNIT_HASH_SCHEME)):
        if pcfg.get(k) != v:
            problems.append(f"{k} {pcfg.get(k)!r} != {v!r}")
    if problems:
        raise ConfigError(f"--against {against}: stored unit counts are incompatible: {'; '.join(problems)}")
    files = prior.parts(NAME, f"{COUNTS}/counts-*.parquet")
    return files, dict(success.get("docs_by_scope", {})), success["fingerprint"]


def run(
    layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None, against: str | None = None
) -> dict[str, Any]:
    cfg = config.dedup_lines
    against = against or cfg.against
    src = layout.latest_documents_stage(before=NAME)
    parts = layout.parts(src)
    if not parts:
        raise StageError(f"stage '{src}' in {layout.root} has no part files")
    with open_parquet(parts[0]) as pf:
        in_schema = pf.schema_arrow.remove_metadata()
    current = [SourceFile(i, str(p)) for i, p in enumerate(parts)]
    inputs = [f"{src}:{layout.read_success(src)['fingerprint']}"]
    scopes = docs_by_scope(parts, cfg)
    this_run = dict(scopes)
    prior: list[SourceFile] = []
    if against:
        if same_run(against, layout):
            raise ConfigError("--against: must be another run than --run")
        files, prior_scopes, prior_fp = prior_counts(against, cfg)
        prior = [SourceFile(len(parts) + k, str(f), prior=True) for k, f in enumerate(files)]
        for s, n in prior_scopes.items():
            scopes[s] = scopes.get(s, 0) + n
        scopes = dict(sorted(scopes.items()))
        inputs.append(f"against:{prior_fp}")
    schema = output_schema(in_schema)
    plan = Plan(cfg, scopes)
    n = len(parts)

    def build(p: beam.Pipeline, out: str, rejected_dir: str) -> None:
        counts_dir = storage.join(out, COUNTS)
        storage.makedirs(counts_dir)
        storage.makedirs(storage.join(rejected_dir, UNITS))
        units_path = storage.join(storage.join(rejected_dir, UNITS), "part-00000.parquet")
        # replaced when units are removed
        write_table(pa.Table.from_pylist([], schema=UNITS_SCHEMA), UNITS_SCHEMA, units_path)
        work = storage.join(scratch_of(out), "work")  # the attempt's scratch: removed by commit and abort
        storage.makedirs(work)
        full = replace(plan, out_dir=out, work_dir=work, out_schema=schema)
        rejected = p | "DedupLines" >> DedupLines(full, current, prior, counts_dir, units_path)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir, n, REJECTED_SCHEMA)

    def extra(out: str, rejected_dir: str) -> dict[str, Any]:
        units = read_table(storage.join(storage.join(rejected_dir, UNITS), "part-00000.parquet"),
                           columns=["scope", "doc_count", "example"])
        kept_parts = storage.glob(storage.join(out, "part-*.parquet"))
        kept = pa.concat_tables([read_table(p, columns=["repeated_chars_removed"]) for p in kept_parts]) \
            if kept_parts else None
        return {
            "against": str(against) if against else None,
            "docs_by_scope": scopes,
            "docs_by_scope_this_run": this_run,
            "thresholds": {s: threshold(k, cfg) for s, k in scopes.items()},
            "removed_units": units.num_rows,
            "chars_removed_from_kept": int(pc.sum(kept.column(0)).as_py() or 0) if kept else 0,
            "top_removed": [
                {"scope": r["scope"], "doc_count": r["doc_count"], "example": r["example"][:200]}
                for r in units.slice(0, 20).to_pylist()
            ],
        }

    stage_config = {
        NAME: cfg,
        "normalization": NORMALIZATION_VERSION,
        "unit_hash_scheme": UNIT_HASH_SCHEME,
        "against": str(against) if against else None,
    }
    total_docs = count_rows(parts)
    stage = BeamStage(NAME, build, inputs, config=stage_config, finish=extra, total_docs=total_docs)
    return run_beam_stage(stage, layout, config, beam_args)


# ---- command line -------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", metavar="PRIOR_RUN",
        help="also count the units of PRIOR_RUN's dedup_lines stage (reuses its stored counts)",
    )


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if not args.against:
        return config
    return replace_section(config, NAME, against=args.against)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    try:
        stats = run(RunLayout(args.run), config, beam_args)
    except ConfigError as e:
        print(f"curate dedup-lines: {e}")
        return 2
    c = stats["counts"]
    bc = stats.get("beam_counters", {})
    print(f"dedup_lines: {c['out']} kept of {c['in']}, {c['rejected']} dropped as {REASON} -> {args.run}/{NAME}")
    print(f"  units removed: {stats['removed_units']} distinct, {bc.get(f'{NAME}.units_removed', '?')} occurrences "
          f"in {bc.get(f'{NAME}.docs_edited', '?')} documents; thresholds {stats['thresholds']}")
    for r in stats["top_removed"][:10]:
        print(f"  {r['doc_count']:>7}  [{r['scope']}] {r['example'][:100]!r}")
    return 0
