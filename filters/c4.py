"""C4's cleaning rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", section 2.2), in the order of the reference code (TFDS `c4_utils.py`).

A line is kept only if it has no word over 1,000 characters, ends in terminal punctuation (not an
ellipsis), has at least 3 words, and does not mention javascript or a cookie / terms-of-use policy;
citation markers are removed from it. A kept line containing "lorem ipsum" or a curly bracket drops
the whole document, as does having fewer than 5 sentences in the kept lines. The kept lines are the
document's new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from filters.config import C4Config
from filters.text import count_sentences
from filters.verdict import Drop

NAME = "c4"

CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
ELLIPSIS = "..."
POLICY_SUBSTRINGS = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


@dataclass(slots=True)
class C4Result:
    text: str  # the kept lines, joined by newlines
    drop: Drop | None
    lines_removed: int  # non-blank lines removed
    sentences: int
    # The whitespace-separated pieces of `text` (`text.split()`), and how they differ from the input's
    # as multisets: input chunks not in `text` (removed lines, lines before citations came out) and
    # chunks of `text` not in the input (lines after citations came out). Counting tokens of the
    # difference is cheaper than of the whole text where most lines stay or most go.
    chunks: list[str] | None = None
    gone_chunks: list[str] | None = None
    new_chunks: list[str] | None = None


def c4_clean(text: str, cfg: C4Config) -> C4Result:
    end_marks = tuple(cfg.end_marks)
    max_word = cfg.max_word_length
    min_words = cfg.min_words_per_line
    kept: list[str] = []
    chunks: list[str] = []  # of the kept lines, from the split each line needs anyway
    gone: list[str] = []
    new: list[str] = []
    removed = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        words = line.split()
        if max_word is not None and len(line) > max_word and max(map(len, words)) > max_word:
            removed += 1
            gone += words
            continue
        line_chunks = words
        if cfg.remove_citations and "[" in line:
            line = CITATION_RE.sub("", line)
            line_chunks = line.split()
        if cfg.require_terminal_punct and (not line.endswith(end_marks) or line.endswith(ELLIPSIS)):
            removed += 1
            gone += words
            continue
        if min_words is not None and len(words) < min_words:
            removed += 1
            gone += words
            continue
        lower = line.lower()
        if cfg.lorem_ipsum and "lorem ipsum" in lower:
            return C4Result(text, Drop(f"{NAME}:lorem_ipsum"), removed, 0)
        if cfg.drop_javascript_lines and "javascript" in lower:
            removed += 1
            gone += words
            continue
        if cfg.curly_bracket and "{" in line:
            return C4Result(text, Drop(f"{NAME}:curly_bracket"), removed, 0)
        if cfg.drop_policy_lines and any(p in lower for p in POLICY_SUBSTRINGS):
            removed += 1
            gone += words
            continue
        kept.append(line)
        chunks += line_chunks
        if line_chunks is not words:
            gone += words
            new += line_chunks
    cleaned = "\n".join(kept)
    sentences = count_sentences(cleaned)
    if cfg.min_sentences is not None and sentences < cfg.min_sentences:
        return C4Result(text, Drop(f"{NAME}:too_few_sentences", sentences, cfg.min_sentences), removed, sentences)
    return C4Result(cleaned, None, removed, sentences, chunks, gone, new)
