"""Word n-gram decontamination: normalization, n-gram boundaries, short items, both modes, index size."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from filters.decontam import DecontamConfig, NgramIndex, build_index, decontaminate, find_matches, words

ITEM = ("The committee concluded that the migratory patterns of the arctic tern were shaped primarily "
        "by prevailing winds rather than by the availability of food along the coast")
FILLER = ("Rain fell steadily over the harbour while fishermen mended nets and talked about prices. " * 6)


def _index(n: int = 13, **sets) -> NgramIndex:
    return build_index({name: list(items) for name, items in (sets or {"qa": [("q1", ITEM)]}).items()},
                       n=n, min_item_words=8)


def test_words_are_normalized():
    assert words("Ｆｕｌｌ-width, CAFÉ naïve_x don't 3.14") == ["full", "width", "café", "naïve", "x", "don", "t",
                                                              "3", "14"]
    assert words("Straße") == words("STRASSE")  # casefold


def test_match_survives_case_punctuation_and_whitespace():
    index = _index()
    variant = "THE committee,   concluded: that the migratory\npatterns of the Arctic tern were shaped"
    doc = f"{FILLER} {variant} {FILLER}"
    matches = find_matches(doc, index)
    assert matches and {m.eval_item for m in matches} == {"q1"} and {m.eval_set for m in matches} == {"qa"}
    assert doc[matches[0].start : matches[0].end].startswith("THE committee")
    assert matches[0].ngram.split()[0] == "THE"


def test_ngram_boundaries():
    ws = ITEM.split()
    index = _index(n=13)
    exactly_13 = " ".join(ws[5:18])
    only_12 = " ".join(ws[5:17])
    assert len(find_matches(f"{FILLER} {exactly_13} {FILLER}", index)) == 1
    assert find_matches(f"{FILLER} {only_12} {FILLER}", index) == []
    # 13 words that straddle the item's end and unrelated text do not match
    assert find_matches(" ".join(ws[-6:]) + " " + FILLER, index) == []
    # the item's whole text: every 13-gram (len - 12 of them)
    assert len(find_matches(ITEM, index)) == len(ws) - 12


def test_short_items_match_whole_or_are_skipped():
    short = "Which planet is known as the red planet"  # 8 words < 13: indexed whole
    tiny = "Name the red planet"  # 4 words < min_item_words: not indexed
    index = build_index({"quiz": [("s", short), ("t", tiny)]}, n=13, min_item_words=8)
    st = index.stats["quiz"]
    assert (st.items, st.indexed_items, st.short_items, st.too_short) == (2, 1, 1, 1)
    assert index.lengths == (13, 8)
    assert [m.eval_item for m in find_matches(f"{FILLER} which planet is known as the RED planet? {FILLER}", index)]\
        == ["s"]
    assert find_matches(f"{FILLER} name the red planet {FILLER}", index) == []
    assert find_matches("Which planet is known as the red", index) == []  # 7 of the 8 words


def test_planted_paragraph_found_in_exactly_the_docs_that_contain_it_both_modes():
    rng = np.random.default_rng(0)
    vocab = FILLER.split() + ["alpha", "beta", "gamma", "delta", "sea", "tern", "wind", "committee", "food"]
    docs = [" ".join(rng.choice(vocab, 400)) for _ in range(200)]
    planted = {3, 77, 150}
    for i in planted:
        words_ = docs[i].split()
        docs[i] = " ".join(words_[:200]) + f" {ITEM}. " + " ".join(words_[200:])
    index = _index()
    for mode in ("drop", "remove"):
        cfg = DecontamConfig(mode=mode, window_chars=200, min_piece_chars=50)
        outcomes = [decontaminate(d, index, cfg) for d in docs]
        assert {i for i, o in enumerate(outcomes) if o.touched} == planted
        for i, (doc, o) in enumerate(zip(docs, outcomes, strict=True)):
            if i not in planted:
                assert o.text == doc and not o.removed  # nothing else touched
            elif mode == "drop":
                assert o.text is None and o.dropped_because == "contaminated"
            else:
                assert o.text is not None and "migratory" not in o.text and "arctic" not in o.text.lower()
                assert len(o.removed) == 1
                span = o.removed[0]
                assert ITEM in doc[span.start : span.end]
                # exactly the window: the item plus 200 characters either side
                start = doc.index(ITEM)
                assert span.start == start - 200 and span.end == start + len(ITEM) + 200
                assert o.text == doc[: span.start].strip() + "\n\n" + doc[span.end :].strip()


def test_remove_mode_drops_when_too_many_pieces_or_too_short():
    index = _index()
    many = (FILLER + ITEM + " ") * 12 + FILLER
    o = decontaminate(many, index, DecontamConfig(mode="remove", window_chars=10, min_piece_chars=20))
    assert o.text is None and o.dropped_because == "too_many_pieces"
    o = decontaminate(f"Intro. {ITEM}. Outro.", index, DecontamConfig(mode="remove"))
    assert o.text is None and o.dropped_because == "too_short"
    # a short piece at the end goes with the window next to it (and is recorded in the removed span)
    doc = FILLER + ITEM + " The end, short."
    o = decontaminate(doc, index, DecontamConfig(window_chars=10, min_piece_chars=100))
    assert o.text == doc[: o.removed[0].start].strip() and o.removed[0].end == len(doc)


def test_two_sets_report_their_own_items():
    index = _index(qa=[("q1", ITEM)], other=[("o9", FILLER.strip() + " unique closing words here now")])
    matches = find_matches("prefix " + ITEM, index)
    assert {(m.eval_set, m.eval_item) for m in matches} == {("qa", "q1")}


def test_index_of_a_million_ngrams_is_small_and_round_trips():
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(50_000)]
    items = [(f"i{k}", " ".join(rng.choice(vocab, 1012))) for k in range(1000)]  # 1000 x 1000 13-grams
    index = build_index({"big": items}, n=13)
    assert len(index) >= 999_000  # a handful of random collisions between items at most
    assert index.nbytes < 20_000_000  # 12 bytes per n-gram: well under 100 MB
    assert len(pickle.dumps(index)) < 20_000_000 and len(index.to_bytes()) < 20_000_000
    again = NgramIndex.from_bytes(index.to_bytes())
    assert again.digest() == index.digest()
    probe = items[500][1]
    assert {m.eval_item for m in find_matches(probe, again)} == {"i500"}


def test_config_validation():
    with pytest.raises(ValueError, match="min_item_words"):
        DecontamConfig(ngram=5, min_item_words=8).validate()
