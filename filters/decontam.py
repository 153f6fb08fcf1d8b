"""Decontamination: keep benchmark and held-out text out of the training data by word n-gram overlap.

The method of GPT-3 (Brown et al. 2020, appendix C): normalize both texts, take every word n-gram of the
eval items (n = 13), and look for them in each training document. A document that contains one either
loses a window of characters around each match (200 either side), or, when that cuts it into more than 10
pieces, is dropped; pieces shorter than 200 characters are discarded with the match. The simpler rule that
drops every matching document (as Llama 2 and the Pile's dedup against test sets did) is `mode: drop`.

- **Normalization.** Words are runs of letters and digits (`[^\\W_]+`, Unicode-aware) of the original
  text, each NFKC-normalized and casefolded: punctuation, whitespace, case and compatibility forms do not
  hide a match, and character offsets still point into the original document for removal.
- **Short items.** An eval item with fewer than n words (a short question) is indexed as one n-gram of its
  full length when it has at least `min_item_words` words; shorter ones cannot be matched reliably and are
  counted (`too_short`), not indexed.
- **Index.** Each n-gram is a 64-bit polynomial hash over 64-bit xxh3 word hashes (collisions among a few
  million n-grams: ~1e-7). The index is one sorted numpy uint64 array plus the owning item of each hash
  (int32): 12 bytes per n-gram, ~12 MB for a million, looked up with `np.searchsorted` (no Python set).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import xxhash

_WORD = re.compile(r"[^\W_]+")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio), the rolling hash's base
_LEN_MIX = np.uint64(0xC2B2AE3D27D4EB4F)  # keeps an m-gram of a short item apart from n-grams


@dataclass(frozen=True)
class DecontamConfig:
    """The `decontaminate:` section of the job."""

    eval_sets: list[str] = field(default_factory=list)  # names in the job's `eval_sets`; empty: all of them
    ngram: int = 13  # GPT-3 appendix C
    min_item_words: int = 8  # items with fewer words than `ngram` but at least this many match as a whole
    # remove: cut `window_chars` either side of each match (GPT-3); drop: drop every matching document
    mode: Literal["remove", "drop"] = "remove"
    window_chars: int = 200  # GPT-3
    max_pieces: int = 10  # GPT-3: a document split into more pieces is dropped
    min_piece_chars: int = 200  # GPT-3: shorter pieces are discarded
    batch_size: int = 256
    num_shards: int | None = None  # null: as many as the input stage

    def validate(self) -> None:
        if self.ngram < 1:
            raise ValueError("ngram: must be >= 1")
        if not 1 <= self.min_item_words <= self.ngram:
            raise ValueError("min_item_words: must be between 1 and ngram")
        for name in ("window_chars", "min_piece_chars"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        if self.max_pieces < 1:
            raise ValueError("max_pieces: must be >= 1")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
        if self.num_shards is not None and self.num_shards < 1:
            raise ValueError("num_shards: must be >= 1 or null")


# ---- words and n-gram hashes ---------------------------------------------------------------------------


def normalize_word(word: str) -> str:
    if not word.isascii():
        word = unicodedata.normalize("NFKC", word)
    return word.casefold()


def words(text: str) -> list[str]:
    """The normalized words of `text`."""
    return [normalize_word(w) for w in _WORD.findall(text)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each word of `text` in the original string (same order as `words`)."""
    return [m.span() for m in _WORD.finditer(text)]


def word_hashes(ws: Sequence[str]) -> np.ndarray:
    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(w.encode("utf-8", "surrogatepass")) for w in ws), dtype=np.uint64, count=len(ws))


def gram_hashes(wh: np.ndarray, m: int) -> np.ndarray:
    """Hash of every run of `m` consecutive word hashes: sum_k wh[i+k] * B^(m-1-k) mod 2^64, mixed with m."""
    count = len(wh) - m + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = wh[:count].copy()
        for k in range(1, m):
            h *= _MULT
            h += wh[k : k + count]
        h ^= np.uint64(m) * _LEN_MIX
    return h


