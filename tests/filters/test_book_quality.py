from __future__ import annotations

from dataclasses import replace

import pytest

from filters.book_quality import SIGNALS, book_quality, is_garbage_line
from filters.config import BookQualityConfig, FilterConfig, LidConfig
from filters.document import Document
from filters.rules import SIGNALS as CHAIN_SIGNALS
from filters.rules import FilterChain

PROSE = ("Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my\n"
         "purse, and nothing particular to interest me on shore, I thought I would sail about a little and see\n"
         "the watery part of the world. It is a way I have of driving off the spleen and regulating the\n"
         "circulation.\n\nCHAPTER 2.\n\n* * *\n\n1851\n")
CFG = BookQualityConfig()


def test_garbage_lines():
    assert is_garbage_line("(cid:71)(cid:72)(cid:79)(cid:79)(cid:82)")
    assert is_garbage_line("Th\ufffd wh\ufffdle")
    assert is_garbage_line("T h e  w h a l e  s w a m")
    assert is_garbage_line("@#$% ^&*() 12 34 [] {} ;;")
    assert is_garbage_line("Thewhaleswamslowlyawayfromtheshipintothenight")
    for line in ("Call me Ishmael.", "* * *", "1851", "I.", "CHAPTER 2. The Carpet-Bag.", "—So, wherever you go"):
        assert not is_garbage_line(line), line


def test_signals_are_declared_once_and_written_as_columns():
    assert set(SIGNALS) <= set(CHAIN_SIGNALS)
    signals: dict = {}
    assert book_quality(PROSE, CFG, signals) is None
    assert set(signals) == set(SIGNALS)
    assert 0.75 < signals["book_alpha_share"] < 1.0
    assert signals["book_garbage_line_share"] == 0.0


def _mix(good: int, bad: int) -> str:
    return "\n".join(["Call me Ishmael, said the sailor to the man."] * good + ["(cid:3)(cid:4) s o m e"] * bad)


@pytest.mark.parametrize(("good", "bad", "dropped"), [(8, 2, False), (7, 3, False), (6, 4, True), (0, 5, True)])
def test_garbage_line_share_both_sides(good, bad, dropped):
    drop = book_quality(_mix(good, bad), CFG, {})
    assert (drop is not None) == dropped
    if dropped:
        assert drop.reason == "book_quality:garbage_lines" and drop.threshold == 0.3


def test_alpha_share_both_sides():
    # Lines of 9 characters below MIN... are not judged one by one: the share over the document decides.
    low = "12 4a 9;\n" * 20  # 1 letter in 7 characters
    drop = book_quality(low, CFG, {})
    assert drop is not None and drop.reason == "book_quality:low_alpha"
    fine = "ab 12 cd\n" * 20  # 4 of 8
    assert book_quality(fine, CFG, {}) is None


def test_mean_line_length_both_sides():
    one_glyph_a_line = "\n".join("Callme") + "\n" + "\n".join("Ishmael")
    drop = book_quality(one_glyph_a_line, CFG, {})
    assert drop is not None and drop.reason == "book_quality:short_lines"
    verse = "\n".join(["Oh, the sea", "and the sky,", "the whale", "swims by."] * 3)
    assert book_quality(verse, CFG, {}) is None
    assert book_quality(one_glyph_a_line, replace(CFG, min_mean_line_length=None), {}) is None


def test_in_the_chain_books_only():
    cfg = replace(FilterConfig(), lid=LidConfig(enabled=False))
    chain = FilterChain(cfg)
    assert "book_quality" in chain.active_rules()
    docs = [Document(id=str(i), text=t, source="s", kind=k)
            for i, (t, k) in enumerate([(PROSE * 5, "book"), (_mix(1, 9), "book"), (_mix(1, 9), "article")])]
    out = chain.apply(docs)
    assert isinstance(out[0], Document) and out[0].signals["book_garbage_line_share"] == 0.0
    assert out[1].reason == "book_quality:garbage_lines" and out[1].extra["value"] == 0.9
    assert isinstance(out[2], Document) and "book_alpha_share" not in out[2].signals
    off = FilterChain(replace(cfg, book_quality=BookQualityConfig(enabled=False)))
    assert "book_quality" not in off.active_rules()
    assert isinstance(off.apply([Document(id="x", text=_mix(1, 9), source="s", kind="book")])[0], Document)
