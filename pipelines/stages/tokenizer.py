"""Tokenizer: a balanced, byte-bounded sample of the latest documents -> SentencePiece BPE in RUN/tokenizer/.

The Beam pipeline chooses the sample (see `tokenizer/sample.py`): pass 1 sums the bytes of each
(dataset, language) group, the driver-independent plan turns them into per-group budgets and hash
thresholds, pass 2 keeps the documents under their group's threshold. The driver then trims the
candidates to the exact budgets, writes their lines to a text file in the stage's temporary folder,
trains SentencePiece on it, exports `tokenizer.json`, checks that both give the same ids, and writes
`tokenizer_card.json`; the stage commits atomically (`_SUCCESS` last).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import storage
from pipelines.config import JobConfig
from pipelines.configlib import replace_section
from pipelines.io.parquet import WriteShards, open_parquet, read_table
from pipelines.runlayout import (
    RunLayout,
    local_folder,
    read_json,
    scratch_of,
    write_json,
    write_json_atomic,
)
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from tokenizer import sample as S
from tokenizer.card import CARD_FILE, build_card
from tokenizer.config import TokenizerConfig
from tokenizer.export import TOKENIZER_JSON, ExportError, check_export, export
from tokenizer.train import MODEL_FILE, TrainingError, load, portable_options, train_bpe, trainer_options

NAME = get_stage("tokenizer").folder
SAMPLE_DIR = "sample"
PLAN_FILE = "sample_plan.json"
SENTENCES_FILE = "sample.txt"
READ_BATCH = 2048
SAMPLE_SHARD_BYTES = 128 * 1024 * 1024
EXPORT_CHECK_DOCS = 256
EXPORT_CHECK_CHARS = 8192

SAMPLE_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),  # chunk key: doc id + "#k"
    pa.field("doc", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("u", pa.float64(), nullable=False),
    pa.field("nbytes", pa.int64(), nullable=False),
    pa.field("text", pa.large_string(), nullable=False),
])


# ---- reading the documents stage column-wise (shared with tokenize and tokenizer-eval) ----------------

def read_batches(path: str, columns: list[str], batch_size: int = READ_BATCH) -> Iterator[pa.RecordBatch]:
    """Record batches of `columns` of one documents file; columns the file lacks are left out."""
    with open_parquet(path) as pf:
        present = [c for c in columns if c in pf.schema_arrow.names]
        yield from pf.iter_batches(batch_size=batch_size, columns=present)


def datasets_of(batch: pa.RecordBatch) -> list[str]:
    """The mixture key of each row: the dataset name, else the kind."""
    names = batch.column("dataset").to_pylist()
    if "kind" not in batch.schema.names:
        return [n or "unknown" for n in names]
    kinds = batch.column("kind").to_pylist()
    return [n or k for n, k in zip(names, kinds, strict=True)]


def languages_of(batch: pa.RecordBatch, field: str) -> list[str]:
    if field not in batch.schema.names:
        return [S.UNKNOWN_LANGUAGE] * batch.num_rows
    return [S.language_of({field: v}, field) for v in batch.column(field).to_pylist()]


# ---- pipeline --------------------------------------------------------------------------------------

class _GroupBytes(beam.DoFn):
    """One documents file -> ((dataset, language), (bytes, chunks)) per group, held-out documents
    excluded."""

    def __init__(self, cfg: TokenizerConfig, seed: int):
        self.cfg, self.seed = cfg, seed

    def process(self, path: str):
        totals: dict[tuple[str, str], tuple[int, int]] = {}
        size = self.cfg.sample_chunk_bytes
        cols = ["id", "dataset", "kind", "text", self.cfg.language_field]
        for batch in read_batches(path, cols):
            ids = batch.column("id").to_pylist()
            nbytes = pc.binary_length(batch.column("text")).to_pylist()
            for i, d, lang, b in zip(ids, datasets_of(batch), languages_of(batch, self.cfg.language_field),
                                     nbytes, strict=True):
                if S.is_heldout(i, self.cfg.heldout_fraction, self.seed):
                    counter(NAME, "heldout").inc()
                    continue
                old_b, old_n = totals.get((d, lang), (0, 0))
                totals[(d, lang)] = (old_b + b, old_n + S.num_chunks(b, size))
        yield from totals.items()


class _SelectCandidates(beam.DoFn):
    """One documents file -> sample rows of the chunks under their group's hash threshold."""

    def __init__(self, cfg: TokenizerConfig, seed: int):
        self.cfg, self.seed = cfg, seed

    def process(self, path: str, plan: dict[str, Any]):
        limits = {tuple(k.split("\x1f")): v for k, v in plan["thresholds"].items()}
        cols = ["id", "dataset", "kind", "text", self.cfg.language_field]
        size = self.cfg.sample_chunk_bytes
        for batch in read_batches(path, cols):
            ids = batch.column("id").to_pylist()
            nbytes = pc.binary_length(batch.column("text")).to_pylist()
            texts = batch.column("text")
            langs = languages_of(batch, self.cfg.language_field)
            for row, (i, d, lang, b) in enumerate(zip(ids, datasets_of(batch), langs, nbytes, strict=True)):
                limit = limits.get((d, lang), 0.0)
                if limit <= 0 or S.is_heldout(i, self.cfg.heldout_fraction, self.seed):
                    continue
                n = S.num_chunks(b, size)
                text = None
                for k in range(n):
                    key = S.chunk_key(i, k)
                    u = S.sample_unit(key, self.seed)
                    if u >= limit:
                        continue
                    if text is None:
                        text = texts[row].as_py()
                    piece = S.chunk(text, k, n)
                    if not piece.strip():
                        continue
                    counter(NAME, "candidates").inc()
                    yield {"id": key, "doc": i, "dataset": d, "language": lang, "u": u,
                           "nbytes": len(piece.encode("utf-8")), "text": piece}


