"""FineWeb quality rules, one at a time, at and on both sides of each threshold."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filters.config import FineWebConfig
from filters.fineweb import fineweb_quality
from filters.text import TextStats

OFF = FineWebConfig(min_line_punct_ratio=None, max_short_line_ratio=None, max_char_dup_ratio=None, max_newline_ratio=None)


def reason(text: str, cfg: FineWebConfig) -> str | None:
    drop = fineweb_quality(TextStats(text), cfg, {})
    return None if drop is None else drop.reason


def lines(n: int, ending: str = "", start: int = 0) -> list[str]:
    return [f"distinct line number {i} of the page{ending}" for i in range(start, start + n)]


def test_defaults_are_finewebs():
    cfg = FineWebConfig()
    assert (cfg.min_line_punct_ratio, cfg.max_short_line_ratio, cfg.short_line_length) == (0.12, 0.67, 30)
    assert (cfg.max_char_dup_ratio, cfg.max_newline_ratio) == (0.01, 0.3)


@pytest.mark.parametrize(("ending", "expected"), [(2, "fineweb:line_punct_ratio"), (3, None), (4, None)])
def test_line_punctuation_ratio(ending, expected):
    text = "\n".join(lines(ending, ".") + lines(25 - ending, start=100))  # 3/25 = 0.12
    assert reason(text, replace(OFF, min_line_punct_ratio=0.12)) == expected


def test_line_punctuation_zero_can_be_excluded_and_other_scripts_count():
    text = "\n".join(lines(10))
    assert reason(text, replace(OFF, min_line_punct_ratio=0.12)) == "fineweb:line_punct_ratio"
    assert reason(text, replace(OFF, min_line_punct_ratio=0.12, line_punct_exclude_zero=True)) is None
    assert reason("这是一个句子。\n另一个句子！", replace(OFF, min_line_punct_ratio=0.12)) is None


@pytest.mark.parametrize(("short", "expected"), [(66, None), (67, None), (68, "fineweb:short_line_ratio")])
def test_short_line_ratio(short, expected):
    short_lines = [f"short {i}" for i in range(short)]  # <= 30 characters
    long_lines = [f"a line that is longer than thirty characters {i}" for i in range(100 - short)]
    assert reason("\n".join(short_lines + long_lines), replace(OFF, max_short_line_ratio=0.67)) == expected


def test_short_line_length_is_inclusive():
    cfg = replace(OFF, max_short_line_ratio=0.5)
    assert reason("\n".join(["x" * 30, "y" * 30, "z" * 31]), cfg) == "fineweb:short_line_ratio"  # 2/3
    assert reason("\n".join(["x" * 30, "y" * 31, "z" * 31]), cfg) is None  # 1/3


# Lines: A (a chars), B and B again (10 chars each): 10 repeated characters of a + 20 (newlines excluded).
@pytest.mark.parametrize(("a", "expected"), [(981, None), (980, None), (979, "fineweb:char_dup_ratio")])
def test_char_duplicate_ratio(a, expected):
    text = "\n".join(["x" * a, "b" * 10, "b" * 10])
    assert reason(text, replace(OFF, max_char_dup_ratio=0.01)) == expected


# 10 tokens; newlines / tokens against 0.3
@pytest.mark.parametrize(("newlines", "expected"), [(2, None), (3, None), (4, "fineweb:newline_ratio")])
def test_newline_ratio(newlines, expected):
    tokens = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    text = "\n".join([" ".join(tokens[: 10 - newlines])] + tokens[10 - newlines :])
    assert text.count("\n") == newlines
    assert reason(text, replace(OFF, max_newline_ratio=0.3)) == expected


def test_empty_text_and_signals():
    assert reason("  \n\n ", FineWebConfig()) == "fineweb:empty"
    signals: dict = {}
    text = "A full sentence that ends here.\nAnother full sentence that also ends here."
    assert fineweb_quality(TextStats(text), FineWebConfig(), signals) is None
    assert signals == {
        "fw_line_punct_ratio": 1.0, "fw_short_line_ratio": 0.0, "fw_char_dup_ratio": 0.0,
        "fw_newline_ratio": 1 / 15,  # 15 tokens, the two periods included
    }
