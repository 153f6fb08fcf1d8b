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
# Each policy phrase contains one of "cookie", "polic", "terms of use": three substring tests rule most
# lines out before the loop over the phrases.
assert all("cookie" in p or "polic" in p or "terms of use" in p for p in POLICY_SUBSTRINGS)


@dataclass(slots=True)
class C4Result:
    text: str  # the kept lines, joined by newlines
    drop: Drop | None
    lines_removed: int  # non-blank lines removed
    sentences: int
    # Where the whitespace-separated pieces (chunks) of `text` come from: for each non-blank input line
    # its number of chunks and whether they are all in `text` unchanged, and the chunks of `text` not in
    # the input (lines after citations came out). The multiset of `text`'s chunks is then the input's
    # kept ones plus the new ones, without looking any up again.
    line_sizes: list[int] | None = None
    line_kept: list[bool] | None = None
    new_chunks: list[str] | None = None


def c4_clean(text: str, cfg: C4Config, line_chunks: list[list[str]] | None = None) -> C4Result:
    """`line_chunks`, where the caller has them, are `[line.split() for line in text.splitlines()]`."""
    end_marks = tuple(cfg.end_marks)
    max_word = cfg.max_word_length
    min_words = cfg.min_words_per_line
    kept: list[str] = []
    sizes: list[int] = []
    kept_flags: list[bool] = []
    new: list[str] = []
    removed = 0
    lines = text.splitlines()
    for raw, words in zip(lines, line_chunks if line_chunks is not None else map(str.split, lines), strict=True):
        if not words:
            continue
        line = raw.strip()
        sizes.append(len(words))
        kept_flags.append(False)
        if max_word is not None and len(line) > max_word and max(map(len, words)) > max_word:
            removed += 1
            continue
        kept_words = words
        if cfg.remove_citations and "[" in line:
            line = CITATION_RE.sub("", line)
            kept_words = line.split()
        if cfg.require_terminal_punct and (not line.endswith(end_marks) or line.endswith(ELLIPSIS)):
            removed += 1
            continue
        if min_words is not None and len(words) < min_words:
            removed += 1
            continue
        lower = line.lower()
        if cfg.lorem_ipsum and "lorem ipsum" in lower:
            return C4Result(text, Drop(f"{NAME}:lorem_ipsum"), removed, 0)
        if cfg.drop_javascript_lines and "javascript" in lower:
            removed += 1
            continue
        if cfg.curly_bracket and "{" in line:
            return C4Result(text, Drop(f"{NAME}:curly_bracket"), removed, 0)
        if cfg.drop_policy_lines and ("cookie" in lower or "polic" in lower or "terms of use" in lower) \
                and any(p in lower for p in POLICY_SUBSTRINGS):
            removed += 1
            continue
        kept.append(line)
        if kept_words is words:
            kept_flags[-1] = True
        else:
            new += kept_words
    cleaned = "\n".join(kept)
    sentences = count_sentences(cleaned)
    if cfg.min_sentences is not None and sentences < cfg.min_sentences:
        return C4Result(text, Drop(f"{NAME}:too_few_sentences", sentences, cfg.min_sentences), removed, sentences)
    return C4Result(cleaned, None, removed, sentences, sizes, kept_flags, new)