def _sum_pairs(values) -> tuple[int, int]:
    total_b = total_n = 0
    for b, n in values:
        total_b += b
        total_n += n
    return total_b, total_n


def _plan(groups: dict[tuple[str, str], tuple[int, int]], cfg: TokenizerConfig) -> dict[str, Any]:
    group_bytes = {g: b for g, (b, _) in groups.items()}
    budgets = S.plan_budgets(group_bytes, cfg.sample_bytes, cfg.dataset_weights, cfg.language_weights,
                             cfg.default_weight)
    limits = S.thresholds(group_bytes, budgets, {g: n for g, (_, n) in groups.items()})

    def key(g: tuple[str, str]) -> str:
        return f"{g[0]}\x1f{g[1]}"

    return {
        "group_bytes": {key(g): b for g, b in sorted(group_bytes.items())},
        "budgets": {key(g): b for g, b in sorted(budgets.items())},
        "thresholds": {key(g): t for g, t in sorted(limits.items())},
    }


def _write_plan(plan: dict[str, Any], path: str) -> dict[str, Any]:
    write_json(path, plan)
    return plan


class SampleForTokenizer(beam.PTransform):
    """Documents files -> sample candidate rows; the plan (budgets, thresholds) goes to `plan_path`."""

    def __init__(self, paths: list[str], cfg: TokenizerConfig, seed: int, plan_path: str):
        super().__init__()
        self.paths = sorted(str(p) for p in paths)
        self.cfg, self.seed, self.plan_path = cfg, seed, str(plan_path)

    def expand(self, pbegin):
        cfg, plan_path = self.cfg, self.plan_path
        files = pbegin | "ListFiles" >> beam.Create(self.paths) | "SpreadFiles" >> beam.Reshuffle()
        plan = (
            files
            | "GroupBytes" >> beam.ParDo(_GroupBytes(cfg, self.seed))
            | "SumGroups" >> beam.CombinePerKey(_sum_pairs)
            | "AllGroups" >> beam.combiners.ToDict()
            | "Plan" >> beam.Map(_plan, cfg)
            | "SavePlan" >> beam.Map(_write_plan, plan_path)
        )
        return files | "Select" >> beam.ParDo(
            _SelectCandidates(cfg, self.seed), plan=beam.pvalue.AsSingleton(plan)
        )


# ---- driver side: exact trim, sentences file, training, export, card ---------------------------------

def _split_key(k: str) -> tuple[str, str]:
    d, _, lang = k.partition("\x1f")
    return d, lang


def _choose(sample_files: list[str], budgets: dict[tuple[str, str], int]) -> tuple[set[str], int]:
    candidates = []
    for f in sample_files:
        t = read_table(f, columns=["id", "dataset", "language", "u", "nbytes"])
        for i, d, lang, u, b in zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True):
            candidates.append(S.Candidate(i, d, lang, u, b))
    return S.trim_to_budgets(candidates, budgets), len(candidates)


