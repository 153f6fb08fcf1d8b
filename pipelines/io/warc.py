"""WARC / WARC.gz -> Documents: `response` records, HTML to main text.

warcio returns a record cut short by the end of the file without complaint, so each record's
payload is checked against its Content-Length: a short one means the file was truncated there
(`truncated_file`); every complete record before the cut is kept.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from warcio.archiveiterator import ArchiveIterator

from filters.document import Document, Rejected
from filters.extract import decode_html, extract_main_text
from pipelines import storage
from pipelines.config import IngestConfig
from pipelines.io.records import FileContext, make_document

try:  # ISA-L's inflate: the same bytes as zlib's at about twice the speed (inflate is ~7% of ingest CPU)
    from isal.isal_zlib import decompressobj as _inflate
except ImportError:  # pragma: no cover (isal is a dependency; zlib gives the same records, slower)
    from zlib import decompressobj as _inflate

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain",)
GZIP_MAGIC = b"\x1f\x8b"


def _content_type(record) -> tuple[str, str | None]:
    raw = record.http_headers.get_header("Content-Type") if record.http_headers else None
    if not raw:
        return "", None
    parts = [p.strip() for p in raw.split(";")]
    mime = parts[0].lower()
    charset = None
    for p in parts[1:]:
        if p.lower().startswith("charset="):
            charset = p.split("=", 1)[1].strip("\"' ") or None
    return mime, charset


def read_warc(ctx: FileContext, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    try:
        f = ctx.open()  # (closed in finally; the generator may stop early)
    except OSError as e:
        yield ctx.reject("", "unreadable_file", str(e))
        return
    try:
        head = f.read(5)
        f.seek(0)
        if head[:2] != GZIP_MAGIC and head != b"WARC/":
            yield ctx.reject("", "unreadable_file", f"not a WARC file (starts with {head!r})")
            return
        it = ArchiveIterator(f)
        _fast_inflate(it)
        offset = 0
        records = 0
        try:
            for record in it:
                offset = it.offset  # (get_record_offset() would consume the record's payload)
                records += 1
                if record.rec_type == "response":
                    yield from _read_response(ctx, cfg, record, f"offset={offset}")
                else:
                    _drain(record.raw_stream)
                if record.raw_stream.limit > 0:  # the record ended before its Content-Length
                    yield ctx.reject(f"offset={offset}", "truncated_file")
                    return
            # A gzip member cut early can decompress to nothing at all: warcio then just stops. Every
            # member before the last record's was read whole by warcio, so the check starts there
            # (not a second decompression of the whole file); should that offset not start a member
            # (a WARC gzipped as one stream), the check reads the whole file after all.
            if head[:2] == GZIP_MAGIC:
                cut = incomplete_gzip_member(ctx.read_path, start=offset)
                if cut is not None and cut == offset != 0:
                    cut = incomplete_gzip_member(ctx.read_path)
                if cut is not None:
                    yield ctx.reject(f"offset={cut}", "truncated_file", "gzip member ends early")
        except Exception as e:  # noqa: BLE001 (warcio raises anything on a cut header: keep what we have)
            reason = "truncated_file" if records and not isinstance(e, storage.StorageError) else "unreadable_file"
            yield ctx.reject(f"offset={offset}", reason, f"{type(e).__name__}: {e}")
    finally:
        f.close()


def _gzip_decompressor():
    return _inflate(16 + zlib.MAX_WBITS)


def _fast_inflate(it: ArchiveIterator) -> None:
    """Have this iterator's reader inflate gzip members with `_inflate` (warcio's own extension point, the
    decompressor table, overridden on this reader only; it reads nothing before the first record)."""
    it.reader.DECOMPRESSORS = {**it.reader.DECOMPRESSORS, "gzip": _gzip_decompressor}
    it.reader.set_decomp("gzip")


def incomplete_gzip_member(path: str, block: int = 1 << 20, start: int = 0) -> int | None:
    """Offset of the first gzip member from `start` on (an offset where a member begins) that ends before
    its trailer, or None if every member is whole."""
    with storage.open_read(path) as f:
        if start:
            f.seek(start)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pos = start
        while True:
            data = f.read(block)
            if not data:
                return None if d.eof or pos == start else start
            while data:
                if d.eof:  # the next member begins in this block
                    start = pos
                    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                try:
                    d.decompress(data)
                except zlib.error:
                    return start
                consumed = len(data) - len(d.unused_data) if d.eof else len(data)
                pos += consumed
                data = d.unused_data if d.eof else b""


def _drain(stream) -> None:
    while stream.read(1 << 16):
        pass


def _read_response(ctx: FileContext, cfg: IngestConfig, record, location: str) -> Iterator[Document | Rejected]:
    payload = record.content_stream().read()
    if record.raw_stream.limit > 0:
        return  # truncated: reported by the caller
    url = record.rec_headers.get_header("WARC-Target-URI")
    status = record.http_headers.get_statuscode() if record.http_headers else None
    meta = {
        "warc_record_id": record.rec_headers.get_header("WARC-Record-ID"),
        "warc_date": record.rec_headers.get_header("WARC-Date"),
        "http_status": status,
    }
    mime, charset = _content_type(record)
    meta["content_type"] = mime
    if status and not status.startswith("2"):
        yield ctx.reject(location, f"http_status:{status}")
        return
    if not mime:
        mime = "text/html" if payload[:1024].lstrip()[:1] == b"<" else "application/octet-stream"
    if mime in HTML_TYPES:
        if len(payload) > cfg.max_html_bytes:
            yield ctx.reject(location, "too_large")
            return
        try:
            text = extract_main_text(decode_html(payload, charset), cfg.extractor)
        except Exception as e:  # a parser failure costs this record only
            yield ctx.reject(location, "extraction_failed", f"{type(e).__name__}: {e}")
            return
    elif mime in TEXT_TYPES:
        text = decode_html(payload, charset)
    else:
        yield ctx.reject(location, f"non_text_payload:{mime}")
        return
    if not text.strip():
        yield ctx.reject(location, "no_main_text", url or "")
        return
    yield make_document(ctx, location, text, cfg, url=url, meta=meta, kind="web")
