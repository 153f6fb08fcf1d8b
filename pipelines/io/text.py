"""Plain text files and books -> one Document per file; Parquet files with a text column."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.parquet as pq

from filters.document import Document, Rejected
from pipelines import storage
from pipelines.config import IngestConfig
from pipelines.io.jsonl import record_to_document
from pipelines.io.records import FileContext, make_document


def read_text_file(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    try:
        with ctx.open() as f:
            raw = f.read()
    except OSError as e:
        yield ctx.reject("", "unreadable_file", str(e))
        return
    if cfg.max_doc_bytes is not None and len(raw) > cfg.max_doc_bytes:
        yield ctx.reject("", "too_large", raw[:200].decode("utf-8", "replace"))
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding

        text = bytes_to_str(raw, detect_encoding(raw))
    yield make_document(ctx, "", text, cfg)


def read_parquet_file(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    try:
        pf = pq.ParquetFile(ctx.open() if storage.is_remote(ctx.read_path) else ctx.read_path)
    except Exception as e:
        yield ctx.reject("", "unreadable_file", str(e))
        return
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                yield record_to_document(ctx, cfg, record, f"row={row}")
                row += 1
    except Exception as e:
        reason = "unreadable_file" if isinstance(e, storage.StorageError) else "truncated_file"
        yield ctx.reject(f"row={row}", reason, str(e))