def _write_sentences(sample_files: list[str], keep: set[str], out: Path, max_bytes: int
                     ) -> tuple[dict[str, Any], list[str]]:
    """The kept documents' lines -> `out`; returns the sample statistics and a few texts for the export
    check."""
    by_dataset: dict[str, dict[str, Any]] = {}
    by_language: dict[str, dict[str, Any]] = {}
    chunks = nbytes = lines = 0
    docs: set[str] = set()
    check: list[str] = []
    columns = ["id", "doc", "dataset", "language", "nbytes", "text"]
    with open(out, "w", encoding="utf-8") as fh:
        for f in sample_files:
            for batch in read_batches(f, columns):
                cols = [batch.column(c).to_pylist() for c in columns]
                for i, doc, d, lang, b, text in zip(*cols, strict=True):
                    if i not in keep:
                        continue
                    chunks += 1
                    nbytes += b
                    docs.add(doc)
                    for key, table in ((d, by_dataset), (lang, by_language)):
                        entry = table.setdefault(key, {"docs": set(), "chunks": 0, "bytes": 0})
                        entry["docs"].add(doc)
                        entry["chunks"] += 1
                        entry["bytes"] += b
                    for s in S.sentences(text, max_bytes):
                        fh.write(s)
                        fh.write("\n")
                        lines += 1
                    if len(check) < EXPORT_CHECK_DOCS:
                        check.append(text[:EXPORT_CHECK_CHARS])
    for table in (by_dataset, by_language):
        for entry in table.values():
            entry["docs"] = len(entry["docs"])
    stats = {
        "docs": len(docs),
        "chunks": chunks,
        "bytes": nbytes,
        "sentences": lines,
        "by_dataset": dict(sorted(by_dataset.items())),
        "by_language": dict(sorted(by_language.items())),
    }
    return stats, check


def finish(out: str, cfg: TokenizerConfig, seed: int, source_stage: str) -> dict[str, Any]:
    """After the pipeline: trim, train, export, check, write the card. Returns the stats for `_SUCCESS`.
    SentencePiece needs local files: for a run on an object store they are made in a local folder and
    uploaded into the stage's attempt before its commit."""
    with local_folder(out) as local_out, local_folder(scratch_of(out), upload=False) as local_tmp:
        return _finish(out, local_out, local_tmp, cfg, seed, source_stage)


