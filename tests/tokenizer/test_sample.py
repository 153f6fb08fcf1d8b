from __future__ import annotations

import random

import pytest

from tokenizer.sample import (
    Candidate,
    is_heldout,
    plan_budgets,
    sample_unit,
    sentences,
    target_shares,
    thresholds,
    trim_to_budgets,
    water_fill,
)


def test_natural_shares_follow_bytes():
    groups = {("web", "en"): 600, ("web", "de"): 200, ("books", "en"): 200}
    shares = target_shares(groups)
    assert shares == pytest.approx({("web", "en"): 0.6, ("web", "de"): 0.2, ("books", "en"): 0.2})
    budgets = plan_budgets(groups, 500)
    assert budgets == {("web", "en"): 300, ("web", "de"): 100, ("books", "en"): 100}


def test_weights_split_datasets_then_languages():
    groups = {("web", "en"): 900, ("web", "de"): 100, ("books", "en"): 1000}
    shares = target_shares(groups, {"web": 3, "books": 1}, {"en": 1, "de": 1})
    # web gets 3/4, shared equally between its two languages; books 1/4
    assert shares == pytest.approx({("web", "en"): 0.375, ("web", "de"): 0.375, ("books", "en"): 0.25})


def test_water_fill_gives_what_a_small_group_cannot_take_to_the_others():
    cap = {"a": 50, "b": 10_000, "c": 10_000}
    budgets = water_fill(cap, {"a": 0.5, "b": 0.25, "c": 0.25}, 1000)
    assert budgets["a"] == 50  # full
    assert budgets["b"] == budgets["c"] == 475  # the rest, in the same 1:1 proportion
    assert sum(budgets.values()) <= 1000


def test_budgets_never_exceed_the_bound_nor_the_data():
    rng = random.Random(1)
    for _ in range(200):
        groups = {(f"d{i}", "x"): rng.randint(0, 10_000) for i in range(rng.randint(1, 6))}
        bound = rng.randint(1, 40_000)
        weights = {f"d{i}": rng.random() for i in range(6)} if rng.random() < 0.5 else None
        budgets = plan_budgets(groups, bound, weights)
        assert sum(budgets.values()) <= bound
        assert all(0 <= budgets[g] <= groups[g] for g in groups)
        if bound >= sum(groups.values()) and (weights is None or all(w > 0 for w in weights.values())):
            assert budgets == groups  # everything fits: take everything


def test_zero_weight_excludes_a_dataset():
    budgets = plan_budgets({("web", "en"): 100, ("spam", "en"): 100}, 1000, {"web": 1, "spam": 0})
    assert budgets == {("web", "en"): 100, ("spam", "en"): 0}


def _candidates(n: int, seed: int = 0) -> list[Candidate]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        doc_id = f"doc-{i}"
        out.append(Candidate(doc_id, rng.choice(["web", "books"]), "en", sample_unit(doc_id, 0),
                             rng.randint(100, 5000)))
    return out


def test_trim_is_exactly_bounded_deterministic_and_order_free():
    cands = _candidates(2000)
    budgets = {("web", "en"): 300_000, ("books", "en"): 100_000}
    keep = trim_to_budgets(cands, budgets)
    shuffled = list(cands)
    random.Random(7).shuffle(shuffled)
    assert trim_to_budgets(shuffled, budgets) == keep
    for g, budget in budgets.items():
        got = sum(c.nbytes for c in cands if c.id in keep and (c.dataset, c.language) == g)
        assert budget - 5000 < got <= budget  # full to within one document, never over


def test_thresholds_oversample_enough_for_the_trim():
    cands = _candidates(5000, seed=3)
    groups: dict = {}
    for c in cands:
        groups[(c.dataset, c.language)] = groups.get((c.dataset, c.language), 0) + c.nbytes
    budgets = plan_budgets(groups, sum(groups.values()) // 5)
    limits = thresholds(groups, budgets)
    selected = [c for c in cands if c.u < limits[(c.dataset, c.language)]]
    for g, budget in budgets.items():
        got = sum(c.nbytes for c in selected if (c.dataset, c.language) == g)
        assert got >= budget  # the pipeline's candidates cover the budget


def test_heldout_is_a_stable_fraction():
    ids = [f"id{i}" for i in range(20_000)]
    held = [i for i in ids if is_heldout(i, 0.05, seed=0)]
    assert 0.04 < len(held) / len(ids) < 0.06
    assert held == [i for i in ids if is_heldout(i, 0.05, seed=0)]
    assert held != [i for i in ids if is_heldout(i, 0.05, seed=1)]
    assert not any(is_heldout(i, 0.0, seed=0) for i in ids)


def test_sentences_skip_blank_lines_and_cut_long_ones():
    text = "first line\n\n   \nsecond line\n" + ("wörd " * 400).strip()
    out = list(sentences(text, max_bytes=256))
    assert out[:2] == ["first line", "second line"]
    assert all(0 < len(s.encode()) <= 256 for s in out)
    assert "".join(out[2:]) == ("wörd " * 400).strip()  # nothing lost: cut at spaces, kept on the right


def test_chunks_are_line_aligned_cover_the_text_and_depend_on_size_only():
    from tokenizer.sample import chunk, num_chunks

    text = "\n".join(f"line {i} " + "x" * (i % 50) for i in range(2000))
    n = num_chunks(len(text.encode()), 4096)
    assert n == -(-len(text.encode()) // 4096) and num_chunks(10, 4096) == 1
    pieces = [chunk(text, k, n) for k in range(n)]
    assert "".join(pieces) == text
    assert all(p.endswith("\n") for p in pieces[:-1])  # cut after a line break
    assert max(len(p) for p in pieces) < 2 * 4096
    assert chunk("short", 0, 1) == "short"


def test_rare_characters_are_masked_to_keep_the_vocabulary_for_merges():
    from collections import Counter

    from tokenizer.train import chars_to_mask

    counts = Counter({chr(0x4E00 + i): 1000 - i for i in range(900)})  # 900 CJK characters
    counts.update({c: 5 for c in "az09.,"})  # rare ASCII
    masked, kept = chars_to_mask(counts, vocab_size=1260, reserved=260, coverage=0.9995, max_share=0.2)
    assert kept == 200 and len(masked) == len(counts) - 200
    assert not masked & set("az09.,")  # printable ASCII is never masked
    assert chr(0x4E00) not in masked and chr(0x4E00 + 899) in masked  # frequent ones stay
    none, needed = chars_to_mask(counts, vocab_size=20_000, reserved=260, coverage=0.9995)
    assert not none and needed <= len(counts)
