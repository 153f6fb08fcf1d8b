"""Configuration of the dedup_lines stage (frozen dataclass, composed by pipelines.config)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class LineDedupConfig:
    # What a unit is: a line (text between newlines, as CCNet) or a paragraph (text between blank
    # lines, as Dolma's paragraph dedup). Units are normalized as for MinHash (case, punctuation,
    # digits, accents, white space) and hashed to 64 bits (xxh3) before counting.
    unit: Literal["line", "paragraph"] = "line"
    # Units whose normalized text is shorter than this are never counted nor removed: "Chapter 1",
    # "Thanks!" or "Menu" are no evidence of boilerplate, and removing them damages prose.
    min_unit_chars: int = 30
    # A unit is removed from every document holding it when it occurs in at least `min_docs`
    # distinct documents of its scope AND in at least `min_doc_fraction` of them. Counts are of
    # distinct documents: a paragraph repeated inside one document counts once.
    min_docs: int = 10
    min_doc_fraction: float = 0.0
    # dataset: units are counted per dataset (a site footer is boilerplate within its crawl);
    # run: across every in-scope document of the run.
    scope: Literal["dataset", "run"] = "dataset"
    # Document kinds counted and edited; others pass through untouched (books reuse their own
    # phrases, and two editions of a book are document duplicates, not boilerplate).
    kinds: list[str] = field(default_factory=lambda: ["web"])
    # A document with fewer characters left than this (after stripping), or with less than this
    # fraction of its characters left, is dropped with reason `repeated_text`.
    min_doc_chars: int = 100
    min_kept_fraction: float = 0.0
    sample_ids: int = 5  # document ids kept per removed unit in RUN/rejected/dedup_lines/_units
    partitions: int = 16  # hash ranges the per-unit counts are combined in (one combine key each)
    batch_size: int = 1024  # documents read per batch
    # A previous run folder whose stored unit counts are added to this run's (incremental runs);
    # `curate dedup-lines --against` sets it.
    against: str | None = None

    def validate(self) -> None:
        if self.min_unit_chars < 1:
            raise ValueError("min_unit_chars: must be >= 1")
        if self.min_docs < 2:
            raise ValueError("min_docs: must be >= 2 (a unit in one document is not repeated)")
        if not 0.0 <= self.min_doc_fraction <= 1.0:
            raise ValueError("min_doc_fraction: must be in [0, 1]")
        if not self.kinds:
            raise ValueError("kinds: give at least one document kind")
        if self.min_doc_chars < 0:
            raise ValueError("min_doc_chars: must be >= 0")
        if not 0.0 <= self.min_kept_fraction <= 1.0:
            raise ValueError("min_kept_fraction: must be in [0, 1]")
        if self.sample_ids < 1:
            raise ValueError("sample_ids: must be >= 1")
        if self.partitions < 1:
            raise ValueError("partitions: must be >= 1")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
