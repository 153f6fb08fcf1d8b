"""Gopher repetition rule: every check at its threshold and on both sides, one check at a time."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from filters.config import GopherRepetitionConfig
from filters.gopher import _Tokens, dup_ngram_chars, gopher_repetition, top_ngram_chars
from filters.text import TextStats

CHECKS = [
    "dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac",
    *(f"top_{n}gram_char_frac" for n in (2, 3, 4)),
    *(f"dup_{n}gram_char_frac" for n in range(5, 11)),
]
OFF = GopherRepetitionConfig(**dict.fromkeys(CHECKS))


def only(check: str) -> GopherRepetitionConfig:
    return replace(OFF, **{check: getattr(GopherRepetitionConfig(), check)})


def reason(text: str, cfg: GopherRepetitionConfig) -> str | None:
    drop = gopher_repetition(TextStats(text), cfg, {})
    return None if drop is None else drop.reason


def unique_words(n: int, length: int = 4, offset: int = 0) -> list[str]:
    out = []
    for i in range(offset, offset + n):
        w, k = "", i
        for _ in range(length):
            w += "bcdfghjklmnpqrstvwxz"[k % 20]
            k //= 20
        out.append(w)
    return out


def test_defaults_are_table_a1():
    cfg = GopherRepetitionConfig()
    assert (cfg.dup_line_frac, cfg.dup_para_frac, cfg.dup_line_char_frac, cfg.dup_para_char_frac) == (0.3, 0.3, 0.2, 0.2)
    assert [getattr(cfg, f"top_{n}gram_char_frac") for n in (2, 3, 4)] == [0.20, 0.18, 0.16]
    assert [getattr(cfg, f"dup_{n}gram_char_frac") for n in range(5, 11)] == [0.15, 0.14, 0.13, 0.12, 0.11, 0.10]


@pytest.mark.parametrize(("dups", "expected"), [(2, None), (3, None), (4, "gopher_repetition:dup_para_frac")])
def test_duplicate_paragraph_fraction(dups, expected):
    paras = unique_words(10 - dups - 1, offset=50) + ["same"] * (dups + 1)  # the first copy is no duplicate
    assert len(paras) == 10
    assert reason("\n\n".join(paras), only("dup_para_frac")) == expected


@pytest.mark.parametrize(("dups", "expected"), [(2, None), (3, None), (4, "gopher_repetition:dup_line_frac")])
def test_duplicate_line_fraction(dups, expected):
    lines = unique_words(10 - dups - 1) + ["same line"] * (dups + 1)
    assert reason("\n".join(lines), only("dup_line_frac")) == expected


# Paragraphs X (a chars), Y, Y (10 chars each), joined by blank lines: the text has a + 24 characters,
# 10 of them in the repeated paragraph. a = 26 gives exactly 0.2.
@pytest.mark.parametrize(("a", "expected"), [(27, None), (26, None), (25, "gopher_repetition:dup_para_char_frac")])
def test_duplicate_paragraph_characters(a, expected):
    text = "\n\n".join(["x" * a, "y" * 10, "y" * 10])
    assert reason(text, only("dup_para_char_frac")) == expected


@pytest.mark.parametrize(("a", "expected"), [(29, None), (28, None), (27, "gopher_repetition:dup_line_char_frac")])
def test_duplicate_line_characters(a, expected):
    text = "\n".join(["x" * a, "y" * 10, "y" * 10])  # a + 22 characters, 10 repeated: a = 28 gives 0.2
    assert reason(text, only("dup_line_char_frac")) == expected


def filler(chars: int) -> str:
    """Distinct 4-letter words, then one shorter word if needed, making exactly `chars` characters."""
    assert chars >= 4
    if (chars + 1) % 5 == 0:
        return " ".join(unique_words((chars + 1) // 5, offset=500))
    k = (chars - 1) // 5  # 5k - 1 characters of 4-letter words, then " " and a tail of 1 to 5 letters
    tail = chars - (5 * k - 1) - 1
    return " ".join([*unique_words(k, offset=500), "q" * tail])


# "aa bb aa bb " then filler: the top bigram "aa bb" occurs twice: (5 chars) x 2 = 10 characters.
@pytest.mark.parametrize(("total", "expected"), [(51, None), (50, None), (49, "gopher_repetition:top_2gram")])
def test_top_bigram(total, expected):
    text = "aa bb aa bb " + filler(total - 12)
    assert len(text) == total
    assert reason(text, only("top_2gram_char_frac")) == expected


# trigram "aa bb cc" (8 chars) twice = 16 characters; 16 / 0.18 = 88.9
@pytest.mark.parametrize(("total", "expected"), [(90, None), (89, None), (88, "gopher_repetition:top_3gram")])
def test_top_trigram(total, expected):
    text = "aa bb cc aa bb cc " + filler(total - 18)
    assert reason(text, only("top_3gram_char_frac")) == expected


# 4-gram "aa bb cc dd" (11 chars) twice = 22 characters; 22 / 0.16 = 137.5
@pytest.mark.parametrize(("total", "expected"), [(139, None), (138, None), (137, "gopher_repetition:top_4gram")])
def test_top_fourgram(total, expected):
    text = "aa bb cc dd aa bb cc dd " + filler(total - 24)
    assert reason(text, only("top_4gram_char_frac")) == expected


# (n, word lengths of the repeated n-gram, text length at which its characters are exactly the limit)
DUP_CASES = [
    (5, [3] * 5, 100),  # 15 / 100 = 0.15
    (6, [3, 3, 3, 4, 4, 4], 150),  # 21 / 150 = 0.14
    (7, [4, 4, 4, 4, 4, 3, 3], 200),  # 26 / 200 = 0.13
    (8, [3] * 8, 200),  # 24 / 200 = 0.12
    (9, [4] * 6 + [3] * 3, 300),  # 33 / 300 = 0.11
    (10, [3] * 10, 300),  # 30 / 300 = 0.10
]


@pytest.mark.parametrize(("n", "lengths", "exact"), DUP_CASES)
def test_duplicate_ngram_characters(n, lengths, exact):
    limit = getattr(GopherRepetitionConfig(), f"dup_{n}gram_char_frac")
    assert sum(lengths) / exact == limit
    block = [w[:k] for w, k in zip(unique_words(n, length=4), lengths, strict=True)]
    head = " ".join(block + block) + " "  # the second copy is the repeat (joined without spaces)
    for total, expected in ((exact + 1, None), (exact, None), (exact - 1, f"gopher_repetition:dup_{n}gram")):
        text = head + filler(total - len(head))
        assert len(text) == total
        assert reason(text, only(f"dup_{n}gram_char_frac")) == expected, (n, total)


def _reference_dup(words: list[str], n: int) -> int:
    """The published scan (datatrove's find_all_duplicate) written the slow, obvious way."""
    seen, total, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = tuple(words[i : i + n])
        if gram in seen:
            total += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


def _reference_top(words: list[str], n: int) -> int:
    grams = Counter(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    top, count = grams.most_common(1)[0]
    return len(top) * count


def test_vectorized_ngram_scans_equal_the_reference_on_random_texts():
    rng = random.Random(3)
    for _ in range(400):
        vocab = ["a", "bb", "ccc", "dd", "e", "ffff"][: rng.randint(1, 6)]
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 50))]
        tok = _Tokens(*TextStats(" ".join(words)).token_arrays())  # words of letters: one token each
        for n in range(2, 11):
            if len(words) >= n:
                assert dup_ngram_chars(tok, n) == _reference_dup(words, n)
                assert top_ngram_chars(tok, n) == _reference_top(words, n)


def test_ordinary_prose_passes_with_defaults_and_signals_are_recorded():
    text = (
        "The committee met on Tuesday to discuss the budget.\n\n"
        "Several members raised concerns about rising costs in the transport sector.\n\n"
        "After a long debate, the proposal was approved with minor amendments."
    )
    signals: dict = {}
    assert gopher_repetition(TextStats(text), GopherRepetitionConfig(), signals) is None
    assert signals["rep_dup_line_frac"] == 0.0
    assert signals["rep_dup_10gram_char_frac"] == 0.0
    assert 0 < signals["rep_top_2gram_char_frac"] < 0.2


def test_spam_is_dropped_with_defaults():
    assert reason("buy now\n" * 20, GopherRepetitionConfig()) == "gopher_repetition:dup_line_frac"
    assert reason("", GopherRepetitionConfig()) == "gopher_repetition:empty"
