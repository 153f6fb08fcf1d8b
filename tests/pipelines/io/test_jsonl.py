from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from filters.document import Document, Rejected
from pipelines.config import IngestConfig
from pipelines.io.jsonl import read_jsonl
from pipelines.io.records import FileContext

GOOD = {"id": "a1", "text": "A perfectly good article about ships.", "category": "news", "url": "https://e.org/a"}


def read(path: Path, **cfg) -> tuple[list[Document], list[Rejected]]:
    ctx = FileContext(path=str(path), relname=path.name, dataset="articles", kind="article")
    items = list(read_jsonl(ctx, IngestConfig(**cfg)))
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Rejected)]


def test_each_bad_line_costs_only_that_line(tmp_path):
    lines = [
        json.dumps(GOOD).encode(),
        b'{"text": "broken json',
        b'{"text": "bad \xff\xfe utf8"}',
        json.dumps({"id": "x", "body": "no text field"}).encode(),
        json.dumps({"text": "   "}).encode(),
        json.dumps(["an", "array"]).encode(),
        json.dumps({"text": "nul\x00 characters are removed"}).encode(),
        json.dumps({**GOOD, "text": "The last good one."}).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    docs, rejected = read(path)
    assert [(r.reason, r.location) for r in rejected] == [
        ("invalid_json", "line=2"),
        ("invalid_utf8", "line=3"),
        ("missing_text", "line=4"),
        ("empty", "line=5"),
        ("not_an_object", "line=6"),
        ("contains_nul", "line=7"),
    ]
    assert [d.location for d in docs] == ["line=1", "line=8"]
    docs, _ = read(path, on_nul="strip")
    assert docs[1].text == "nul characters are removed"
    assert docs[0].url == "https://e.org/a"
    assert json.loads(docs[0].meta) == {"id": "a1", "category": "news"}


def test_gzip_and_zstd_inputs(tmp_path):
    payload = (json.dumps(GOOD) + "\n").encode() * 3
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(payload))
    zst = tmp_path / "a.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(payload))
    for path in (gz, zst):
        docs, rejected = read(path)
        assert len(docs) == 3 and rejected == []


def test_truncated_gzip_keeps_lines_before_the_cut(tmp_path):
    payload = b"".join((json.dumps({"text": f"line {i} " + "word " * 40}) + "\n").encode() for i in range(2000))
    blob = gzip.compress(payload)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    docs, rejected = read(path)
    assert 0 < len(docs) < 2000
    assert [r.reason for r in rejected] == ["truncated_file"]
    assert docs[-1].location == f"line={len(docs)}"


@pytest.mark.parametrize(("limit", "kept"), [(None, 1), (100, 0)])
def test_too_large_is_configurable(tmp_path, limit, kept):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "word " * 100}) + "\n")
    docs, rejected = read(path, max_doc_bytes=limit)
    assert len(docs) == kept
    assert [r.reason for r in rejected] == ([] if kept else ["too_large"])


def test_custom_text_field(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"content": "Text lives elsewhere."}) + "\n")
    ctx = FileContext(path=str(path), relname="c.jsonl", dataset="d", kind="text", text_field="content")
    (doc,) = list(read_jsonl(ctx, IngestConfig()))
    assert isinstance(doc, Document) and doc.text == "Text lives elsewhere."


def test_missing_file_is_unreadable(tmp_path):
    docs, rejected = read(tmp_path / "nope.jsonl")
    assert docs == [] and [r.reason for r in rejected] == ["unreadable_file"]
