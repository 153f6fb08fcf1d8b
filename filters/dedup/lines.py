"""Line / paragraph deduplication across documents: the pure rules the dedup_lines stage applies.

Text that many different documents share (navigation, cookie banners, footers, legal notices,
"related articles" lists) survives document-level dedup because the pages around it differ. The
remedy of CCNet (Wenzek et al. 2020, removes lines seen before in a shard) and Dolma (paragraphs seen
before, through a Bloom filter) is to count units across documents; here a unit is removed only when
it occurs in at least `min_docs` distinct documents (and a fraction of them) of its scope, so that a
quote shared by two pages stays, and counting is exact (64-bit hashes, no Bloom false positives).

- `split_units`: the (start, end) character spans of the non-blank lines / paragraphs of a text;
- `hash_unit_batch` / `hash_units`: each unit normalized as for MinHash (`normalize.normalize_bytes`:
  case, accents, punctuation, digits, white space; words joined by one space), hashed with xxh3-64,
  and flagged eligible when its normalized text has at least `min_unit_chars` characters (short
  units are never counted nor removed);
- `doc_unit_counts` / `doc_unit_set`: distinct eligible hashes per document (a unit repeated inside
  one document counts once: the count is of documents);
- `merge_counts`: (hash, count) arrays summed per hash, what the combine per key does in numpy;
- `threshold` / `removed_mask`: the decision; `remove_units` / `keeps`: applying it to one document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xxhash

from filters.dedup.lines_config import LineDedupConfig
from filters.dedup.normalize import normalize_bytes
from filters.dedup.shingles import CHUNK_BYTES

#: Bumped whenever unit splitting or hashing changes, so stored counts from an older rule are refused.
UNIT_HASH_SCHEME = 1
#: The scope key of `scope: run` (every in-scope document of the run counts together).
RUN_SCOPE = "*"

_SEPARATORS = {
    "line": re.compile(r"\n"),
    "paragraph": re.compile(r"\n[^\S\n]*\n\s*"),  # a blank line (possibly holding spaces), and what follows
}


def split_units(text: str, unit: str) -> list[tuple[int, int]]:
    """(start, end) spans of the units of `text` that hold something besides white space."""
    spans = []
    pos = 0
    if unit == "line":  # str.split is ~3x faster than the regex
        for line in text.split("\n"):
            end = pos + len(line)
            if line and not line.isspace():
                spans.append((pos, end))
            pos = end + 1
        return spans
    for m in _SEPARATORS[unit].finditer(text):
        if not text[pos : m.start()].isspace() and m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text) and not text[pos:].isspace():
        spans.append((pos, len(text)))
    return spans


@dataclass(slots=True)
class Units:
    """The units of one document: spans in its text, 64-bit hashes, and whether each is counted."""

    spans: list[tuple[int, int]]
    hashes: np.ndarray  # uint64
    eligible: np.ndarray  # bool: normalized text has at least min_unit_chars characters

    def __len__(self) -> int:
        return len(self.spans)


#: Joins the units of a non-ASCII text so that it is normalized in one call: a code point above the
#: normalization table (mapped to itself, NFKD-stable, never a space) that text practically never holds.
_JOIN = "\U000F0000"
_JOIN_BYTES = _JOIN.encode("utf-8")


def canonical_units(text: str, spans: Sequence[tuple[int, int]]) -> list[bytes]:
    """The normalized text of each unit, words joined by one space (a unit's hash is its xxh3-64)."""
    return [b" ".join(normalize_bytes(text[s:e]).split()) for s, e in spans]


def unit_hash(canonical: bytes) -> int:
    """The hash of one unit from its canonical normalized text (the reference for `hash_unit_batch`)."""
    return xxhash.xxh3_64_intdigest(canonical)


@dataclass(slots=True)
class UnitBatch:
    """The units of a batch of documents: document d owns units offsets[d]:offsets[d + 1]."""

    spans: list[list[tuple[int, int]]]
    hashes: np.ndarray  # uint64
    eligible: np.ndarray  # bool
    offsets: np.ndarray  # int64, len = documents + 1

    def units(self, d: int) -> Units:
        lo, hi = self.offsets[d], self.offsets[d + 1]
        return Units(self.spans[d], self.hashes[lo:hi], self.eligible[lo:hi])


_SPACE = 0x20


def hash_unit_batch(texts: Sequence[str], unit: str, min_unit_chars: int) -> UnitBatch:
    """Units of many documents, hashed in cache-sized chunks: Python splits each text into units and
    normalizes it in one call; compacting white space, measuring lengths in characters and finding
    each unit's canonical bytes run in numpy over the chunk; xxh3-64 reads each unit in place."""
    spans = [split_units(t, unit) for t in texts]
    hashes: list[np.ndarray] = []
    eligible: list[np.ndarray] = []
    lo = size = 0
    for i, t in enumerate(texts):
        size += len(t) + 1
        if size >= CHUNK_BYTES or i == len(texts) - 1:
            h, e = _hash_chunk(texts[lo : i + 1], spans[lo : i + 1], min_unit_chars)
            hashes.append(h)
            eligible.append(e)
            lo, size = i + 1, 0
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in spans], out=offsets[1:])
    if not hashes:
        return UnitBatch(spans, np.zeros(0, np.uint64), np.zeros(0, bool), offsets)
    return UnitBatch(spans, np.concatenate(hashes), np.concatenate(eligible), offsets)


