"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
Insights from Training Gopher", appendix A1.1.2 and table A1).

Both read a shared `TextStats` and write their measurements into `signals`; they return a `Drop` at
the first failed check, else None. Semantics follow datatrove's implementation of the same rules
(the reference the benchmark compares against); the few deliberate differences are noted inline.

The n-gram checks work on 64-bit hashes of tokens in numpy: an n-gram's hash is built from the
(n-1)-gram's, counting is `np.unique`, and only positions whose n-gram occurred before are visited in
Python, so a document of ordinary prose costs a few vectorized passes rather than a loop over every
n-gram string.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np

from filters.config import GopherQualityConfig, GopherRepetitionConfig
from filters.stopwords import stop_words_for
from filters.text import TextStats, duplicates
from filters.verdict import Drop

QUALITY = "gopher_quality"
REPETITION = "gopher_repetition"

_ELLIPSES = ("...", "…")
_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio), for n-gram hashing


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


# ---- quality ----------------------------------------------------------------------------------------


def gopher_quality(
    stats: TextStats, cfg: GopherQualityConfig, lang: str | None, signals: dict[str, Any]
) -> Drop | None:
    n_words = stats.n_words
    n_tokens = stats.n_tokens
    signals["gopher_words"] = n_words
    # "any document that does not contain between 50 and 100,000 words"
    if cfg.min_words is not None and n_words < cfg.min_words:
        return Drop(f"{QUALITY}:too_few_words", n_words, cfg.min_words)
    if cfg.max_words is not None and n_words > cfg.max_words:
        return Drop(f"{QUALITY}:too_many_words", n_words, cfg.max_words)

    # "or whose mean word length is outside the range of 3 to 10 characters"
    mean_len = _ratio(stats.word_chars, n_words)
    signals["gopher_mean_word_length"] = mean_len
    if cfg.min_mean_word_length is not None and mean_len < cfg.min_mean_word_length:
        return Drop(f"{QUALITY}:short_words", mean_len, cfg.min_mean_word_length)
    if cfg.max_mean_word_length is not None and mean_len > cfg.max_mean_word_length:
        return Drop(f"{QUALITY}:long_words", mean_len, cfg.max_mean_word_length)

    # "a symbol-to-word ratio greater than 0.1 for either the hash symbol or the ellipsis"
    # (per token, punctuation included, as datatrove counts)
    text = stats.text
    hash_ratio = _ratio(text.count("#"), n_tokens)
    ellipsis_ratio = _ratio(text.count("...") + text.count("…"), n_tokens)
    signals["gopher_hash_ratio"] = hash_ratio
    signals["gopher_ellipsis_ratio"] = ellipsis_ratio
    if cfg.max_hash_ratio is not None and hash_ratio > cfg.max_hash_ratio:
        return Drop(f"{QUALITY}:hash_ratio", hash_ratio, cfg.max_hash_ratio)
    if cfg.max_ellipsis_ratio is not None and ellipsis_ratio > cfg.max_ellipsis_ratio:
        return Drop(f"{QUALITY}:ellipsis_ratio", ellipsis_ratio, cfg.max_ellipsis_ratio)

    # "more than 90% of lines starting with a bullet point, or more than 30% ending with an ellipsis".
    # Lines are the non-blank ones (datatrove also counts blank lines, which dilutes both ratios).
    lines = stats.lines
    bullets = tuple(cfg.bullets)
    bullet_lines = _ratio(sum(1 for line in lines if line.lstrip().startswith(bullets)), len(lines))
    ellipsis_lines = _ratio(sum(1 for line in lines if line.rstrip().endswith(_ELLIPSES)), len(lines))
    signals["gopher_bullet_lines"] = bullet_lines
    signals["gopher_ellipsis_lines"] = ellipsis_lines
    if cfg.max_bullet_lines is not None and bullet_lines > cfg.max_bullet_lines:
        return Drop(f"{QUALITY}:bullet_lines", bullet_lines, cfg.max_bullet_lines)
    if cfg.max_ellipsis_lines is not None and ellipsis_lines > cfg.max_ellipsis_lines:
        return Drop(f"{QUALITY}:ellipsis_lines", ellipsis_lines, cfg.max_ellipsis_lines)

    # "80% of words in a document contain at least one alphabetic character"
    alpha = _ratio(stats.alpha_words, n_tokens if cfg.alpha_words_over == "tokens" else n_words)
    signals["gopher_alpha_words"] = alpha
    if cfg.min_alpha_words is not None and alpha < cfg.min_alpha_words:
        return Drop(f"{QUALITY}:alpha_words", alpha, cfg.min_alpha_words)

    # "apply a 'stop word' filter, to remove documents that do not contain at least two of the
    # following English words: the, be, to, of, and, that, have, with". Case-insensitive here
    # (datatrove matches lower case only, so "The" does not count there).
    stop_words = stop_words_for(lang, cfg.stop_words)
    if stop_words is not None:
        found = stats.stop_words_found(stop_words)
        signals["gopher_stop_words"] = found
        if cfg.min_stop_words is not None and found < cfg.min_stop_words:
            return Drop(f"{QUALITY}:stop_words", found, cfg.min_stop_words)
    return None


