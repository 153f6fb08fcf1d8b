"""Text normalization for duplicate detection (not for training: the kept text is never changed).

Two documents that differ only in case, punctuation, accents, digits or spacing are the same document
for deduplication. The rule follows the usual near-dedup recipes (Lee et al. 2022, "Deduplicating
Training Data Makes Language Models Better"; the text simplification datatrove and Dolma apply before
MinHash): NFKD, lowercase, strip combining diacritics, every punctuation / symbol / separator /
control character becomes a space, every decimal digit becomes `0`; words are the runs of the rest.

`normalize_bytes` returns UTF-8 bytes in which words are separated by one or more spaces (the batch
code in `shingles` splits and compacts them with numpy); `normalize_text` is the canonical form,
words joined by single spaces, whose xxh3-128 is the exact-duplicate key.

ASCII text (most web and book text) takes a fast path through one `bytes.translate` table; other text
goes through NFKD and a per-code-point lookup table (built from the Unicode categories) in numpy.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

#: Bumped whenever the normalization changes, so stored signatures from an older rule are refused.
NORMALIZATION_VERSION = 1

# Combining diacritical marks (U+0300-036F and its supplement / extended blocks). Only these are
# stripped: vowel signs of Indic and other scripts are combining marks too, and removing them would
# destroy the words rather than normalize them.
_DIACRITICS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

# Highest code point the Unicode table covers: the BMP and the supplementary planes that hold
# symbols and emoji (U+1F000-1FFFF) and CJK extension B. Rarer planes keep their characters.
_TABLE_LIMIT = 0x2A6E0

_DROP = 0  # table value of characters that disappear (diacritics); NUL itself maps to a space
_HAS_DROP = _DIACRITICS


def _ascii_table() -> bytes:
    table = bytearray(range(256))  # bytes >= 0x80 (UTF-8 of non-ASCII text) pass unchanged
    for c in range(128):
        ch = chr(c)
        if ch.isupper():
            table[c] = ord(ch.lower())
        elif ch.isdigit():
            table[c] = ord("0")
        elif not ch.isalnum():  # punctuation, symbols, whitespace, control characters
            table[c] = ord(" ")
    return bytes(table)


_ASCII_TABLE = _ascii_table()


@functools.cache
def _unicode_table() -> np.ndarray:
    """uint32 code point -> code point over all of Unicode: lowercase letters, P*/S*/Z*/C* -> space,
    Nd -> '0', combining diacritics -> _DROP; identity above _TABLE_LIMIT. Built once per process."""
    table = np.arange(0x110000, dtype=np.uint32)
    for cp in range(0x80, _TABLE_LIMIT):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Nd":
            table[cp] = ord("0")
        elif cat[0] in "PSZ" or cat in ("Cc", "Cf", "Cs", "Co"):
            table[cp] = ord(" ")
        elif _DIACRITICS.match(ch):
            table[cp] = _DROP
        else:
            low = ch.lower()
            if len(low) == 1:  # the few one-to-many lowercase mappings keep the character
                table[cp] = ord(low)
    table[:0x80] = np.frombuffer(_ASCII_TABLE[:0x80], dtype=np.uint8)
    return table


def normalize_bytes(text: str) -> bytes:
    """Normalized UTF-8 text; words are separated by one or more ASCII spaces."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE)
    # Non-ASCII: NFKD (skipped when the text is already in that form: is_normalized is ~2x cheaper),
    # then one table lookup per code point in numpy (a regex over large character classes, or
    # str.translate with a dict, costs 5-20x more per character).
    if not unicodedata.is_normalized("NFKD", text):
        text = unicodedata.normalize("NFKD", text)
    mapped = _unicode_table()[np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
    if _HAS_DROP.search(text):
        mapped = mapped[mapped != _DROP]
    return mapped.tobytes().decode("utf-32-le", "surrogatepass").encode("utf-8", "surrogatepass")


def normalize_words(text: str) -> list[bytes]:
    """The words of `text` after dedup normalization, UTF-8 encoded."""
    return normalize_bytes(text).split()


def normalize_text(text: str) -> str:
    """The canonical normalized text: words joined by single spaces."""
    return b" ".join(normalize_words(text)).decode("utf-8", "surrogatepass")