def _hash_chunk(texts: Sequence[str], spans: Sequence[list[tuple[int, int]]], min_chars: int):
    pieces: list[bytes] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for text, sp in zip(texts, spans, strict=True):
        if text.isascii():  # byte-to-byte normalization: the units keep their offsets
            pieces.append(normalize_bytes(text))
            starts += [pos + s for s, _ in sp]
            ends += [pos + e for _, e in sp]
            pos += len(text)
        else:
            for norm in _normalized_units(text, sp):
                pieces.append(norm)
                starts.append(pos)
                pos += len(norm)
                ends.append(pos)
                pieces.append(b" ")
                pos += 1
        pieces.append(b" ")  # documents never run into each other
        pos += 1
    raw = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    # Compact runs of spaces, then drop one space at either end of each unit: the canonical text.
    # (Positions are mapped with searchsorted over the few unit bounds: a cumsum over every byte
    # costs more than the rest of the chunk.)
    space = raw == _SPACE
    keep = ~space
    keep[1:] |= ~space[:-1]
    kept = np.flatnonzero(keep)
    c = raw[kept]
    s = np.searchsorted(kept, np.asarray(starts, dtype=np.int64))
    e = np.searchsorted(kept, np.asarray(ends, dtype=np.int64))
    nonempty = s < e
    s = s + (nonempty & (c[np.minimum(s, len(c) - 1)] == _SPACE))
    e = e - ((s < e) & (c[np.maximum(e - 1, 0)] == _SPACE))
    e = np.maximum(e, s)
    # characters, not UTF-8 bytes (a CJK line would otherwise count 3x): continuation bytes don't count
    cont = np.flatnonzero((c & 0xC0) == 0x80)
    chars = (e - s) - (np.searchsorted(cont, e) - np.searchsorted(cont, s))
    mv = memoryview(c)
    digest = xxhash.xxh3_64_intdigest
    hashes = np.fromiter((digest(mv[a:b]) for a, b in zip(s.tolist(), e.tolist(), strict=True)),
                         dtype=np.uint64, count=len(s))
    return hashes, chars >= min_chars


def _normalized_units(text: str, spans: Sequence[tuple[int, int]]) -> list[bytes]:
    """Normalized bytes of each unit of a non-ASCII text, in one normalization call when possible."""
    if _JOIN not in text:
        pieces = normalize_bytes(_JOIN.join(text[s:e] for s, e in spans)).split(_JOIN_BYTES)
        if len(pieces) == len(spans):
            return pieces
    return [normalize_bytes(text[s:e]) for s, e in spans]


