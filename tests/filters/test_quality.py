"""Model-based quality: training on written reference vs. spam text, scoring, the threshold."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from filters.config import QualityConfig
from filters.quality import QualityModel, chunks, is_holdout, prepare, train_classifier

SUBJECTS = ["The committee", "Our researchers", "The city council", "Historians", "The author", "Engineers"]
VERBS = ["examined", "described", "reconsidered", "documented", "debated", "explained"]
OBJECTS = ["the causes of the flood", "the history of the railway", "a new theory of light",
           "the results of the survey", "the letters of the poet", "the design of the bridge"]
SPAM = ["buy now", "cheap pills", "click here", "free shipping", "best price", "limited offer", "hot deals",
        "sign up", "win big", "100% free", "call now", "order today"]


def prose(rng: random.Random, sentences: int = 12) -> str:
    return " ".join(
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}, and the findings were published." for _ in range(sentences)
    )


def spam(rng: random.Random, items: int = 30) -> str:
    return " ".join(f"{rng.choice(SPAM).upper() if rng.random() < 0.3 else rng.choice(SPAM)} !!!" for _ in range(items))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = random.Random(0)
    pos = [(f"p{i}", prose(rng)) for i in range(80)]
    neg = [(f"n{i}", spam(rng)) for i in range(80)]
    out = tmp_path_factory.mktemp("q") / "quality.bin"
    cfg = QualityConfig(epoch=10, dim=16, min_count=1, holdout_fraction=0.25, chunk_words=64)
    report = train_classifier(pos, neg, out, cfg, seed=0)
    return out, report, cfg


def test_training_reports_held_out_precision_and_recall(trained):
    out, report, _ = trained
    assert out.is_file()
    assert report.holdout_documents["positive"] > 5 and report.holdout_documents["negative"] > 5
    assert report.train_examples["positive"] == report.train_examples["negative"]  # balanced
    assert report.precision == 1.0 and report.recall == 1.0


def test_scores_and_threshold(trained):
    out, _, cfg = trained
    model = QualityModel(replace(cfg, model=str(out), min_score=0.5))
    rng = random.Random(42)
    good, bad = model.scores([prose(rng), spam(rng)])
    assert good > 0.9 > 0.1 > bad
    assert model.check(good) is None
    drop = model.check(bad)
    assert drop.reason == "quality:low_score" and drop.threshold == 0.5


@pytest.mark.parametrize(("score", "keep"), [(0.49, False), (0.5, True), (0.51, True)])
def test_threshold_is_inclusive(trained, score, keep):
    out, _, cfg = trained
    assert (QualityModel(replace(cfg, model=str(out), min_score=0.5)).check(score) is None) == keep


def test_preprocessing_and_chunks():
    assert prepare("Hello, World!  New\nline") == "hello , world ! new line"
    assert prepare("a b c d", max_words=2) == "a b"
    assert chunks("one two three four five", 2) == ["one two", "three four", "five"]
    assert chunks("", 2) == []
    # the held-out split is a stable function of the id
    assert is_holdout("doc-1", 0.5) == is_holdout("doc-1", 0.5)
    assert 400 < sum(is_holdout(f"d{i}", 0.5) for i in range(1000)) < 600


def test_training_needs_both_classes(tmp_path):
    with pytest.raises(ValueError, match="no training text"):
        train_classifier([("a", "some text here")], [], tmp_path / "m.bin", QualityConfig())