def _finish(out: str, local_out: Path, local_tmp: Path, cfg: TokenizerConfig, seed: int, source_stage: str
            ) -> dict[str, Any]:
    tmp = scratch_of(out)
    plan_path = storage.join(tmp, PLAN_FILE)
    plan = read_json(plan_path) if storage.exists(plan_path) else None
    sample_files = storage.glob(storage.join(storage.join(tmp, SAMPLE_DIR), "*.parquet"))
    out = local_out
    if plan is None or not sample_files:
        raise StageError(f"tokenizer: the sample is empty: no documents in stage '{source_stage}' "
                         f"outside the held-out {cfg.heldout_fraction:.1%}")
    budgets = {_split_key(k): v for k, v in plan["budgets"].items()}
    keep, n_candidates = _choose(sample_files, budgets)
    sentences_path = local_tmp / SENTENCES_FILE
    sample_stats, check_texts = _write_sentences(sample_files, keep, sentences_path, cfg.max_sentence_bytes)
    if not sample_stats["sentences"]:
        raise StageError("tokenizer: the sample has no non-empty line to train on")
    total_bytes = sum(plan["group_bytes"].values())
    sample_stats["available_bytes"] = total_bytes
    sample_stats["bound_bytes"] = cfg.sample_bytes
    for k in plan["group_bytes"]:
        d, lang = _split_key(k)
        sample_stats["by_dataset"].setdefault(d, {"docs": 0, "chunks": 0, "bytes": 0})
        sample_stats["by_language"].setdefault(lang, {"docs": 0, "chunks": 0, "bytes": 0})
    for key, entry in sample_stats["by_dataset"].items():
        entry["share"] = round(entry["bytes"] / sample_stats["bytes"], 6)
        entry["available_bytes"] = sum(b for k, b in plan["group_bytes"].items() if _split_key(k)[0] == key)
        entry["budget_bytes"] = sum(b for k, b in plan["budgets"].items() if _split_key(k)[0] == key)
    for entry in sample_stats["by_language"].values():
        entry["share"] = round(entry["bytes"] / sample_stats["bytes"], 6)
    start = time.monotonic()
    try:
        trained = train_bpe(sentences_path, out, cfg, seed)
    except TrainingError as e:
        raise StageError(str(e)) from None
    train_s = time.monotonic() - start
    model_path = trained.model_path
    sp = load(model_path)
    try:
        tok = export(model_path, out / TOKENIZER_JSON)
        export_report = check_export(sp, tok, check_texts)
    except ExportError as e:
        raise StageError(f"tokenizer: {e}") from None
    options = portable_options(trainer_options(cfg, sentences_path, out / "tokenizer"))
    card = build_card(
        model_path.read_bytes(),
        source_stage=source_stage,
        seed=seed,
        sample=sample_stats,
        trainer={"library": "sentencepiece", "options": options, "train_s": round(train_s, 3),
                 "num_threads": cfg.num_threads, "distinct_chars": trained.distinct_chars,
                 "chars_in_vocab": trained.chars_in_vocab, "masked_rare_chars": trained.masked_chars},
        heldout={"fraction": cfg.heldout_fraction, "seed": seed,
                 "rule": "xxh3_64('heldout\\x1f' + id, seed) / 2**64 < fraction"},
        language_field=cfg.language_field,
        export={"file": TOKENIZER_JSON, "library": "tokenizers", **export_report},
        files={"model": MODEL_FILE, "tokenizer_json": TOKENIZER_JSON},
    )
    write_json_atomic(out / CARD_FILE, card)
    return {
        "tokenizer": {
            "fingerprint": card["fingerprint"],
            "vocab_size": card["vocab_size"],
            "train_s": round(train_s, 3),
            "sample_docs": sample_stats["docs"],
            "sample_bytes": sample_stats["bytes"],
            "export_texts_checked": export_report["texts"],
        },
        # chunks: sample candidates in, sample chunks out (the exact trim drops the rest)
        "counts": {"in": n_candidates, "out": sample_stats["chunks"], "rejected": 0},
    }


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    cfg = config.tokenizer
    seed = config.seed if cfg.seed is None else cfg.seed
    source = layout.latest_documents_stage()
    parts = layout.parts(source)
    if not parts:
        raise StageError(f"tokenizer: stage '{source}' has no document files")
    shards = max(1, min(64, math.ceil(cfg.sample_bytes * 1.2 / SAMPLE_SHARD_BYTES)))

    def build(p: beam.Pipeline, out: str, _rejected: str) -> None:
        tmp = scratch_of(out)
        sample_dir = storage.join(tmp, SAMPLE_DIR)
        storage.makedirs(sample_dir)
        rows = p | "Sample" >> SampleForTokenizer(parts, cfg, seed, storage.join(tmp, PLAN_FILE))
        _ = rows | "WriteSample" >> WriteShards(sample_dir, SAMPLE_SCHEMA, shards)

    source_success = layout.read_success(source)  # its fingerprint, and how many documents it wrote
    inputs = [f"{source}:{source_success.get('fingerprint', '')}"]
    stage = BeamStage(
        NAME, build, inputs,
        config={"tokenizer": cfg, "seed": seed},
        allow_empty=True,
        finish=lambda out, _rejected: finish(out, cfg, seed, source),
        total_docs=source_success.get("counts", {}).get("out"),  # small inputs run in this process
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vocab-size", type=int, help="vocabulary size (default: tokenizer.vocab_size)")
    parser.add_argument("--sample-bytes", type=int, help="bound of the training sample in bytes")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    changes = {}
    if args.vocab_size is not None:
        changes["vocab_size"] = args.vocab_size
    if args.sample_bytes is not None:
        changes["sample_bytes"] = args.sample_bytes
    if not changes:
        return config
    return replace_section(config, "tokenizer", **changes)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    t = stats["tokenizer"]
    print(f"tokenizer: vocab {t['vocab_size']}, fingerprint {t['fingerprint'][:16]}, trained on "
          f"{t['sample_docs']} documents ({t['sample_bytes'] / 1e6:.1f} MB) in {t['train_s']:.1f}s "
          f"-> {args.run}/tokenizer")
    return 0


__all__ = ["SampleForTokenizer", "datasets_of", "languages_of", "read_batches", "run"]