def hash_units(text: str, unit: str, min_unit_chars: int) -> Units:
    """The units of one document (see `hash_unit_batch`)."""
    return hash_unit_batch([text], unit, min_unit_chars).units(0)


def doc_unit_counts(batch: UnitBatch, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, number of documents holding it) over the documents `docs` of a batch, eligible units
    only; a unit repeated inside one document counts once."""
    doc_of = np.repeat(np.arange(len(batch.spans)), np.diff(batch.offsets))
    sel = batch.eligible & np.isin(doc_of, docs)
    h, d = batch.hashes[sel], doc_of[sel]
    if not len(h):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    order = np.lexsort((d, h))
    h, d = h[order], d[order]
    first = np.concatenate(([True], (h[1:] != h[:-1]) | (d[1:] != d[:-1])))
    values, counts = np.unique(h[first], return_counts=True)
    return values, counts.astype(np.int64)


def doc_unit_set(units: Units) -> np.ndarray:
    """Distinct eligible unit hashes of one document, sorted."""
    return np.unique(units.hashes[units.eligible])


def scope_of(dataset: str, kind: str, cfg: LineDedupConfig) -> str | None:
    """The scope a document's units are counted in, or None when the stage leaves it alone."""
    if kind not in cfg.kinds:
        return None
    return dataset if cfg.scope == "dataset" else RUN_SCOPE


def merge_counts(hashes: Sequence[np.ndarray], counts: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum counts per hash over several (hashes, counts) arrays; returns sorted unique hashes."""
    h = np.concatenate([np.asarray(x, dtype=np.uint64) for x in hashes]) if hashes else np.zeros(0, np.uint64)
    c = np.concatenate([np.asarray(x, dtype=np.int64) for x in counts]) if counts else np.zeros(0, np.int64)
    if not len(h):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    order = np.argsort(h, kind="stable")
    h, c = h[order], c[order]
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    return h[starts], np.add.reduceat(c, starts)


def threshold(n_docs: int, cfg: LineDedupConfig) -> int:
    """Documents a unit must occur in to be removed, in a scope of n_docs documents."""
    return max(cfg.min_docs, math.ceil(cfg.min_doc_fraction * n_docs))


def removed_mask(counts: np.ndarray, n_docs: int, cfg: LineDedupConfig) -> np.ndarray:
    return counts >= threshold(n_docs, cfg)


def remove_units(text: str, units: Units, remove: np.ndarray) -> tuple[str, int, int]:
    """The text without the units flagged in `remove` (a unit goes with the separator after it; the
    separator before the last kept unit's successor is kept). Returns (text, chars removed, units
    removed); the text is unchanged when nothing is removed."""
    n_removed = int(np.count_nonzero(remove))
    if n_removed == 0:
        return text, 0, 0
    kept = [i for i in range(len(units)) if not remove[i]]
    if not kept:
        return "", len(text), n_removed
    spans = units.spans
    pieces = []
    first = kept[0]
    pieces.append(text[: spans[0][0]] if first == 0 else "")  # leading white space stays with a kept first unit
    for j, i in enumerate(kept):
        s, e = spans[i]
        pieces.append(text[s:e])
        if j + 1 < len(kept):
            pieces.append(text[e : spans[i + 1][0]])  # the separator that followed this unit
    if kept[-1] == len(units) - 1:
        pieces.append(text[spans[-1][1] :])
    out = "".join(pieces)
    return out, len(text) - len(out), n_removed


def keeps(original: str, remaining: str, cfg: LineDedupConfig) -> bool:
    """Whether a document with `remaining` text left (of `original`) is kept."""
    left = len(remaining.strip())
    if left < cfg.min_doc_chars:
        return False
    total = len(original.strip())
    return total == 0 or left >= cfg.min_kept_fraction * total
