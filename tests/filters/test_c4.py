"""C4 cleaning: each line rule, each document rule, at and around its threshold; each part switchable."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filters.c4 import c4_clean
from filters.config import C4Config

NO_MIN = C4Config(min_sentences=None)
GOOD = "This line is a complete sentence."


def kept(text: str, cfg: C4Config = NO_MIN) -> list[str]:
    res = c4_clean(text, cfg)
    assert res.drop is None, res.drop
    return res.text.split("\n") if res.text else []


def test_defaults_follow_the_paper():
    cfg = C4Config()
    assert cfg.require_terminal_punct and cfg.remove_citations and cfg.lorem_ipsum and cfg.curly_bracket
    assert (cfg.min_words_per_line, cfg.max_word_length, cfg.min_sentences) == (3, 1000, 5)


@pytest.mark.parametrize(
    ("line", "keep"),
    [
        ("It ends with a period.", True),
        ("Does it end with a question?", True),
        ("It ends with an exclamation!", True),
        ('He said "it ends with a quote."', True),
        ("She wrote “a curly quote.”", True),
        ("It has no terminal punctuation", False),
        ("It trails off with an ellipsis...", False),
        ("It ends with a colon:", False),
    ],
)
def test_terminal_punctuation(line, keep):
    assert kept(line) == ([line] if keep else [])
    assert kept(line, replace(NO_MIN, require_terminal_punct=False)) == [line]


@pytest.mark.parametrize(("line", "keep"), [("Two words.", False), ("Three words here.", True), ("Four words are here.", True)])
def test_min_words_per_line(line, keep):
    assert kept(line) == ([line] if keep else [])
    assert kept(line, replace(NO_MIN, min_words_per_line=None)) == [line]


@pytest.mark.parametrize(("length", "keep"), [(999, True), (1000, True), (1001, False)])
def test_max_word_length(length, keep):
    line = f"A long word {'x' * length} ends here."
    assert kept(line) == ([line] if keep else [])
    assert kept(line, replace(NO_MIN, max_word_length=None)) == [line]


def test_citations_are_removed_from_kept_lines():
    assert kept("The sky is blue[1] and wide[citation needed] as seen[edit].") == ["The sky is blue and wide as seen."]
    line = "The sky is blue[1] today."
    assert kept(line, replace(NO_MIN, remove_citations=False)) == [line]


def test_javascript_and_policy_lines_are_removed():
    text = "\n".join([
        GOOD,
        "Please enable JavaScript to view the comments.",
        "This site uses cookies to improve your experience.",
        "Read our Privacy Policy before signing up.",
        "By continuing you accept the terms of use.",
    ])
    assert kept(text) == [GOOD]
    assert len(kept(text, replace(NO_MIN, drop_javascript_lines=False, drop_policy_lines=False))) == 5


def test_lorem_ipsum_and_curly_brackets_drop_the_document():
    assert c4_clean(f"{GOOD}\nLorem ipsum dolor sit amet, consectetur.", NO_MIN).drop.reason == "c4:lorem_ipsum"
    assert c4_clean(f"{GOOD}\nThe function f(x) {{ return x; }} is short.", NO_MIN).drop.reason == "c4:curly_bracket"
    off = replace(NO_MIN, lorem_ipsum=False, curly_bracket=False)
    assert c4_clean(f"{GOOD}\nLorem ipsum dolor sit amet, consectetur.", off).drop is None
    assert c4_clean(f"{GOOD}\nThe function f(x) {{ return x; }} is short.", off).drop is None


def test_document_rules_only_look_at_lines_that_survive_the_line_rules():
    # the bracket is in a line without terminal punctuation: the line goes, the document stays
    assert kept(f"{GOOD}\nfunction f() {{ return 1 }}") == [GOOD]


@pytest.mark.parametrize(("sentences", "drop"), [(4, True), (5, False), (6, False)])
def test_min_sentences(sentences, drop):
    text = " ".join(f"This is sentence number {i}." for i in range(sentences))
    res = c4_clean(text, C4Config())
    assert res.sentences == sentences
    assert (res.drop is not None) == drop
    if drop:
        assert res.drop.reason == "c4:too_few_sentences"
        assert (res.drop.value, res.drop.threshold) == (sentences, 5)
    assert c4_clean(text, replace(C4Config(), min_sentences=None)).drop is None


def test_sentences_are_counted_over_lines_and_within_lines():
    text = "First sentence here. Second one here.\nThird sentence here.\nno punctuation so removed\nFourth one is here!"
    res = c4_clean(text, C4Config(min_sentences=4))
    assert res.drop is None
    assert res.sentences == 4
    assert res.lines_removed == 1
    assert res.text == "First sentence here. Second one here.\nThird sentence here.\nFourth one is here!"