# ---- the index ----------------------------------------------------------------------------------------


@dataclass
class SetStats:
    items: int = 0
    indexed_items: int = 0
    short_items: int = 0  # fewer than `ngram` words, indexed whole
    too_short: int = 0  # fewer than `min_item_words` words: not indexed
    ngrams: int = 0


@dataclass
class NgramIndex:
    """Sorted unique n-gram hashes of the eval sets and the item that first had each."""

    n: int
    lengths: tuple[int, ...]  # gram lengths in the index (n and the lengths of short items), descending
    hashes: np.ndarray  # uint64, sorted, unique
    owners: np.ndarray  # int32: index into item_ids / item_sets
    item_ids: list[str]
    item_sets: np.ndarray  # int32: index into set_names
    set_names: list[str]
    stats: dict[str, SetStats] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.owners.nbytes + self.item_sets.nbytes
                   + sum(len(i) + 8 for i in self.item_ids))

    def __len__(self) -> int:
        return len(self.hashes)

    def digest(self) -> str:
        """sha256 of everything matching depends on (part of the stage fingerprint)."""
        h = hashlib.sha256()
        h.update(repr((self.n, self.lengths, self.set_names)).encode())
        for arr in (self.hashes, self.owners, self.item_sets):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update("\x1f".join(self.item_ids).encode("utf-8", "surrogatepass"))
        return h.hexdigest()

    def lookup(self, grams: np.ndarray) -> np.ndarray:
        """Owner item of each gram hash, -1 where it is not in the index."""
        if not len(self.hashes) or not len(grams):
            return np.full(len(grams), -1, dtype=np.int64)
        pos = np.searchsorted(self.hashes, grams)
        pos = np.minimum(pos, len(self.hashes) - 1)
        hit = self.hashes[pos] == grams
        return np.where(hit, self.owners[pos].astype(np.int64), -1)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, n=np.int64(self.n), lengths=np.array(self.lengths, dtype=np.int64), hashes=self.hashes,
                 owners=self.owners, item_sets=self.item_sets,
                 item_ids=np.array(self.item_ids, dtype=object), set_names=np.array(self.set_names, dtype=object))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> NgramIndex:
        z = np.load(io.BytesIO(data), allow_pickle=True)  # our own file, written by to_bytes
        return cls(int(z["n"]), tuple(int(x) for x in z["lengths"]), z["hashes"], z["owners"],
                   [str(x) for x in z["item_ids"]], z["item_sets"], [str(x) for x in z["set_names"]])


def build_index(sets: dict[str, Iterable[tuple[str, str]]], *, n: int = 13, min_item_words: int = 8) -> NgramIndex:
    """Index the (item id, text) pairs of each named eval set."""
    chunks: list[np.ndarray] = []
    owner_chunks: list[np.ndarray] = []
    item_ids: list[str] = []
    item_sets: list[int] = []
    lengths = {n}
    stats: dict[str, SetStats] = {}
    set_names = list(sets)
    for s, (name, items) in enumerate(sets.items()):
        st = stats[name] = SetStats()
        for item_id, text in items:
            st.items += 1
            ws = words(text)
            if len(ws) < min_item_words:
                st.too_short += 1
                continue
            m = min(n, len(ws))
            if m < n:
                st.short_items += 1
                lengths.add(m)
            grams = gram_hashes(word_hashes(ws), m)
            st.indexed_items += 1
            st.ngrams += len(grams)
            chunks.append(grams)
            owner_chunks.append(np.full(len(grams), len(item_ids), dtype=np.int32))
            item_ids.append(item_id)
            item_sets.append(s)
    hashes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)
    owners = np.concatenate(owner_chunks) if owner_chunks else np.zeros(0, dtype=np.int32)
    order = np.argsort(hashes, kind="stable")  # the first item with a gram owns it
    hashes, owners = hashes[order], owners[order]
    if len(hashes):
        first = np.concatenate([[True], hashes[1:] != hashes[:-1]])
        hashes, owners = hashes[first], owners[first]
    return NgramIndex(n, tuple(sorted(lengths, reverse=True)), hashes, owners, item_ids,
                      np.array(item_sets, dtype=np.int32), set_names, stats)


