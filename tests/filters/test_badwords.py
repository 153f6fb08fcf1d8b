"""Bad words (C4, LDNOOBW lists): more than 0.2% listed words drops by default; 0.0 is C4's any-word rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filters.badwords import BadWords
from filters.config import BadWordsConfig


@pytest.fixture
def lists(tmp_path):
    (tmp_path / "en.txt").write_text("badword\nbad phrase\nb@d\n")
    (tmp_path / "zh.txt").write_text("坏词\n性\n")
    return tmp_path


def check(bw: BadWords, text: str, lang: str | None = "en") -> tuple[str | None, float | None]:
    signals: dict = {}
    drop = bw.check(text, lang, signals)
    return (None if drop is None else drop.reason), signals.get("badwords_frac")


def test_listed_words_drop_short_texts_by_default(lists):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists)))
    assert check(bw, "a perfectly clean sentence") == (None, 0.0)
    assert check(bw, "this has a Badword in it")[0] == "badwords:en"
    assert check(bw, "this has a bad phrase in it")[0] == "badwords:en"
    assert check(bw, "this has b@d in it")[0] == "badwords:en"


def test_one_word_in_a_long_text_is_kept_by_default_and_dropped_by_c4s_rule(lists):
    text = "badword " + "the whale rose from the sea and the crew " * 100  # 1 in 901 words
    assert check(BadWords(BadWordsConfig(lists_dir=str(lists))), text)[0] is None
    assert check(BadWords(BadWordsConfig(lists_dir=str(lists), max_fraction=0.0)), text)[0] == "badwords:en"
    assert check(BadWords(BadWordsConfig(lists_dir=str(lists))), "badword " * 3 + text)[0] == "badwords:en"


def test_words_match_only_between_non_word_characters(lists):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists)))
    assert check(bw, "badwords and xbadword are other words")[0] is None
    assert check(bw, "a bad phrases list")[0] is None
    assert check(bw, "(badword)")[0] == "badwords:en"
    assert check(bw, "badword's meaning")[0] == "badwords:en"  # the apostrophe is a boundary


def test_only_the_documents_language_is_checked(lists):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists)))
    assert check(bw, "this has a badword in it", lang="de") == (None, None)  # no German list here
    assert check(bw, "this has a badword in it", lang=None) == (None, None)


# 1 listed word in 10 words = 0.1
@pytest.mark.parametrize(("bad", "expected"), [(0, None), (1, None), (2, "badwords:en")])
def test_fraction_threshold(lists, bad, expected):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists), max_fraction=0.1))
    text = " ".join(["badword"] * bad + ["clean"] * (10 - bad))
    reason, frac = check(bw, text)
    assert reason == expected
    assert frac == bad / 10


def test_null_fraction_only_records_the_signal(lists):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists), max_fraction=None))
    assert check(bw, "badword badword clean clean") == (None, 0.5)


def test_unsegmented_languages_match_substrings_and_apply_the_allowlist(lists):
    bw = BadWords(BadWordsConfig(lists_dir=str(lists)))
    assert check(bw, "这是一个坏词的例子", lang="zh")[0] == "badwords:zh"
    assert check(bw, "性别平等很重要", lang="zh")[0] is None  # "性" is allowlisted (mC4)


def test_shipped_ldnoobw_lists():
    bw = BadWords(BadWordsConfig())
    assert {"en", "de", "fr", "ja", "zh"} <= bw.available
    assert (bw.folder / "LICENSE").is_file() and (bw.folder / "CREDITS.md").is_file()
    assert check(bw, "The committee approved the annual budget on Tuesday.")[0] is None
    assert check(bw, "Watch the 2 girls 1 cup video")[0] == "badwords:en"
    assert bw.list_for("tl").lang == "fil"  # lid.176 says tl, the list is fil


def test_missing_folder_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        BadWords(replace(BadWordsConfig(), lists_dir=str(tmp_path / "none")))
