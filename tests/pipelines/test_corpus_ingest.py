"""Ingest on the shared corpus (skipped when it is absent): every record accounted for."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.cli import main as curate


def _read(run: Path, stage: str = "ingest") -> tuple[list[dict], list[dict]]:
    docs = pq.read_table(run / stage).to_pylist()
    rejected_dir = run / "rejected" / stage
    rejected = pq.read_table(rejected_dir).to_pylist() if any(rejected_dir.glob("*.parquet")) else []
    return docs, rejected


@pytest.fixture(scope="module")
def faults_run(corpus_dir: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("faults") / "run"
    assert curate(["ingest", "--run", str(run), "--input", f"{corpus_dir}/faults/*"]) == 0
    return run


def test_mixed_jsonl_every_line_accounted_for(faults_run, corpus_dir):
    docs, rejected = _read(faults_run)
    mixed = str(corpus_dir / "faults" / "mixed.jsonl")
    kept = {d["location"] for d in docs if d["source"] == mixed}
    dropped = {r["location"]: r["reason"] for r in rejected if r["source"] == mixed}
    n_lines = len(Path(mixed).read_bytes().splitlines())
    assert len(kept) + len(dropped) == n_lines == 57
    assert len(kept) == 50
    assert all(json.loads(d["meta"])["id"].startswith("bbc-") for d in docs if d["source"] == mixed)
    assert sorted(dropped.values()) == sorted([
        "invalid_json", "invalid_utf8", "contains_nul", "missing_text", "empty", "not_an_object", "too_large",
    ])


def test_huge_document_kept_when_configured(corpus_dir, tmp_path):
    run = tmp_path / "run"
    assert curate(["ingest", "--run", str(run), "--input", f"{corpus_dir}/faults/mixed.jsonl",
                   "--set", "ingest.max_doc_bytes=null"]) == 0
    docs, rejected = _read(run)
    assert len(docs) == 51 and "too_large" not in {r["reason"] for r in rejected}
    assert max(len(d["text"]) for d in docs) > 8_000_000


def test_truncated_and_unreadable_warcs(faults_run, corpus_dir):
    docs, rejected = _read(faults_run)
    truncated = str(corpus_dir / "faults" / "truncated.warc.gz")
    reasons = Counter(r["reason"] for r in rejected if r["source"] == truncated)
    assert reasons["truncated_file"] == 1
    # Every complete response record before the cut is kept or rejected for a reason of its own.
    responses = 0
    with open(truncated, "rb") as f:
        try:
            for rec in ArchiveIterator(f):
                if rec.rec_type == "response":
                    rec.content_stream().read()
                    if rec.raw_stream.limit == 0:
                        responses += 1
        except Exception:
            pass
    n_docs = sum(1 for d in docs if d["source"] == truncated)
    assert n_docs + sum(reasons.values()) - reasons["truncated_file"] == responses
    not_gzip = str(corpus_dir / "faults" / "not-gzip.warc.gz")
    assert [r["reason"] for r in rejected if r["source"] == not_gzip] == ["unreadable_file"]


@pytest.mark.slow
def test_whole_corpus(corpus_dir, tmp_path):
    run = tmp_path / "run"
    assert curate([
        "ingest", "--run", str(run),
        "--input", f"web={corpus_dir}/web/*.warc.gz",
        "--input", f"books={corpus_dir}/books/*.txt",
        "--input", f"articles={corpus_dir}/articles/*.jsonl",
        "--input", f"udhr={corpus_dir}/multilingual/*.jsonl",
    ]) == 0
    docs, rejected = _read(run)
    by_reason = Counter(r["reason"] for r in rejected)
    assert by_reason["non_text_payload:application/pdf"] == 1
    assert by_reason["non_text_payload:image/jpeg"] == 1
    books = [d for d in docs if d["dataset"] == "books"]
    assert len(books) == len(list((corpus_dir / "books").glob("*.txt")))
    for b in books:
        assert "PROJECT GUTENBERG EBOOK" not in b["text"].upper()
        assert "SMALL PRINT" not in b["text"].upper()
    # Every WARC response is a document or a named rejection.
    responses = 0
    for path in sorted((corpus_dir / "web").glob("*.warc.gz")):
        with gzip.open(path, "rb") as f:
            responses += sum(1 for rec in ArchiveIterator(f) if rec.rec_type == "response")
    web_docs = sum(1 for d in docs if d["dataset"] == "web")
    web_rejected = sum(1 for r in rejected if r["dataset"] == "web")
    assert web_docs + web_rejected == responses
    assert sum(1 for d in docs if d["dataset"] == "articles") == 2225
