"""EPUB and PDF files -> book Documents (one per file, or one per outline chapter for PDFs)."""

from __future__ import annotations

from collections.abc import Iterator

from filters.books import BookError
from filters.books.epub import read_epub
from filters.books.pdf import pdf_documents, read_pdf
from filters.document import Document, Rejected
from pipelines.config import IngestConfig
from pipelines.io.records import FileContext, make_document


def _read_bytes(ctx: FileContext, cfg: IngestConfig) -> bytes | Rejected:
    try:
        with ctx.open() as f:
            raw = f.read()
    except OSError as e:
        return ctx.reject("", "unreadable_file", str(e))
    if cfg.max_book_file_bytes is not None and len(raw) > cfg.max_book_file_bytes:
        return ctx.reject("", "too_large", f"{len(raw)} bytes")
    return raw


def read_epub_file(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    raw = _read_bytes(ctx, cfg)
    if isinstance(raw, Rejected):
        yield raw
        return
    try:
        book = read_epub(raw)
    except BookError as e:
        yield ctx.reject("", e.reason, e.detail)
        return
    meta = {**book.meta, "format": "epub"}
    yield make_document(ctx, "", book.text, cfg, meta=meta)


def read_pdf_file(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    raw = _read_bytes(ctx, cfg)
    if isinstance(raw, Rejected):
        yield raw
        return
    try:
        parts = pdf_documents(read_pdf(raw, cfg.pdf_library), cfg.pdf_split)
    except BookError as e:
        yield ctx.reject("", e.reason, e.detail)
        return
    for part in parts:
        meta = {**part.meta, "format": "pdf"}
        yield make_document(ctx, f"page={part.page}", part.text, cfg, meta=meta)
