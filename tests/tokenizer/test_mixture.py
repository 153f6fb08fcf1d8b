from __future__ import annotations

import numpy as np
import pytest

from tokenizer.mixture import (
    NUM_BUCKETS,
    MixtureError,
    bucket_of,
    copy_key,
    plan_mixture,
    proportion_error,
)


def _docs(rng: np.random.Generator, dataset: str, n: int, mean: int) -> list[tuple[str, int]]:
    return [(f"{dataset}-{i}", int(rng.integers(1, 2 * mean))) for i in range(n)]


def _histograms(docs: dict[str, list[tuple[str, int]]], seed: int = 0) -> dict[str, np.ndarray]:
    hists = {}
    for d, items in docs.items():
        h = np.zeros(NUM_BUCKETS, dtype=np.int64)
        for doc_id, n in items:
            h[bucket_of(doc_id, seed)] += n
        hists[d] = h
    return hists


def _apply(plan, docs, seed: int = 0) -> dict[str, int]:
    """What the pipeline does with a plan: every document, its copies, their tokens."""
    got = {}
    for d, items in docs.items():
        rate = plan.get(d)
        got[d] = sum(n * (rate.copies(bucket_of(i, seed)) if rate else 0) for i, n in items)
    return got


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    return {
        "web": _docs(rng, "web", 3000, 400),  # many short documents
        "articles": _docs(rng, "articles", 800, 600),
        "books": _docs(rng, "books", 12, 60_000),  # a few long ones
    }


def test_natural_mixture_keeps_every_document_once(corpus):
    plan = plan_mixture(_histograms(corpus), None)
    assert all(r.whole == 1 and r.cut == 0 for r in plan.values())
    assert _apply(plan, corpus) == {d: sum(n for _, n in items) for d, items in corpus.items()}


@pytest.mark.parametrize("weights", [
    {"web": 0.6, "books": 0.3, "articles": 0.1},
    {"web": 0.2, "books": 0.1, "articles": 0.7},  # articles upsampled ~3x
    {"web": 1, "books": 1, "articles": 1},
])
def test_mixture_reaches_the_target_proportions_within_one_percent(corpus, weights):
    plan = plan_mixture(_histograms(corpus), weights)
    got = _apply(plan, corpus)
    assert got == {d: r.planned_tokens for d, r in plan.items()}  # the plan is exactly what is written
    total = sum(got.values())
    wsum = sum(weights.values())
    for d, w in weights.items():
        assert abs(got[d] / total - w / wsum) < 0.01, (d, got[d] / total, w / wsum)
    assert proportion_error(plan) < 0.01


def test_upsampling_repeats_whole_documents_with_distinct_keys(corpus):
    plan = plan_mixture(_histograms(corpus), {"web": 0.1, "articles": 0.9})
    rate = plan["articles"]
    assert rate.whole >= 1 and rate.rate > 1.5
    assert copy_key("a", 0) == "a" and copy_key("a", 2) == "a#2"
    assert plan["books"].planned_tokens == 0  # no weight: dropped


def test_total_tokens_sets_the_scale(corpus):
    plan = plan_mixture(_histograms(corpus), {"web": 0.5, "articles": 0.5}, total_tokens=1_000_000)
    total = sum(r.planned_tokens for r in plan.values())
    assert abs(total - 1_000_000) / 1_000_000 < 0.01


def test_decisions_depend_on_the_seed_only(corpus):
    a = plan_mixture(_histograms(corpus, seed=0), {"web": 0.3, "books": 0.7})
    b = plan_mixture(_histograms(corpus, seed=0), {"web": 0.3, "books": 0.7})
    c = plan_mixture(_histograms(corpus, seed=1), {"web": 0.3, "books": 0.7})
    assert a == b
    assert a != c


def test_a_weighted_dataset_without_tokens_is_an_error(corpus):
    with pytest.raises(MixtureError, match="code"):
        plan_mixture(_histograms(corpus), {"web": 0.5, "code": 0.5})
