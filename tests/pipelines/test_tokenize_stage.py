"""End to end through the CLI: ingest -> tokenizer -> tokenize (twice, in two run folders) -> tokenizer-eval.

Inputs: the bundled sample's books (5 long documents) and UDHR translations (38 short ones, many
scripts), plus 400 generated "web" documents made of words of a bundled book.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
from tokenizers import Tokenizer

from pipelines.cli import main as curate
from pipelines.runlayout import RunLayout
from pipelines.stages.base import StageError
from pipelines.stages.tokenize import run as run_tokenize
from pipelines.stages.tokenizer import languages_of
from tokenizer.card import fingerprint, read_card
from tokenizer.config import EOS_ID

MIXTURE = {"web": 0.6, "books": 0.3, "udhr": 0.1}
SAMPLE_BYTES = 600_000
SAMPLE_WEIGHTS = {"web": 0.5, "books": 0.3, "udhr": 0.2}
SHARD_TOKENS = 150_000
COMMON = ["--set", "runner.workers=1"]


def _web_docs(book: str, path: Path, n: int = 400) -> None:
    words = re.findall(r"[A-Za-z']+|[.,;!?]", book)
    rng = random.Random(0)
    with open(path, "w") as f:
        for i in range(n):
            k = rng.randint(20, 400)
            start = rng.randrange(0, len(words) - k)
            text = " ".join(words[start : start + k]) + f" Posted on 2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}."
            f.write(json.dumps({"id": f"web-{i}", "text": text}) + "\n")


@pytest.fixture(scope="module")
def runs(sample_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tokenize")
    web = base / "web.jsonl"
    _web_docs((sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8"), web)
    run1, run2 = base / "run1", base / "elsewhere" / "run2"
    assert curate([
        "ingest", "--run", str(run1), *COMMON,
        "--input", f"web={web}",
        "--input", f"books={sample_dir}/books/*.txt",
        "--input", f"udhr={sample_dir}/udhr/udhr-sample.jsonl",
    ]) == 0
    assert curate([
        "tokenizer", "--run", str(run1), "--vocab-size", "800", *COMMON,
        "--set", f"tokenizer.sample_bytes={SAMPLE_BYTES}",
        "--set", f"tokenizer.dataset_weights={json.dumps(SAMPLE_WEIGHTS)}",
    ]) == 0
    shutil.copytree(run1, run2)
    tokenize = ["--shard-tokens", str(SHARD_TOKENS), *COMMON,
                "--set", f"tokenize.mixture={json.dumps(MIXTURE)}", "--set", "tokenize.val_fraction=0.05"]
    assert curate(["tokenize", "--run", str(run1), *tokenize]) == 0
    assert curate(["tokenize", "--run", str(run2), *tokenize]) == 0
    return run1, run2


def _manifest(run: Path) -> dict:
    return json.loads((run / "shards" / "manifest.json").read_text())


def _documents(run: Path) -> dict[str, dict]:
    rows = pq.read_table(RunLayout(run).parts("ingest"), columns=["id", "text", "dataset"]).to_pylist()
    return {r["id"]: r for r in rows}


def test_tokenizer_stage_writes_model_export_and_card(runs):
    run = runs[0]
    folder = run / "tokenizer"
    assert sorted(p.name for p in folder.iterdir()) == [
        "_SUCCESS", "tokenizer.json", "tokenizer.model", "tokenizer_card.json"]
    card = read_card(folder)
    assert card["fingerprint"] == fingerprint((folder / "tokenizer.model").read_bytes())
    assert card["vocab_size"] == 800 and card["special"]["eos_id"] == EOS_ID
    sample = card["sample"]
    assert 0 < sample["bytes"] <= SAMPLE_BYTES < sample["available_bytes"]
    for name, entry in sample["by_dataset"].items():
        assert entry["bytes"] <= entry["budget_bytes"], name
    web = sample["by_dataset"]["web"]  # many small documents: filled to within one document
    books = sample["by_dataset"]["books"]  # five long books: chunks of them fill the share too
    assert books["docs"] >= 2 and books["bytes"] > books["budget_bytes"] - 2 * 16384
    assert web["bytes"] > web["budget_bytes"] - 5000
    assert web["budget_bytes"] == pytest.approx(SAMPLE_WEIGHTS["web"] * SAMPLE_BYTES, abs=2)
    assert card["export"]["mismatches"] == 0 and card["export"]["texts"] > 50
    assert not (run / ".tmp").exists() or not any((run / ".tmp").iterdir())
    # the export loads and agrees with SentencePiece on every document, held-out ones included
    docs = [d["text"] for d in _documents(run).values()]
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert [e.ids for e in tok.encode_batch(docs)] == sp.encode(docs)


def test_shards_follow_the_contract(runs):
    run = runs[0]
    folder = run / "shards"
    manifest = _manifest(run)
    card = read_card(run / "tokenizer")
    assert manifest["format"] == "curate-shards/1" and manifest["dtype"] == "uint16"
    assert manifest["tokenizer"] == {"fingerprint": card["fingerprint"], "vocab_size": 800, "pad_id": 0,
                                     "unk_id": 1, "bos_id": 2, "eos_id": 3, "add_bos": False}
    files = {p.name for p in folder.glob("*.parquet")}
    assert files == {s["file"] for s in manifest["shards"]}
    for split in ("train", "val"):
        names = sorted(s["file"] for s in manifest["shards"] if s["split"] == split)
        assert names == [f"{split}-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))]
    assert sum(s["split"] == "train" for s in manifest["shards"]) >= 2
    totals = {"train": {"rows": 0, "tokens": 0}, "val": {"rows": 0, "tokens": 0}}
    for entry in manifest["shards"]:
        path = folder / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        table = pq.read_table(path)
        assert table.schema.names == ["id", "source", "input_ids", "num_tokens"]
        assert table.schema.field("input_ids").type == pa.list_(pa.uint16())
        assert table.schema.field("num_tokens").type == pa.int32()
        meta = table.schema.metadata
        assert meta[b"curate.tokenizer_fingerprint"].decode() == card["fingerprint"]
        assert pq.read_metadata(path).row_group(0).column(2).compression == "ZSTD"
        ids = table.column("input_ids").to_pylist()
        assert all(len(x) >= 1 and x[-1] == EOS_ID for x in ids)  # <eos> ends every document
        assert all(EOS_ID not in x[:-1] for x in ids)
        assert table.column("num_tokens").to_pylist() == [len(x) for x in ids]
        assert (entry["rows"], entry["tokens"]) == (table.num_rows, sum(map(len, ids)))
        totals[entry["split"]]["rows"] += entry["rows"]
        totals[entry["split"]]["tokens"] += entry["tokens"]
    assert manifest["totals"] == totals


def test_shards_decode_back_to_the_documents(runs):
    run = runs[0]
    docs = _documents(run)
    sp = spm.SentencePieceProcessor(model_file=str(run / "tokenizer" / "tokenizer.model"))
    seen = 0
    for path in sorted((run / "shards").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            base = row["id"].split("#")[0]
            assert row["source"] == docs[base]["dataset"]
            assert sp.decode(row["input_ids"][:-1]) == docs[base]["text"]
            seen += 1
    assert seen > len(docs)  # some documents are repeated by the mixture


def test_split_is_by_document_and_order_is_shuffled(runs):
    folder = runs[0] / "shards"
    bases = {"train": set(), "val": set()}
    for path in folder.glob("*.parquet"):
        split = path.name.split("-")[0]
        ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        bases[split] |= {i.split("#")[0] for i in ids}
        if len(ids) > 20:
            assert ids != sorted(ids)  # ordered by a seeded hash, not by id
    assert bases["val"] and not bases["val"] & bases["train"]  # copies never cross splits


def test_mixture_reaches_the_target_proportions(runs):
    manifest = _manifest(runs[0])
    by_source = manifest["by_source"]
    assert set(by_source) == set(MIXTURE)
    for name, target in MIXTURE.items():
        entry = by_source[name]
        assert entry["target_fraction"] == pytest.approx(target)
        assert abs(entry["fraction"] - target) < 0.01, (name, entry)
    # recount from the train shards themselves
    tokens: dict[str, int] = {}
    for entry in manifest["shards"]:
        if entry["split"] == "train":
            t = pq.read_table(runs[0] / "shards" / entry["file"], columns=["source", "num_tokens"])
            for s, n in zip(t.column("source").to_pylist(), t.column("num_tokens").to_pylist(), strict=True):
                tokens[s] = tokens.get(s, 0) + n
    total = sum(tokens.values())
    assert all(abs(tokens[s] / total - MIXTURE[s]) < 0.01 for s in MIXTURE)
    assert by_source["udhr"]["rate"] > 1 or by_source["web"]["rate"] > 1  # something was repeated


def test_two_runs_write_identical_shards_and_manifest(runs):
    a, b = (r / "shards" for r in runs)
    names = sorted(p.name for p in a.glob("*.parquet"))
    assert names == sorted(p.name for p in b.glob("*.parquet"))
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()


def test_shards_load_with_common_readers(runs, tmp_path):
    folder = runs[0] / "shards"
    manifest = _manifest(runs[0])
    train = [str(folder / s["file"]) for s in manifest["shards"] if s["split"] == "train"]
    rows, tokens = manifest["totals"]["train"]["rows"], manifest["totals"]["train"]["tokens"]
    import pyarrow.dataset as ds

    assert ds.dataset(train, format="parquet").count_rows() == rows
    readers = 0
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        df = pd.concat([pd.read_parquet(p) for p in train])
        assert len(df) == rows and int(df["num_tokens"].sum()) == tokens
        assert int(df["input_ids"].iloc[0][-1]) == EOS_ID
        readers += 1
    try:
        import polars as pl
    except ImportError:
        pl = None
    if pl is not None:
        df = pl.read_parquet(train)
        assert df.height == rows and df["input_ids"].dtype == pl.List(pl.UInt16)
        assert df["num_tokens"].sum() == tokens
        readers += 1
    try:
        import duckdb
    except ImportError:
        duckdb = None
    if duckdb is not None:
        got = duckdb.sql(f"SELECT count(*), sum(len(input_ids)) FROM read_parquet({train!r})").fetchall()[0]
        assert got == (rows, tokens)
        readers += 1
    try:
        import datasets
    except ImportError:
        datasets = None
    if datasets is not None:
        d = datasets.load_dataset("parquet", data_files={"train": train}, split="train",
                                  cache_dir=str(tmp_path / "hf"))
        assert d.num_rows == rows and d[0]["input_ids"][-1] == EOS_ID
        readers += 1
    if readers == 0:
        pytest.skip("none of pandas, polars, duckdb, datasets is installed (pyarrow checked)")


def test_tokenizer_eval_reports_bytes_per_token(runs):
    run = runs[0]
    assert curate(["tokenizer-eval", "--run", str(run), *COMMON]) == 0
    results = json.loads((run / "tokenizer_eval" / "eval.json").read_text())
    assert results["tokenizer_fingerprint"] == read_card(run / "tokenizer")["fingerprint"]
    overall = results["overall"]
    assert overall["docs"] > 0 and 1.5 < overall["bytes_per_token"] < 8
    assert set(results["by_dataset"]) <= {"web", "books", "udhr"} and results["by_language"]
    assert sum(e["docs"] for e in results["by_dataset"].values()) == overall["docs"]
    success = json.loads((run / "tokenizer_eval" / "_SUCCESS").read_text())
    assert success["eval"]["overall"] == overall


def test_language_column_is_used_when_present():
    batch = pa.RecordBatch.from_pylist([{"id": "a", "lid_lang": "de"}, {"id": "b", "lid_lang": None}])
    assert languages_of(batch, "lid_lang") == ["de", "unknown"]
    assert languages_of(batch, "other") == ["unknown", "unknown"]


def test_mixture_naming_an_absent_dataset_fails_before_any_work(runs):
    from pipelines.config import load_config

    config = load_config(None, ["tokenize.mixture={web: 0.5, code: 0.5}"])
    with pytest.raises(StageError, match="code"):
        run_tokenize(RunLayout(runs[1]), config)
    assert _manifest(runs[1]) == _manifest(runs[0])  # the committed stage is untouched


def test_large_vocabularies_get_uint32_and_empty_shards_are_valid(tmp_path):
    from pipelines.stages.tokenize import shard_schema, token_table, write_shard

    assert shard_schema(65535).field("input_ids").type == pa.list_(pa.uint16())
    schema = shard_schema(70_000)
    assert schema.field("input_ids").type == pa.list_(pa.uint32())
    rows = [("a", "web", np.array([69_999, 5, EOS_ID], dtype=np.uint32)), ("b", "books", np.array([EOS_ID]))]
    table = token_table(rows, schema)
    assert table.column("input_ids").to_pylist() == [[69_999, 5, EOS_ID], [EOS_ID]]
    assert table.column("num_tokens").to_pylist() == [3, 1]
    write_shard(token_table([], schema), tmp_path / "empty.parquet")
    empty = pq.read_table(tmp_path / "empty.parquet")
    assert empty.num_rows == 0 and empty.schema.field("input_ids").type == pa.list_(pa.uint32())
