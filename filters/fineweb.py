"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.5.3).

Three line-level measurements chosen by comparing high- and low-quality crawls: the fraction of lines
ending in terminal punctuation (at least 0.12), the fraction of lines of 30 characters or fewer (at
most 0.67) and the fraction of characters in duplicated lines (at most 0.01); plus datatrove's
newlines-per-word check (at most 0.3) against list-like pages. In the FineWeb recipe they run on the
text left by C4's line cleaning, as here.
"""

from __future__ import annotations

import re
from typing import Any

from filters.config import FineWebConfig
from filters.text import TERMINAL_CLASS, TextStats, duplicates
from filters.verdict import Drop

NAME = "fineweb"

_LINE_END_PUNCT_RE = re.compile(rf"[{TERMINAL_CLASS}]$", re.MULTILINE)


def fineweb_quality(stats: TextStats, cfg: FineWebConfig, signals: dict[str, Any]) -> Drop | None:
    lines = stats.lines
    if not lines:
        return Drop(f"{NAME}:empty")
    text = stats.text
    n_lines = len(lines)

    # Lines ending in terminal punctuation. A blank line never ends in punctuation, so counting
    # line ends over the whole text equals counting over the non-blank lines.
    ratio = len(_LINE_END_PUNCT_RE.findall(text)) / n_lines
    signals["fw_line_punct_ratio"] = ratio
    if (
        cfg.min_line_punct_ratio is not None
        and ratio < cfg.min_line_punct_ratio
        and not (ratio == 0 and cfg.line_punct_exclude_zero)
    ):
        return Drop(f"{NAME}:line_punct_ratio", ratio, cfg.min_line_punct_ratio)

    short = cfg.short_line_length
    ratio = sum(1 for n in map(len, lines) if n <= short) / n_lines
    signals["fw_short_line_ratio"] = ratio
    if cfg.max_short_line_ratio is not None and ratio > cfg.max_short_line_ratio:
        return Drop(f"{NAME}:short_line_ratio", ratio, cfg.max_short_line_ratio)

    ratio = duplicates(lines)[1] / max(1, len(text) - stats.n_newlines)
    signals["fw_char_dup_ratio"] = ratio
    if cfg.max_char_dup_ratio is not None and ratio > cfg.max_char_dup_ratio:
        return Drop(f"{NAME}:char_dup_ratio", ratio, cfg.max_char_dup_ratio)

    ratio = stats.n_newlines / max(1, stats.n_tokens)
    signals["fw_newline_ratio"] = ratio
    if cfg.max_newline_ratio is not None and ratio > cfg.max_newline_ratio:
        return Drop(f"{NAME}:newline_ratio", ratio, cfg.max_newline_ratio)
    return None
