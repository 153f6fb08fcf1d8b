"""JSONL (plain, .gz, .zst) -> Documents. Each line is decoded on its own: a bad line costs that line."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import IO

from filters.document import Document, Rejected
from pipelines import storage
from pipelines.config import IngestConfig
from pipelines.io.records import FileContext, make_document


def open_maybe_compressed(path: str) -> IO[bytes]:
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=storage.open_read(path), mode="rb")
    if path.endswith(".zst") or path.endswith(".zstd"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(storage.open_read(path)))
    return storage.open_read(path)


def read_jsonl(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    try:
        f = open_maybe_compressed(ctx.read_path)
    except OSError as e:
        yield ctx.reject("", "unreadable_file", str(e))
        return
    lineno = 0
    try:
        with f:
            for lineno, raw in enumerate(f, start=1):  # noqa: B007 (lineno is used after the loop)
                yield from _read_line(ctx, cfg, raw, f"line={lineno}")
    except (EOFError, zlib.error, OSError, ValueError) as e:
        reason = "truncated_file" if lineno and not isinstance(e, storage.StorageError) else "unreadable_file"
        yield ctx.reject(f"line={lineno + 1}", reason, str(e))


def _read_line(ctx: FileContext, cfg: IngestConfig, raw: bytes, location: str) -> Iterator[Document | Rejected]:
    if not raw.strip():
        return  # blank lines separate nothing and hold nothing
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        yield ctx.reject(location, "invalid_utf8", raw[:200].decode("utf-8", "replace"))
        return
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        yield ctx.reject(location, "invalid_json", line)
        return
    if not isinstance(record, dict):
        yield ctx.reject(location, "not_an_object", line)
        return
    yield record_to_document(ctx, cfg, record, location)


def record_to_document(ctx: FileContext, cfg: IngestConfig, record: dict, location: str) -> Document | Rejected:
    text = record.get(ctx.text_field)
    if not isinstance(text, str):
        return ctx.reject(location, "missing_text", json.dumps(record, ensure_ascii=False, default=str)[:200])
    if not text.strip():
        return ctx.reject(location, "empty")
    url = record.get(ctx.url_field) if ctx.url_field else None
    meta = {k: v for k, v in record.items() if k not in (ctx.text_field, ctx.url_field)}
    return make_document(ctx, location, text, cfg, url=url if isinstance(url, str) else None, meta=meta)
