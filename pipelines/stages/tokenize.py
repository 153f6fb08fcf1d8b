"""Tokenize: the latest documents -> Parquet token shards + manifest.json in RUN/shards/ (the trainer's input).

    files --Encode(batches, model loaded in setup)--> (id, dataset, split, bucket, tokens)
          --Histogram per (split, dataset)--> plan (mixture copies, shard counts; a singleton side input)
          --Assign copies to shards--> GroupByKey(split, shard) --WriteShard--> {split}-NNNNN-of-MMMMM.parquet

Every decision is a seeded hash of the id: the split (`val_fraction`), the mixture copies (see
`tokenizer/mixture.py`), the shard, and the order inside a shard (rows sorted by a hash of their key), so
two runs write byte-identical shards in a shuffled order. After the pipeline the driver checks the
shards against the plan and writes `manifest.json` (sha256 of every shard); `_SUCCESS` comes last.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa

from pipelines import storage
from pipelines.config import JobConfig
from pipelines.configlib import replace_section
from pipelines.io.parquet import read_table, write_table
from pipelines.runlayout import RunLayout, read_json, scratch_of, write_json
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from pipelines.stages.tokenizer import datasets_of, read_batches
from tokenizer.card import CARD_FILE
from tokenizer.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, TokenizeConfig
from tokenizer.encode import DocumentEncoder, token_dtype
from tokenizer.mixture import (
    NUM_BUCKETS,
    DatasetRate,
    bucket_of,
    copy_key,
    is_val,
    num_shards,
    placement,
    plan_mixture,
)
from tokenizer.train import MODEL_FILE
from trainer.shards_format import FORMAT, MANIFEST

NAME = get_stage("tokenize").folder
COMMAND = get_stage("tokenize").command
PLAN_FILE = "shards_plan.json"
SPLITS = ("train", "val")
MAX_SHARD_TOKENS = 1_000_000_000  # list<> offsets are int32: a shard must stay below 2**31 tokens


def shard_schema(vocab_size: int, metadata: dict[str, str] | None = None) -> pa.Schema:
    ids = pa.uint16() if token_dtype(vocab_size) == np.uint16 else pa.uint32()
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("input_ids", pa.list_(ids), nullable=False),
            pa.field("num_tokens", pa.int32(), nullable=False),
        ],
        metadata=metadata,
    )


def shard_name(split: str, shard: int, total: int) -> str:
    return f"{split}-{shard:05d}-of-{total:05d}.parquet"


def token_table(rows: list[tuple[str, str, np.ndarray]], schema: pa.Schema) -> pa.Table:
    """(key, source, ids) rows -> the shard table (one contiguous values buffer, int32 offsets)."""
    dtype = np.dtype(np.uint16 if schema.field("input_ids").type.value_type == pa.uint16() else np.uint32)
    lengths = np.fromiter((len(r[2]) for r in rows), dtype=np.int64, count=len(rows))
    if lengths.sum() >= 2**31:
        raise StageError(f"a shard would hold {int(lengths.sum())} tokens (>= 2**31): lower tokenize.shard_tokens")
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate([r[2] for r in rows]).astype(dtype, copy=False) if rows else np.empty(0, dtype)
    input_ids = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
    return pa.Table.from_arrays(
        [
            pa.array([r[0] for r in rows], pa.string()),
            pa.array([r[1] for r in rows], pa.string()),
            input_ids.cast(schema.field("input_ids").type),
            pa.array(lengths.astype(np.int32), pa.int32()),
        ],
        schema=schema,
    )


def write_shard(table: pa.Table, path: str | Path) -> None:
    # dictionary encoding only for the string columns (token ids are near-uniform over the vocabulary:
    # a dictionary only slows decoding down)
    write_table(table, table.schema, path, use_dictionary=["id", "source"])


# ---- pipeline --------------------------------------------------------------------------------------

class _Encode(beam.DoFn):
    """One documents file -> (id, dataset, split, bucket, tokens) per document, encoded in batches."""

    def __init__(self, model_path: str, cfg: TokenizeConfig, seed: int):
        self.model_path, self.cfg, self.seed = model_path, cfg, seed
        self.encoder: DocumentEncoder | None = None

    def setup(self) -> None:
        model = storage.local_copy(self.model_path)  # SentencePiece loads a local file
        self.encoder = DocumentEncoder(model, add_bos=self.cfg.add_bos, num_threads=self.cfg.num_threads)

    def process(self, path: str):
        assert self.encoder is not None
        docs, seed, frac = counter(COMMAND, "docs"), self.seed, self.cfg.val_fraction
        for batch in read_batches(path, ["id", "dataset", "kind", "text"], self.cfg.batch_size):
            ids = batch.column("id").to_pylist()
            arrays = self.encoder.encode(batch.column("text").to_pylist())
            docs.inc(len(ids))
            for doc_id, dataset, arr in zip(ids, datasets_of(batch), arrays, strict=True):
                split = "val" if is_val(doc_id, frac, seed) else "train"
                yield doc_id, dataset, split, bucket_of(doc_id, seed), arr


class _Histogram(beam.CombineFn):
    """(bucket, tokens) -> tokens per hash bucket (a fixed-size array: the combine is cheap at any scale)."""

    def create_accumulator(self) -> np.ndarray:
        return np.zeros(NUM_BUCKETS, dtype=np.int64)

    def add_input(self, acc: np.ndarray, element: tuple[int, int]) -> np.ndarray:
        acc[element[0]] += element[1]
        return acc

    def merge_accumulators(self, accs: Iterable[np.ndarray]) -> np.ndarray:
        out = self.create_accumulator()
        for a in accs:
            out += a
        return out

    def extract_output(self, acc: np.ndarray) -> np.ndarray:
        return acc


def make_plan(hists: dict[tuple[str, str], np.ndarray], cfg: TokenizeConfig) -> dict[str, Any]:
    """Mixture rates of the train split, and shard counts per split, from the token histograms."""
    train = {d: h for (split, d), h in hists.items() if split == "train"}
    val = {d: int(h.sum()) for (split, d), h in hists.items() if split == "val"}
    rates = plan_mixture(train, cfg.mixture, cfg.mixture_tokens)
    tokens = {"train": sum(r.planned_tokens for r in rates.values()), "val": sum(val.values())}
    return {
        "rates": rates,
        "val_tokens": dict(sorted(val.items())),
        "tokens": tokens,
        "shards": {s: num_shards(tokens[s], cfg.shard_tokens) for s in SPLITS},
    }


def plan_json(plan: dict[str, Any]) -> dict[str, Any]:
    return {**plan, "rates": {d: r.to_dict() for d, r in plan["rates"].items()}}


def _save_plan(plan: dict[str, Any], path: str) -> dict[str, Any]:
    write_json(path, plan_json(plan))
    return plan


def _assign(element: tuple, plan: dict[str, Any], seed: int):
    """A document -> its copies, each keyed by (split, shard) with its in-shard sort key."""
    doc_id, dataset, split, bucket, arr = element
    if split == "val":
        copies = 1
    else:
        rate: DatasetRate | None = plan["rates"].get(dataset)
        copies = rate.copies(bucket) if rate else 0
    n = plan["shards"][split]
    for c in range(copies):
        key = copy_key(doc_id, c)
        shard, order = placement(key, n, seed)
        yield (split, shard), (order, key, dataset, arr)
    if copies == 0:
        counter(COMMAND, "dropped_by_mixture").inc()
    elif copies > 1:
        counter(COMMAND, "repeats").inc(copies - 1)


class _WriteShard(beam.DoFn):
    def __init__(self, out_dir: str, schema: pa.Schema):
        self.out_dir, self.schema = out_dir, schema

    def process(self, element, plan: dict[str, Any]):
        (split, shard), rows = element
        rows = sorted(rows, key=lambda r: (r[0], r[1]))
        table = token_table([(key, ds, arr) for _, key, ds, arr in rows], self.schema)
        name = shard_name(split, shard, plan["shards"][split])
        write_shard(table, storage.join(self.out_dir, name))
        counter(COMMAND, f"{split}_rows").inc(table.num_rows)
        yield name


class TokenizeDocuments(beam.PTransform):
    """Documents files -> token shards in `out_dir` (emits the file names); the plan goes to `plan_path`."""

    def __init__(self, paths: list[str], model_path: str, vocab_size: int, cfg: TokenizeConfig, seed: int,
                 out_dir: str, plan_path: str, metadata: dict[str, str]):
        super().__init__()
        self.paths = sorted(str(p) for p in paths)
        self.model_path, self.cfg, self.seed = str(model_path), cfg, seed
        self.out_dir, self.plan_path = str(out_dir), str(plan_path)
        self.schema = shard_schema(vocab_size, metadata)

    def expand(self, pbegin):
        cfg, seed = self.cfg, self.seed
        encoded = (
            pbegin
            | "ListFiles" >> beam.Create(self.paths)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Encode" >> beam.ParDo(_Encode(self.model_path, cfg, seed))
        )
        plan = (
            encoded
            | "KeyTokens" >> beam.Map(lambda e: ((e[2], e[1]), (e[3], len(e[4]))))
            | "Histogram" >> beam.CombinePerKey(_Histogram())
            | "AllHistograms" >> beam.combiners.ToDict()
            | "Plan" >> beam.Map(make_plan, cfg)
            | "SavePlan" >> beam.Map(_save_plan, self.plan_path)
        )
        return (
            encoded
            | "Assign" >> beam.FlatMap(_assign, plan=beam.pvalue.AsSingleton(plan), seed=seed)
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out_dir, self.schema), plan=beam.pvalue.AsSingleton(plan))
        )


# ---- driver side: checks and manifest -------------------------------------------------------------

def _fill_missing_shards(out: str, plan: dict[str, Any], schema: pa.Schema) -> None:
    """A shard index no row hashed to still gets its (empty) file, so `-of-N` is always true."""
    written = {os.path.basename(p) for p in storage.glob(storage.join(out, "*.parquet"))}
    for split in SPLITS:
        n = plan["shards"][split]
        for i in range(n):
            name = shard_name(split, i, n)
            if name not in written:
                write_shard(token_table([], schema), storage.join(out, name))


def build_manifest(out: str, plan: dict[str, Any], card: dict[str, Any], cfg: TokenizeConfig, seed: int,
                   source_stage: str) -> dict[str, Any]:
    shards, totals = [], {s: {"rows": 0, "tokens": 0} for s in SPLITS}
    by_split_source: dict[str, dict[str, dict[str, int]]] = {s: {} for s in SPLITS}
    for split in SPLITS:
        for path in storage.glob(storage.join(out, f"{split}-*.parquet")):
            t = read_table(path, columns=["source", "num_tokens"])
            tokens = np.asarray(t.column("num_tokens").to_numpy(), dtype=np.int64)
            sources = t.column("source").to_pylist()
            for src, n in zip(sources, tokens.tolist(), strict=True):
                e = by_split_source[split].setdefault(src, {"rows": 0, "tokens": 0})
                e["rows"] += 1
                e["tokens"] += n
            entry = {"file": os.path.basename(path), "split": split, "rows": t.num_rows,
                     "tokens": int(tokens.sum()), "sha256": storage.sha256(path)}
            shards.append(entry)
            totals[split]["rows"] += entry["rows"]
            totals[split]["tokens"] += entry["tokens"]
    for split in SPLITS:
        if totals[split]["tokens"] != plan["tokens"][split]:
            raise StageError(f"tokenize: the {split} shards hold {totals[split]['tokens']} tokens, the plan "
                             f"{plan['tokens'][split]}: a nondeterministic step? ")
    train_total = totals["train"]["tokens"]
    by_source = {}
    for d, r in sorted(plan["rates"].items()):
        got = by_split_source["train"].get(d, {"rows": 0, "tokens": 0})
        val = by_split_source["val"].get(d, {"rows": 0, "tokens": 0})
        by_source[d] = {
            "rows": got["rows"],
            "tokens": got["tokens"],
            "target_fraction": round(r["target_fraction"], 6),
            "fraction": round(got["tokens"] / train_total, 6) if train_total else 0.0,
            "natural_tokens": r["natural_tokens"],
            "rate": r["rate"],
            "val_rows": val["rows"],
            "val_tokens": val["tokens"],
        }
    special = card["special"]
    return {
        "format": FORMAT,
        "tokenizer": {
            "fingerprint": card["fingerprint"],
            "vocab_size": card["vocab_size"],
            "pad_id": special["pad_id"],
            "unk_id": special["unk_id"],
            "bos_id": special["bos_id"],
            "eos_id": special["eos_id"],
            "add_bos": cfg.add_bos,
        },
        "dtype": str(token_dtype(card["vocab_size"])),
        "shards": shards,
        "totals": totals,
        # by_source counts the train split (where the mixture applies); val keeps every val document once.
        "by_source": by_source,
        "mixture": {"weights": cfg.mixture, "tokens": cfg.mixture_tokens, "val_fraction": cfg.val_fraction,
                    "shard_tokens": cfg.shard_tokens},
        "source_stage": source_stage,
        "seed": seed,
    }


def finish(out: str, cfg: TokenizeConfig, seed: int, card: dict[str, Any], source_stage: str,
           schema: pa.Schema) -> dict[str, Any]:
    plan_path = storage.join(scratch_of(out), PLAN_FILE)
    if not storage.exists(plan_path):
        raise StageError(f"tokenize: stage '{source_stage}' has no documents")
    plan = read_json(plan_path)
    _fill_missing_shards(out, plan, schema)
    manifest = build_manifest(out, plan, card, cfg, seed, source_stage)
    # last file before _SUCCESS; it names shards by file name only (readers resolve them through
    # _SUCCESS), so it is the same on a local disk and on an object store
    write_json(storage.join(out, MANIFEST), manifest)
    return {
        "manifest": {"totals": manifest["totals"], "by_source": manifest["by_source"],
                     "shards": len(manifest["shards"]), "dtype": manifest["dtype"]},
    }


def _datasets_present(parts: list[str]) -> set[str]:
    names: set[str] = set()
    for p in parts:
        for batch in read_batches(str(p), ["dataset", "kind"], 65536):
            names.update(datasets_of(batch))
    return names


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    cfg = config.tokenize
    seed = config.seed if cfg.seed is None else cfg.seed
    if cfg.shard_tokens > MAX_SHARD_TOKENS:
        raise StageError(f"tokenize.shard_tokens: at most {MAX_SHARD_TOKENS}")
    source = layout.latest_documents_stage()
    parts = layout.parts(source)
    tok_success = layout.read_success("tokenizer")
    card = read_json(layout.file("tokenizer", CARD_FILE))
    model_path = layout.file("tokenizer", MODEL_FILE)
    if cfg.mixture is not None:
        present = _datasets_present(parts)
        missing = sorted(d for d, w in cfg.mixture.items() if w > 0 and d not in present)
        if missing:
            raise StageError(f"tokenize.mixture: datasets {missing} are not in stage '{source}' "
                             f"(it has {sorted(present)})")
    metadata = {
        "curate.format": FORMAT,
        "curate.tokenizer_fingerprint": card["fingerprint"],
        "curate.vocab_size": str(card["vocab_size"]),
        "curate.eos_id": str(EOS_ID),
        "curate.bos_id": str(BOS_ID),
        "curate.pad_id": str(PAD_ID),
        "curate.unk_id": str(UNK_ID),
        "curate.add_bos": json.dumps(cfg.add_bos),
    }
    schema = shard_schema(card["vocab_size"], metadata)

    def build(p: beam.Pipeline, out: str, _rejected: str) -> None:
        _ = p | "Tokenize" >> TokenizeDocuments(
            parts, model_path, card["vocab_size"], cfg, seed, out, storage.join(scratch_of(out), PLAN_FILE), metadata
        )

    # `curate run` knows this stage as "tokenize"; its output folder is RUN/shards (the trainer's contract)
    source_success = layout.read_success(source)  # its fingerprint, and how many documents it wrote
    inputs = [
        f"{source}:{source_success.get('fingerprint', '')}",
        f"tokenizer:{card['fingerprint']}:{tok_success.get('fingerprint', '')}",
    ]
    stage = BeamStage(
        NAME, build, inputs,
        config={"tokenize": cfg, "seed": seed},
        finish=lambda out, _rejected: finish(out, cfg, seed, card, source, schema),
        total_docs=source_success.get("counts", {}).get("out"),  # small inputs run in this process
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard-tokens", type=int, help="target tokens per shard (tokenize.shard_tokens)")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if args.shard_tokens is None:
        return config
    return replace_section(config, "tokenize", shard_tokens=args.shard_tokens)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    m = stats["manifest"]
    t = m["totals"]
    print(f"tokenize: {t['train']['rows']} train rows / {t['train']['tokens']} tokens, {t['val']['rows']} val "
          f"rows / {t['val']['tokens']} tokens in {m['shards']} shards ({m['dtype']}) -> {args.run}/{NAME}")
    for d, e in m["by_source"].items():
        print(f"  {d}: {e['tokens']} tokens, fraction {e['fraction']:.4f} (target {e['target_fraction']:.4f}, "
              f"rate {e['rate']:.3f})")
    return 0
