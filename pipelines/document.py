"""Arrow schemas of every stage's output, and Document <-> row conversion.

Every documents stage writes the BASE columns; stages that add per-document measurements (filter
signals, dedup cluster ids) append typed columns through `document_schema(extra_fields)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from filters.document import Document, Rejected

__all__ = [
    "BASE_FIELDS",
    "DOCUMENT_SCHEMA",
    "REJECTED_SCHEMA",
    "Document",
    "Rejected",
    "document_schema",
    "rejected_schema",
    "from_row",
    "to_row",
    "rejected_to_row",
]

BASE_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.large_string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("location", pa.string(), nullable=False),
    pa.field("url", pa.string(), nullable=True),
    pa.field("meta", pa.string(), nullable=False),
]
_BASE_NAMES = [f.name for f in BASE_FIELDS]

DOCUMENT_SCHEMA = pa.schema(BASE_FIELDS)

REJECTED_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("location", pa.string(), nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("snippet", pa.string(), nullable=False),
]
REJECTED_SCHEMA = pa.schema(REJECTED_FIELDS)


def document_schema(extra_fields: Iterable[pa.Field] = ()) -> pa.Schema:
    """Base document columns followed by a stage's typed extra columns (signals, cluster ids...)."""
    return pa.schema([*BASE_FIELDS, *extra_fields])


def rejected_schema(extra_fields: Iterable[pa.Field] = ()) -> pa.Schema:
    return pa.schema([*REJECTED_FIELDS, *extra_fields])


def to_row(doc: Document, schema: pa.Schema = DOCUMENT_SCHEMA) -> dict[str, Any]:
    """A row for `schema`: base fields from the dataclass, every other column from `doc.signals`."""
    row: dict[str, Any] = {
        "id": doc.id,
        "text": doc.text,
        "source": doc.source,
        "kind": doc.kind,
        "dataset": doc.dataset,
        "location": doc.location,
        "url": doc.url,
        "meta": doc.meta,
    }
    for name in schema.names[len(_BASE_NAMES) :]:
        row[name] = doc.signals.get(name)
    return row


def from_row(row: Mapping[str, Any]) -> Document:
    """The inverse of `to_row`: columns beyond the base ones come back as signals (nulls dropped)."""
    signals = {k: v for k, v in row.items() if k not in _BASE_NAMES and v is not None}
    return Document(
        id=row["id"],
        text=row["text"],
        source=row["source"],
        kind=row["kind"],
        dataset=row.get("dataset") or "",
        location=row.get("location") or "",
        url=row.get("url"),
        meta=row.get("meta") or "{}",
        signals=signals,
    )


def rejected_to_row(rej: Rejected, schema: pa.Schema = REJECTED_SCHEMA) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": rej.id,
        "reason": rej.reason,
        "source": rej.source,
        "location": rej.location,
        "dataset": rej.dataset,
        "snippet": rej.snippet,
    }
    for name in schema.names[len(REJECTED_FIELDS) :]:
        row[name] = rej.extra.get(name)
    return row
