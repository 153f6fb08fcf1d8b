"""Tokenizer eval: bytes per token on the documents held out of the tokenizer's sample -> RUN/tokenizer_eval/.

The held-out documents are those the tokenizer stage left out of its sample (the rule and seed are read
from `tokenizer_card.json`), taken from the latest documents stage. Results per dataset, per language
(the `language_field` signal, "unknown" without it) and per (dataset, language) go to `eval.json` and
`_SUCCESS`. More bytes per token is better compression: a longer context in bytes for the same model.
"""

from __future__ import annotations

import argparse
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import storage
from pipelines.config import JobConfig
from pipelines.io.parquet import WriteShards, read_table
from pipelines.runlayout import RunLayout, read_json, write_json
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, counter, run_beam_stage
from pipelines.stages.tokenizer import datasets_of, languages_of, read_batches
from tokenizer.card import CARD_FILE
from tokenizer.encode import DocumentEncoder
from tokenizer.sample import is_heldout
from tokenizer.train import MODEL_FILE

NAME = get_stage("tokenizer_eval").folder
RESULTS = "eval.json"
BATCH = 256

EVAL_SCHEMA = pa.schema([
    pa.field("group", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("language", pa.string(), nullable=False),
    pa.field("docs", pa.int64(), nullable=False),
    pa.field("bytes", pa.int64(), nullable=False),
    pa.field("tokens", pa.int64(), nullable=False),
])


class _EvalFile(beam.DoFn):
    """One documents file -> ((dataset, language), (docs, bytes, tokens)) per held-out document."""

    def __init__(self, model_path: str, fraction: float, seed: int, language_field: str):
        self.model_path, self.fraction, self.seed, self.field = model_path, fraction, seed, language_field
        self.encoder: DocumentEncoder | None = None

    def setup(self) -> None:
        self.encoder = DocumentEncoder(storage.local_copy(self.model_path))  # SentencePiece: a local file

    def process(self, path: str):
        assert self.encoder is not None
        for batch in read_batches(path, ["id", "dataset", "kind", "text", self.field], BATCH):
            keep = [i for i, doc_id in enumerate(batch.column("id").to_pylist())
                    if is_heldout(doc_id, self.fraction, self.seed)]
            if not keep:
                continue
            sub = batch.take(pa.array(keep, pa.int64()))
            nbytes = pc.binary_length(sub.column("text")).to_pylist()
            tokens = self.encoder.encode_plain(sub.column("text").to_pylist())
            counter(NAME, "docs").inc(len(keep))
            for d, lang, b, ids in zip(datasets_of(sub), languages_of(sub, self.field), nbytes, tokens,
                                       strict=True):
                yield (d, lang), (1, b, len(ids))


def _sum3(values) -> tuple[int, int, int]:
    docs = nbytes = tokens = 0
    for d, b, t in values:
        docs += d
        nbytes += b
        tokens += t
    return docs, nbytes, tokens


def _row(kv) -> dict[str, Any]:
    (d, lang), (docs, nbytes, tokens) = kv
    return {"group": f"{d}\x1f{lang}", "dataset": d, "language": lang, "docs": docs, "bytes": nbytes,
            "tokens": tokens}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Group rows -> bytes per token overall, per dataset, per language and per (dataset, language)."""

    def entry(items: list[dict[str, Any]]) -> dict[str, Any]:
        docs = sum(r["docs"] for r in items)
        nbytes = sum(r["bytes"] for r in items)
        tokens = sum(r["tokens"] for r in items)
        return {"docs": docs, "bytes": nbytes, "tokens": tokens,
                "bytes_per_token": round(nbytes / tokens, 4) if tokens else None}

    def by(key: str) -> dict[str, Any]:
        names = sorted({r[key] for r in rows})
        return {n: entry([r for r in rows if r[key] == n]) for n in names}

    return {
        "overall": entry(rows),
        "by_dataset": by("dataset"),
        "by_language": by("language"),
        "by_group": {f"{r['dataset']}/{r['language']}": entry([r]) for r in sorted(rows, key=lambda r: r["group"])},
    }


def finish(out: str, card: dict[str, Any], source: str) -> dict[str, Any]:
    rows = [r for p in storage.glob(storage.join(out, "*.parquet")) for r in read_table(p).to_pylist()]
    results = {
        "tokenizer_fingerprint": card["fingerprint"],
        "vocab_size": card["vocab_size"],
        "source_stage": source,
        "heldout": card["heldout"],
        **summarize(rows),
    }
    write_json(storage.join(out, RESULTS), results)
    return {"eval": {k: results[k] for k in ("overall", "by_dataset", "by_language")}}


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    source = layout.latest_documents_stage()
    parts = layout.parts(source)
    tok_success = layout.read_success("tokenizer")
    card = read_json(layout.file("tokenizer", CARD_FILE))
    heldout = card["heldout"]
    model = layout.file("tokenizer", MODEL_FILE)
    field = card.get("language_field", "lang")

    def build(p: beam.Pipeline, out: str, _rejected: str) -> None:
        _ = (
            p
            | "ListFiles" >> beam.Create(sorted(str(x) for x in parts))
            | "SpreadFiles" >> beam.Reshuffle()
            | "Encode" >> beam.ParDo(_EvalFile(model, heldout["fraction"], heldout["seed"], field))
            | "Sum" >> beam.CombinePerKey(_sum3)
            | "ToRow" >> beam.Map(_row)
            | "Write" >> WriteShards(out, EVAL_SCHEMA, 1, key="group")
        )

    source_success = layout.read_success(source)  # its fingerprint, and how many documents it wrote
    inputs = [f"{source}:{source_success.get('fingerprint', '')}",
              f"tokenizer:{card['fingerprint']}:{tok_success.get('fingerprint', '')}"]
    stage = BeamStage(
        NAME, build, inputs,
        config={"heldout": heldout, "language_field": field},
        finish=lambda out, _rejected: finish(out, card, source),
        total_docs=source_success.get("counts", {}).get("out"),  # small inputs run in this process
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    ev = stats["eval"]
    o = ev["overall"]
    print(f"tokenizer-eval: {o['docs']} held-out documents, {o['bytes_per_token']} bytes/token "
          f"-> {args.run}/{NAME}/{RESULTS}")
    for title, key in (("dataset", "by_dataset"), ("language", "by_language")):
        for name, e in ev[key].items():
            print(f"  {title} {name}: {e['bytes_per_token']} bytes/token over {e['docs']} documents")
    return 0