# ---- repetition -------------------------------------------------------------------------------------

TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)


class _Tokens:
    """Token hashes and character offsets of one document, for n-gram arithmetic."""

    def __init__(self, hashes: np.ndarray, lengths: np.ndarray):
        """`hashes`: `hash(token)` of each token, `lengths` its length (int64 arrays)."""
        m = len(hashes)
        self.m = m
        self.unigram = hashes.view(np.uint64)
        self.cum = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.cum[1:])
        self._hashes: dict[int, np.ndarray] = {1: self.unigram}
        self._groups: dict[int, _Groups] = {}

    def ngram_hashes(self, n: int) -> np.ndarray:
        """Hash of the n-gram starting at each position (length m - n + 1)."""
        if n in self._hashes:
            return self._hashes[n]
        prev = self.ngram_hashes(n - 1)
        out = prev[:-1] * _HASH_MIX + self.unigram[n - 1 :]
        self._hashes[n] = out
        return out

    def groups(self, n: int) -> _Groups:
        """The n-grams that may occur more than once, grouped (see `_Groups`).

        An n-gram occurring twice starts with an (n-1)-gram occurring twice and ends with one, so once
        the (n-1)-grams are known only the positions where both are repeated are sorted, usually a small
        part of the document; the first n asked for sorts every position.
        """
        if n in self._groups:
            return self._groups[n]
        hashes = self.ngram_hashes(n)
        prev = self._groups.get(n - 1)
        if prev is None:
            candidates = np.arange(len(hashes))
        else:
            repeated = prev.repeated
            mask = np.zeros(self.m + 2, dtype=bool)
            mask[repeated] = True
            candidates = repeated[mask[repeated + 1]]
        out = self._groups[n] = _Groups(candidates, hashes[candidates])
        return out

    def chars(self, start: int | np.ndarray, n: int):
        """Characters of the n-gram(s) starting at `start`, tokens concatenated without spaces."""
        return self.cum[start + n] - self.cum[start]


