"""Quality of an extracted book's text: does it read as text, or is it the garbage of a bad text layer?

A PDF's text layer can be wrong while present: glyphs without a Unicode mapping come out as U+FFFD,
private-use code points or pdfminer's `(cid:123)`; a broken layout comes out letter-spaced ("T h e  w h a l e"),
one glyph a line, or words glued together; an OCR layer of a poor scan is mostly symbols. Three signals
measure it, declared here in one place (`SIGNALS`) and written as columns by the filter stage:

- `book_alpha_share`: letters over non-space characters. Prose is mostly letters (the Gutenberg books
  of the shared corpus: 0.93-0.97), a page of symbols or numbers far less.
- `book_mean_line_length`: characters per non-empty line. Prose lines (or re-joined paragraphs) are tens
  of characters long; a text layer that emits a glyph per line gives 1-3.
- `book_garbage_line_share`: the share of non-empty lines that look like garbage (`is_garbage_line`).

The default rule drops only clear garbage (`book_quality:garbage_lines`, `:low_alpha`, `:short_lines`);
it applies to `book` documents. The limits leave a wide margin below every corpus book (no garbage line
in any of them, alpha share >= 0.93, mean line length >= 49; `benchmarks/books.py` prints the signals
of each book in each format).
"""

from __future__ import annotations

import re

from filters.config import BookQualityConfig
from filters.verdict import Drop

#: Signals written on kept documents (column name -> type).
SIGNALS: dict[str, str] = {
    "book_alpha_share": "float",
    "book_mean_line_length": "float",
    "book_garbage_line_share": "float",
}

# Unmapped glyphs: the replacement character, private-use code points, pdfminer's "(cid:N)".
_UNMAPPED = re.compile(r"[\ufffd\ue000-\uf8ff]|\(cid:\d+\)")
# A run of letters no real word reaches (the longest dictionary words are ~30-35): words glued together.
_GLUED = re.compile(r"[^\W\d_]{40,}")
# Lines this short (non-space characters) are judged only by unmapped glyphs: "I.", "* * *", "1850".
MIN_JUDGED_CHARS = 8
LINE_MIN_ALPHA = 0.5  # letters over non-space characters below this: a line of symbols
LETTER_SPACED_MIN_TOKENS = 6  # "T h e  w h a l e": at least this many tokens of mean length below 1.5


def is_garbage_line(line: str) -> bool:
    if _UNMAPPED.search(line):
        return True
    chars = "".join(line.split())
    if len(chars) < MIN_JUDGED_CHARS:
        return False
    letters = sum(c.isalpha() for c in chars)
    if letters < LINE_MIN_ALPHA * len(chars):
        return True
    tokens = line.split()
    if len(tokens) >= LETTER_SPACED_MIN_TOKENS and len(chars) / len(tokens) < 1.5:
        return True
    return bool(_GLUED.search(line))


def book_signals(text: str) -> dict[str, float]:
    lines = [line for line in text.split("\n") if line.strip()]
    chars = sum(len(line) - line.count(" ") - line.count("\t") for line in lines)
    letters = sum(c.isalpha() for c in text)
    return {
        "book_alpha_share": letters / chars if chars else 0.0,
        "book_mean_line_length": sum(len(line.strip()) for line in lines) / len(lines) if lines else 0.0,
        "book_garbage_line_share": sum(map(is_garbage_line, lines)) / len(lines) if lines else 0.0,
    }


def book_quality(text: str, cfg: BookQualityConfig, signals: dict) -> Drop | None:
    """Writes the three signals into `signals`; a Drop when one is past its limit."""
    measured = book_signals(text)
    signals.update(measured)
    garbage = measured["book_garbage_line_share"]
    if cfg.max_garbage_line_share is not None and garbage > cfg.max_garbage_line_share:
        return Drop("book_quality:garbage_lines", garbage, cfg.max_garbage_line_share)
    alpha = measured["book_alpha_share"]
    if cfg.min_alpha_share is not None and alpha < cfg.min_alpha_share:
        return Drop("book_quality:low_alpha", alpha, cfg.min_alpha_share)
    mean = measured["book_mean_line_length"]
    if cfg.min_mean_line_length is not None and mean < cfg.min_mean_line_length:
        return Drop("book_quality:short_lines", mean, cfg.min_mean_line_length)
    return None
