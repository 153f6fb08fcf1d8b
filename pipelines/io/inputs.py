"""Input specs -> a sorted listing of files, each with its format, kind and dataset name."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from filters.books import sniff_book_format
from filters.document import Document, Rejected
from pipelines.config import IngestConfig, InputSpec
from pipelines.io.books import read_epub_file, read_pdf_file
from pipelines.io.jsonl import read_jsonl
from pipelines.io.records import FileContext
from pipelines.io.text import read_parquet_file, read_text_file
from pipelines.io.warc import read_warc

_DEFAULT_KIND = {"warc": "web", "jsonl": "article", "parquet": "article", "text": "auto", "epub": "book", "pdf": "book"}


def detect_format(path: str) -> str:
    name = path.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        if name.endswith(suffix) and not name.endswith(".warc.gz") and not name.endswith(".arc.gz"):
            name = name[: -len(suffix)]
    if name.endswith((".warc", ".warc.gz", ".arc", ".arc.gz")):
        return "warc"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".pdf", ".epub")):
        return name.rsplit(".", 1)[1]
    try:  # by content: books often come without (or with a wrong) extension
        with open(path, "rb") as f:
            return sniff_book_format(f.read(1024)) or "text"
    except OSError:
        return "text"  # the reader reports it


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: ids are made relative to it."""
    parts = pattern.split(os.sep)
    fixed = []
    for p in parts:
        if glob.has_magic(p):
            break
        fixed.append(p)
    base = os.sep.join(fixed)
    if base == pattern:  # a single file: its own folder
        return os.path.dirname(pattern)
    return base


@dataclass(frozen=True)
class InputFile:
    ctx: FileContext
    format: str
    size: int


def list_input_files(specs: list[InputSpec]) -> list[InputFile]:
    """Every file of every input, sorted per input, directories expanded recursively."""
    files: list[InputFile] = []
    seen: set[str] = set()
    for spec in specs:
        matches = sorted(glob.glob(spec.path, recursive=True))
        base = _glob_base(spec.path)
        paths: list[str] = []
        for m in matches:
            if os.path.isdir(m):
                paths.extend(
                    sorted(os.path.join(d, f) for d, _, fs in os.walk(m) for f in fs if not f.startswith("."))
                )
                base = m if len(matches) == 1 else base
            else:
                paths.append(m)
        for path in paths:
            if path in seen:
                continue
            seen.add(path)
            fmt = detect_format(path) if spec.format == "auto" else spec.format
            kind = _DEFAULT_KIND[fmt] if spec.kind == "auto" else spec.kind
            dataset = spec.name or (kind if kind != "auto" else "text")
            ctx = FileContext(
                path=path,
                relname=os.path.relpath(path, base) if base else path,
                dataset=dataset,
                kind=kind,
                text_field=spec.text_field,
                url_field=spec.url_field,
            )
            files.append(InputFile(ctx=ctx, format=fmt, size=os.path.getsize(path)))
    return files


_READERS = {"warc": read_warc, "jsonl": read_jsonl, "parquet": read_parquet_file, "text": read_text_file,
            "epub": read_epub_file, "pdf": read_pdf_file}


def read_input_file(f: InputFile, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    return _READERS[f.format](f.ctx, cfg)