class _Groups:
    """Positions that include every occurrence of every repeated n-gram, in increasing order, grouped
    by n-gram hash: for each position the first position of its n-gram and the n-gram's count."""

    def __init__(self, positions: np.ndarray, hashes: np.ndarray):
        # `np.unique(..., return_index=True)` sorts stably (several times slower); an unstable sort
        # and the smallest index of each group give the same first occurrences.
        self.positions = positions
        self.hashes = hashes
        k = len(hashes)
        if k == 0:
            self.first_of = self.count_of = self.repeated = positions
            return
        # (plain ufuncs and methods: `np.diff` and `np.flatnonzero` cost more in Python than in C here)
        order = hashes.argsort()
        ordered = hashes[order]
        new = np.empty(k, dtype=bool)
        new[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        starts = new.nonzero()[0]
        counts = np.empty(len(starts), dtype=np.intp)
        np.subtract(starts[1:], starts[:-1], out=counts[:-1])
        counts[-1] = k - starts[-1]
        first = np.minimum.reduceat(order, starts)
        ids = np.cumsum(new)
        ids -= 1
        group = np.empty(k, dtype=np.intp)
        group[order] = ids
        self.first_of = positions[first[group]]
        self.count_of = counts[group]
        self.repeated = positions[self.count_of > 1]


def top_ngram_chars(tok: _Tokens, n: int) -> int:
    """Characters of the most frequent n-gram (tokens joined by spaces) times its count.

    Ties go to the n-gram that occurs first, as `Counter.most_common(1)` does in datatrove.
    """
    g = tok.groups(n)
    if len(g.repeated) == 0:
        top, start = 1, 0  # every n-gram occurs once: the first one
    else:
        top = int(g.count_of.max())
        start = int(g.first_of[g.count_of == top].min())
    return int(tok.chars(start, n) + (n - 1)) * top


def dup_ngram_chars(tok: _Tokens, n: int) -> int:
    """Characters in repeated n-grams, scanning left to right: an n-gram seen before counts and the
    scan jumps past it (so overlapping repeats count once); the first occurrence does not count.

    Same result as datatrove's `find_all_duplicate`, which builds and looks up every n-gram string;
    here only positions whose n-gram occurred earlier are visited in Python.
    """
    g = tok.groups(n)
    later = g.first_of < g.positions
    if not later.any():
        return 0
    hits: list[int] = []  # positions counted as repeats; the next n-1 positions are skipped
    next_free = 0
    added: set[int] = set()  # n-grams added to the "seen" set at an earlier repeated position
    for j, h, f in zip(g.positions[later].tolist(), g.hashes[later].tolist(), g.first_of[later].tolist(),
                       strict=True):
        if j < next_free:
            continue  # skipped by the jump after a repeat
        seen = h in added
        if not seen:
            # Was the first occurrence visited, i.e. not inside the jump after an earlier hit?
            k = bisect_right(hits, f) - 1
            seen = k < 0 or f >= hits[k] + n
        if seen:
            hits.append(j)
            next_free = j + n
        else:
            added.add(h)
    return int(tok.chars(np.array(hits, dtype=np.intp), n).sum()) if hits else 0


def gopher_repetition(stats: TextStats, cfg: GopherRepetitionConfig, signals: dict[str, Any]) -> Drop | None:
    text = stats.text
    n_chars = len(text)
    if not stats.lines:
        return Drop(f"{REPETITION}:empty")

    # Paragraphs first, then lines: for each, the fraction of duplicates and of characters in them.
    for unit, pieces in (("para", stats.paragraphs), ("line", stats.lines)):
        dups, dup_chars = duplicates(pieces)
        for check, v in ((f"dup_{unit}_frac", _ratio(dups, len(pieces))),
                         (f"dup_{unit}_char_frac", _ratio(dup_chars, n_chars))):
            signals[f"rep_{check}"] = v
            limit = getattr(cfg, check)
            if limit is not None and v > limit:
                return Drop(f"{REPETITION}:{check}", v, limit)

    tok = _Tokens(*stats.token_arrays())
    for n in TOP_NGRAMS:
        limit = getattr(cfg, f"top_{n}gram_char_frac")
        if limit is None or tok.m < n:
            continue
        signals[f"rep_top_{n}gram_char_frac"] = v = _ratio(top_ngram_chars(tok, n), n_chars)
        if v > limit:
            return Drop(f"{REPETITION}:top_{n}gram", v, limit)
    no_repeats = False  # no repeated n-gram means no repeated longer one either
    for n in DUP_NGRAMS:
        limit = getattr(cfg, f"dup_{n}gram_char_frac")
        if limit is None or tok.m < n:
            continue
        chars = 0 if no_repeats else dup_ngram_chars(tok, n)
        no_repeats = chars == 0
        signals[f"rep_dup_{n}gram_char_frac"] = v = _ratio(chars, n_chars)
        if v > limit:
            return Drop(f"{REPETITION}:dup_{n}gram", v, limit)
    return None
