from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from filters.document import Document, Rejected
from pipelines.config import IngestConfig
from pipelines.io.records import FileContext
from pipelines.io.text import read_parquet_file, read_text_file

BOOK = """The Project Gutenberg eBook of A Test Book

This eBook is for the use of anyone anywhere in the United States.

*** START OF THE PROJECT GUTENBERG EBOOK A TEST BOOK ***

CHAPTER I.

It was a bright cold day in April, and the clocks were striking thirteen.

*** END OF THE PROJECT GUTENBERG EBOOK A TEST BOOK ***

Section 1. General Terms of Use and Redistributing Project Gutenberg electronic works
"""


def test_a_book_is_one_document_without_gutenberg_boilerplate(tmp_path):
    path = tmp_path / "pg1.txt"
    path.write_text(BOOK)
    (doc,) = read_text_file(FileContext(str(path), "pg1.txt", "books", "auto"), IngestConfig())
    assert isinstance(doc, Document)
    assert doc.kind == "book"
    assert doc.text == "CHAPTER I.\n\nIt was a bright cold day in April, and the clocks were striking thirteen."


def test_plain_text_stays_text_and_latin1_is_decoded(tmp_path):
    path = tmp_path / "note.txt"
    path.write_bytes("Café au lait, s'il vous plaît. Ça coûte très cher.".encode("latin-1"))
    (doc,) = read_text_file(FileContext(str(path), "note.txt", "text", "auto"), IngestConfig())
    assert doc.kind == "text" and doc.text.startswith("Café au lait")


def test_text_file_too_large(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x" * 1000)
    (rej,) = read_text_file(FileContext(str(path), "big.txt", "text", "auto"), IngestConfig(max_doc_bytes=500))
    assert isinstance(rej, Rejected) and rej.reason == "too_large"


def test_parquet_input_rows(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["one doc here", None, "third"], "lang": ["en", "en", "fr"]}), path)
    items = list(read_parquet_file(FileContext(str(path), "in.parquet", "pq", "text"), IngestConfig()))
    assert [type(i).__name__ for i in items] == ["Document", "Rejected", "Document"]
    assert items[1].reason == "missing_text" and items[1].location == "row=1"
    assert items[2].meta == '{"lang": "fr"}'
