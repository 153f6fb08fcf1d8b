"""The `Document` every stage passes around, and the record of a dropped one.

Lives in `filters` (not `pipelines`) so that the pure rules can take it without importing Beam;
`pipelines.document` re-exports it together with the Arrow schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import xxhash

#: Document kinds the readers produce.
KINDS = ("web", "book", "article", "text")

SNIPPET_CHARS = 200


@dataclass(slots=True)
class Document:
    """One document. `signals` holds the per-rule measurements later stages add (written as columns)."""

    id: str
    text: str
    source: str  # the input file the document came from, as listed
    kind: str  # one of KINDS
    dataset: str = ""  # the logical source name from config (mixture weights key on it)
    location: str = ""  # where in `source`: "line=12", "offset=3456" (WARC record), "" for a whole file
    url: str | None = None
    meta: str = "{}"  # JSON: WARC record id and date, non-text JSONL fields, ...
    signals: dict[str, Any] = field(default_factory=dict)

    def meta_dict(self) -> dict[str, Any]:
        return json.loads(self.meta) if self.meta else {}

    def snippet(self) -> str:
        return snippet(self.text)


@dataclass(slots=True)
class Rejected:
    """A dropped record: why, and where to find it again."""

    id: str
    reason: str  # a named reason, e.g. "invalid_json", "gopher_quality:too_few_words", "near_duplicate"
    source: str
    location: str
    snippet: str = ""
    dataset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # stage-specific columns, e.g. duplicate_of

    @classmethod
    def of(cls, doc: Document, reason: str, **extra: Any) -> Rejected:
        return cls(
            id=doc.id,
            reason=reason,
            source=doc.source,
            location=doc.location,
            snippet=doc.snippet(),
            dataset=doc.dataset,
            extra=extra,
        )


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text[: limit * 2].split())
    return text[:limit]


def make_id(*parts: str) -> str:
    """Stable 128-bit document id (hex) from the parts that locate a record: same input, same id."""
    return xxhash.xxh3_128_hexdigest("\x1f".join(parts).encode("utf-8", "surrogatepass"))


def reason_family(reason: str) -> str:
    """`non_text_payload:application/pdf` -> `non_text_payload` (Beam counter names stay few)."""
    return reason.split(":", 1)[0]
