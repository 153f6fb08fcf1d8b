"""What every reader shares: the per-file context, and turning raw text into a Document or a rejection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

from filters.document import Document, Rejected, make_id, snippet
from filters.gutenberg import looks_like_gutenberg, strip_gutenberg
from filters.normalize import normalize_text
from pipelines import storage
from pipelines.config import IngestConfig


@dataclass(frozen=True)
class FileContext:
    """One input file: where it is, the name it is known by in ids, and how to read it."""

    path: str  # as listed (the `source` column)
    relname: str  # relative to its input's base folder: ids do not depend on where the corpus lives
    dataset: str
    kind: str  # resolved kind, or "auto" to decide per document (text files)
    text_field: str = "text"
    url_field: str | None = "url"
    # Where the bytes are read from when it is not `path`: an --input-list entry is named by its listed
    # path and read from its --input-base (a bucket, an https:// host or a local mirror).
    fetch: str = ""

    @property
    def read_path(self) -> str:
        return self.fetch or self.path

    def open(self) -> IO[bytes]:
        """The file as a binary stream, local or remote (pipelines.storage: streamed, retried)."""
        return storage.open_read(self.read_path)

    def doc_id(self, location: str) -> str:
        return make_id(self.dataset, self.relname, location)

    def reject(self, location: str, reason: str, text: str = "") -> Rejected:
        return Rejected(
            id=self.doc_id(location or "file"),
            reason=reason,
            source=self.path,
            location=location,
            snippet=snippet(text),
            dataset=self.dataset,
        )


def make_document(
    ctx: FileContext,
    location: str,
    text: str,
    cfg: IngestConfig,
    *,
    url: str | None = None,
    meta: dict[str, Any] | None = None,
    kind: str | None = None,
) -> Document | Rejected:
    """Size check, Gutenberg stripping, normalization; `empty` when nothing is left."""
    if cfg.max_doc_bytes is not None and len(text) > cfg.max_doc_bytes // 4:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > cfg.max_doc_bytes:
            return ctx.reject(location, "too_large", text)
    if "\x00" in text and cfg.on_nul == "reject":
        return ctx.reject(location, "contains_nul", text.replace("\x00", "\\0"))
    kind = kind or ctx.kind
    if cfg.strip_gutenberg and looks_like_gutenberg(text):
        text = strip_gutenberg(text)
        if kind in ("auto", "text"):
            kind = "book"
    if kind == "auto":
        kind = "text"
    text = normalize_text(text, fix_mojibake=cfg.fix_mojibake)
    if not text:
        return ctx.reject(location, "empty")
    return Document(
        id=ctx.doc_id(location),
        text=text,
        source=ctx.path,
        kind=kind,
        dataset=ctx.dataset,
        location=location,
        url=url,
        meta=json.dumps(meta or {}, sort_keys=True, ensure_ascii=False, default=str),
    )
