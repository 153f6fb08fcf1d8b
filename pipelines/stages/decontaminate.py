"""Decontaminate: the latest documents stage (normally dedup) -> RUN/decontaminate/ + RUN/rejected/decontaminate/.

The n-gram index of the configured eval sets (`filters.decontam`) is built once, on the driver, and
written into the stage folder (`_ngram_index.npz`); each worker loads it once in `DoFn.setup` (a file, not a
pickled side input, so a big index never rides in the pipeline description). Its sha256 is one of the
stage's inputs, so changing an eval set's content changes the stage's fingerprint.

Every dropped document and every removed span is a rejected record with reason `contaminated:<eval set>`,
the eval item id, the matched n-gram and the character range (`span_start`, `span_end`; the whole text for
a dropped document); `_SUCCESS` holds the counts per eval set.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from dataclasses import replace
from typing import Any

import apache_beam as beam
import pyarrow as pa

from filters.decontam import DecontamConfig, NgramIndex, Outcome, build_index, decontaminate
from filters.document import Document, Rejected, snippet
from pipelines import storage
from pipelines.config import JobConfig
from pipelines.configlib import ConfigError
from pipelines.document import rejected_schema
from pipelines.evalsets import load_eval_sets
from pipelines.io.parquet import ReadDocuments, open_parquet, read_table
from pipelines.runlayout import RunLayout, count_rows
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from pipelines.stages.common import CountKept, SplitRejected, WriteDocuments, WriteRejected

NAME = get_stage("decontaminate").folder
INDEX_FILE = "_ngram_index.npz"  # "_": dataset readers skip it
SPANS_COLUMN = "decontam_spans"  # spans removed from a kept document

REJECTED_FIELDS = [
    pa.field("eval_set", pa.string()), pa.field("eval_item", pa.string()), pa.field("ngram", pa.string()),
    pa.field("action", pa.string()),  # removed_span | dropped
    pa.field("span_start", pa.int64()), pa.field("span_end", pa.int64()), pa.field("matches", pa.int64()),
]
REJECTED_OUTPUT_SCHEMA = rejected_schema(REJECTED_FIELDS)


def outcome_records(doc: Document, out: Outcome) -> list[Rejected]:
    """The rejected records of one touched document: one per removed span, or one for a dropped document."""
    if out.text is None:
        first = out.matches[0]
        return [Rejected.of(doc, f"contaminated:{first.eval_set}", eval_set=first.eval_set,
                            eval_item=first.eval_item, ngram=first.ngram,
                            action=f"dropped:{out.dropped_because}", span_start=0, span_end=len(doc.text),
                            matches=len(out.matches))]
    records = []
    for span in out.removed:
        m = span.match
        loc = f"{doc.location} chars={span.start}-{span.end}".strip()
        records.append(Rejected(id=doc.id, reason=f"contaminated:{m.eval_set}", source=doc.source, location=loc,
                                snippet=snippet(doc.text[span.start : span.end]), dataset=doc.dataset,
                                extra={"eval_set": m.eval_set, "eval_item": m.eval_item, "ngram": m.ngram,
                                       "action": "removed_span", "span_start": span.start,
                                       "span_end": span.end,
                                       "matches": sum(span.start <= x.start < span.end for x in out.matches)}))
    return records


class DecontaminateBatch(beam.DoFn):
    def __init__(self, index_path: str, cfg: DecontamConfig):
        self.index_path, self.cfg = index_path, cfg
        self.index: NgramIndex | None = None

    def setup(self) -> None:
        with storage.open_read(self.index_path) as f:
            self.index = NgramIndex.from_bytes(f.read())

    def process(self, batch: list[Document]):
        for doc in batch:
            out = decontaminate(doc.text, self.index, self.cfg)
            if not out.touched:
                yield doc
                continue
            counter(NAME, "touched").inc()
            yield from outcome_records(doc, out)
            if out.text is not None:
                doc.text = out.text
                doc.signals[SPANS_COLUMN] = len(out.removed)
                yield doc


class Decontaminate(beam.PTransform):
    """Parquet document files -> (kept documents, rejected records)."""

    def __init__(self, paths: list[str], index_path: str, cfg: DecontamConfig):
        super().__init__()
        self.paths, self.index_path, self.cfg = paths, index_path, cfg

    def expand(self, pbegin):
        kept, rejected = (
            pbegin
            | "Read" >> ReadDocuments(self.paths, batched=True, batch_size=self.cfg.batch_size)
            | "Match" >> beam.ParDo(DecontaminateBatch(self.index_path, self.cfg))
            | "Split" >> SplitRejected()
        )
        return kept | "CountKept" >> beam.ParDo(CountKept(NAME)), rejected


def build_stage_index(config: JobConfig) -> NgramIndex:
    cfg = config.decontaminate
    if not config.eval_sets:
        raise ConfigError("decontaminate: no eval_sets configured (add `eval_sets:` to the job file)")
    sets = load_eval_sets(config.eval_sets, cfg.eval_sets)
    return build_index({name: [(it.id, it.text) for it in s.items] for name, s in sets.items()},
                       n=cfg.ngram, min_item_words=cfg.min_item_words)


def fingerprint_section(config: JobConfig) -> dict[str, Any]:
    """What `curate run` fingerprints for this stage: its config, the eval sets' specs and their files
    (path, size, mtime), so an edited eval set reruns the stage."""
    cfg = config.decontaminate
    names = cfg.eval_sets or sorted(config.eval_sets)
    listing = {}
    for name in names:
        spec = config.eval_sets.get(name)
        if spec is None:
            continue
        import glob

        files = sorted(glob.glob(spec.path, recursive=True))
        listing[name] = {"spec": spec, "files": [(f, os.path.getsize(f), int(os.path.getmtime(f)))
                                                 for f in files if os.path.isfile(f)]}
    return {"decontaminate": cfg, "eval_sets": listing}


def _output_schema(paths: list[str]) -> pa.Schema:
    with open_parquet(paths[0]) as pf:
        schema = pf.schema_arrow.remove_metadata()
    if SPANS_COLUMN not in schema.names:
        schema = schema.append(pa.field(SPANS_COLUMN, pa.int64()))
    return schema


def per_set_counts(rejected_dir: str) -> dict[str, dict[str, int]]:
    """Per eval set: documents touched, documents dropped, spans removed."""
    counts: dict[str, Counter[str]] = {}
    docs: dict[str, set[str]] = {}
    for part in storage.glob(storage.join(str(rejected_dir), "part-*.parquet")):
        for r in read_table(part, columns=["eval_set", "action", "id"]).to_pylist():
            c = counts.setdefault(r["eval_set"], Counter())
            c["dropped_docs" if r["action"].startswith("dropped") else "removed_spans"] += 1
            docs.setdefault(r["eval_set"], set()).add(r["id"])
    return {k: {**dict(sorted(v.items())), "documents": len(docs[k])} for k, v in sorted(counts.items())}


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    cfg = config.decontaminate
    source = layout.latest_documents_stage(before=NAME)
    paths = layout.parts(source)
    if not paths:
        raise StageError(f"stage '{source}' in {layout.root} has no Parquet parts to decontaminate")
    index = build_stage_index(config)
    digest = index.digest()
    schema = _output_schema(paths)
    n = cfg.num_shards or len(paths)

    def build(p: beam.Pipeline, out: str, rejected_dir: str) -> None:
        index_path = storage.join(out, INDEX_FILE)
        storage.write_bytes(index_path, index.to_bytes())
        docs, rejected = p | "Decontaminate" >> Decontaminate(paths, index_path, cfg)
        _ = docs | "WriteDocs" >> WriteDocuments(out, n, schema)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir, 1, REJECTED_OUTPUT_SCHEMA)

    def extra(_out: str, rejected_dir: str) -> dict[str, Any]:
        return {
            "source_stage": source,
            "index": {"ngrams": len(index), "bytes": index.nbytes, "sha256": digest, "lengths": list(index.lengths),
                      "sets": {k: vars(v) for k, v in index.stats.items()}},
            "by_eval_set": per_set_counts(rejected_dir),
        }

    inputs = [f"{source}:{layout.read_success(source)['fingerprint']}", f"ngram_index:{digest}"]
    stage = BeamStage(NAME, build, inputs, config={"decontaminate": cfg}, finish=extra, allow_empty=True,
                      total_docs=count_rows(paths))
    return run_beam_stage(stage, layout, config, beam_args)


# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"{get_stage('decontaminate').help}. Reads the latest documents stage of the run (normally dedup); eval sets come from the job's "
        "`eval_sets:` and --eval NAME=PATH_OR_GLOB; settings from `decontaminate:` and --set decontaminate.KEY=V."
    )
    parser.add_argument("--eval", dest="evals", action="append", default=[], metavar="NAME=PATH_OR_GLOB",
                        help="an eval set to keep out of the data (repeatable)")
    parser.add_argument("--mode", choices=["remove", "drop"], help="remove spans (GPT-3) or drop documents")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    from pipelines.evalsets import parse_eval_arg

    extra = dict(parse_eval_arg(a) for a in args.evals)
    config = replace(config, eval_sets={**config.eval_sets, **extra})
    if args.mode:
        config = replace(config, decontaminate=replace(config.decontaminate, mode=args.mode))
    return config


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    c = stats["counts"]
    print(f"decontaminate: {c['out']} documents kept of {c['in']} -> {args.run}/{NAME} "
          f"(index: {stats['index']['ngrams']:,} n-grams, {stats['index']['bytes'] / 1e6:.1f} MB)")
    for name, counts in stats["by_eval_set"].items():
        print(f"  {name}: {counts.get('documents', 0)} documents touched, {counts.get('dropped_docs', 0)} dropped, "
              f"{counts.get('removed_spans', 0)} spans removed")
    return 0