# ---- matching a document ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    start: int  # character offsets of the matched words in the document
    end: int
    eval_set: str
    eval_item: str
    ngram: str  # the matched text as it appears in the document


@dataclass(frozen=True)
class RemovedSpan:
    start: int  # the window removed (match +- window_chars, merged with overlapping windows)
    end: int
    match: Match  # the first match inside it


@dataclass(frozen=True)
class Outcome:
    """What decontamination does to one document: nothing, cut spans out, or drop it."""

    text: str | None  # the new text (None: the document is dropped)
    matches: list[Match]
    removed: list[RemovedSpan]
    dropped_because: str | None = None  # "contaminated" (drop mode), "too_many_pieces", "too_short"

    @property
    def touched(self) -> bool:
        return bool(self.matches)


def find_matches(text: str, index: NgramIndex) -> list[Match]:
    """Every n-gram of `text` found in the index (overlapping n-grams of one passage each count)."""
    ws = words(text)
    if not ws or not len(index):
        return []
    wh = word_hashes(ws)
    hits: list[tuple[int, int, int]] = []  # (first word, number of words, owner)
    for m in index.lengths:
        owners = index.lookup(gram_hashes(wh, m))
        for i in np.flatnonzero(owners >= 0):
            hits.append((int(i), m, int(owners[i])))
    if not hits:
        return []
    spans = word_spans(text)
    out = []
    for i, m, owner in sorted(hits):
        start, end = spans[i][0], spans[i + m - 1][1]
        out.append(Match(start, end, index.set_names[int(index.item_sets[owner])], index.item_ids[owner],
                         text[start:end]))
    return out


def decontaminate(text: str, index: NgramIndex, cfg: DecontamConfig) -> Outcome:
    matches = find_matches(text, index)
    if not matches:
        return Outcome(text, [], [])
    if cfg.mode == "drop":
        return Outcome(None, matches, [], "contaminated")
    # Windows around each match, merged where they overlap.
    removed: list[RemovedSpan] = []
    for mt in matches:
        lo, hi = max(0, mt.start - cfg.window_chars), min(len(text), mt.end + cfg.window_chars)
        if removed and lo <= removed[-1].end:
            prev = removed[-1]
            removed[-1] = RemovedSpan(prev.start, max(prev.end, hi), prev.match)
        else:
            removed.append(RemovedSpan(lo, hi, mt))
    # The pieces between the windows; those shorter than min_piece_chars go with the windows next to them.
    bounds = list(zip([0] + [r.end for r in removed], [r.start for r in removed] + [len(text)], strict=True))
    if len(bounds) > cfg.max_pieces:
        return Outcome(None, matches, removed, "too_many_pieces")
    short = [len(text[a:b].strip()) < cfg.min_piece_chars for a, b in bounds]
    if all(short):
        return Outcome(None, matches, removed, "too_short")
    spans: list[RemovedSpan] = []
    for j, r in enumerate(removed):
        lo = bounds[j][0] if short[j] else r.start
        hi = bounds[j + 1][1] if short[j + 1] else r.end
        if spans and lo <= spans[-1].end:
            spans[-1] = RemovedSpan(spans[-1].start, max(spans[-1].end, hi), spans[-1].match)
        else:
            spans.append(RemovedSpan(lo, hi, r.match))
    kept = [text[a:b].strip() for (a, b), sh in zip(bounds, short, strict=True) if not sh]
    return Outcome("\n\n".join(kept), matches, spans)
