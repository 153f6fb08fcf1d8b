"""`curate ingest` on EPUB and PDF books: detection by content, page locations, rejections that do not stop the run."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from filters.books.pdf import read_pdf
from pipelines.cli import main as curate
from tests.filters.books.bookfixtures import (
    make_epub,
    make_pdf,
    make_scanned_pdf,
    sample_chapters,
)

CHAPTERS = sample_chapters()


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("books")
    pdf = make_pdf(CHAPTERS)
    (d / "moby.pdf").write_bytes(pdf)
    (d / "moby-no-extension").write_bytes(pdf)  # detected by its magic bytes
    (d / "moby.epub").write_bytes(make_epub(
        CHAPTERS, front=["The Project Gutenberg eBook of Moby Dick",
                         "*** START OF THE PROJECT GUTENBERG EBOOK MOBY DICK ***"],
        back=["*** END OF THE PROJECT GUTENBERG EBOOK MOBY DICK ***", "Section 1. General Terms of Use"]))
    (d / "scan.pdf").write_bytes(make_scanned_pdf("A scanned page."))
    (d / "locked.pdf").write_bytes(make_pdf(CHAPTERS[:1], user_password="secret"))
    (d / "cut.pdf").write_bytes(pdf[: len(pdf) // 2])
    (d / "notes.txt").write_text("A plain note about whales.")
    return d


def _run(books: Path, run: Path, *extra: str) -> tuple[list[dict], dict[str, str]]:
    assert curate(["ingest", "--run", str(run), "--input", f"books={books}/*", *extra]) == 0
    docs = sorted(pq.read_table(run / "ingest").to_pylist(), key=lambda r: r["source"])
    rejected = {Path(r["source"]).name: r["reason"] for r in pq.read_table(run / "rejected" / "ingest").to_pylist()}
    return docs, rejected


@pytest.fixture(scope="module")
def ingested(books, tmp_path_factory) -> tuple[Path, list[dict], dict[str, str]]:
    run = tmp_path_factory.mktemp("run")
    return run, *_run(books, run)


def test_ingest_books(ingested):
    run, docs, rejected = ingested
    assert rejected == {"scan.pdf": "no_text_layer", "locked.pdf": "encrypted", "cut.pdf": "unreadable_file"}
    by_name = {Path(d["source"]).name: d for d in docs}
    assert sorted(by_name) == ["moby-no-extension", "moby.epub", "moby.pdf", "notes.txt"]
    for name in ("moby-no-extension", "moby.epub", "moby.pdf"):
        doc = by_name[name]
        assert doc["kind"] == "book"
        assert doc["text"].startswith("CHAPTER 1. Loomings.") or doc["text"].startswith("Call me Ishmael")
        assert "Project Gutenberg" not in doc["text"] and "Terms of Use" not in doc["text"]
        meta = json.loads(doc["meta"])
        assert meta["title"] == "Moby Dick" and meta["author"] == "Herman Melville"
    assert by_name["moby.pdf"]["location"] == "page=1"
    assert json.loads(by_name["moby.pdf"]["meta"])["format"] == "pdf"
    assert json.loads(by_name["moby.epub"]["meta"])["format"] == "epub"
    assert by_name["moby-no-extension"]["text"] == by_name["moby.pdf"]["text"]
    success = json.loads((run / "ingest" / "_SUCCESS").read_text())
    assert success["rejected_by_reason"] == {"encrypted": 1, "no_text_layer": 1, "unreadable_file": 1}


def test_one_document_per_chapter(books, tmp_path):
    docs, _ = _run(books, tmp_path / "run", "--set", "ingest.pdf_split=chapter", "--set", "ingest.pdf_library=pypdf")
    pdf_docs = [d for d in docs if d["source"].endswith("moby.pdf")]
    starts = read_pdf((books / "moby.pdf").read_bytes()).outline
    assert len(starts) == 2 and starts[0][1] == 0
    by_location = {d["location"]: json.loads(d["meta"])["chapter"] for d in pdf_docs}
    assert by_location == {f"page={page + 1}": title for title, page in starts}
    assert len({d["id"] for d in pdf_docs}) == 2


def test_filter_stage_writes_book_quality_columns(ingested):
    run = ingested[0]
    assert curate(["filter", "--run", str(run), "--workers", "1"]) == 0
    kept = {Path(r["source"]).name: r for r in pq.read_table(run / "filter").to_pylist()}
    for name in ("moby.epub", "moby.pdf"):
        assert kept[name]["book_garbage_line_share"] == 0.0
        assert kept[name]["book_alpha_share"] > 0.9
