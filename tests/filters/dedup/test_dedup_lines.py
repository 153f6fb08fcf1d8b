"""Pure line / paragraph dedup rules: unit splitting, normalization, counting, thresholds, removal."""

from __future__ import annotations

import numpy as np
import pytest

from filters.dedup.lines import (
    RUN_SCOPE,
    doc_unit_set,
    hash_units,
    keeps,
    merge_counts,
    remove_units,
    removed_mask,
    scope_of,
    split_units,
    threshold,
)
from filters.dedup.lines_config import LineDedupConfig


def _texts(text: str, spans) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_split_lines_skips_blank_lines():
    text = "  first line\n\n   \nsecond line\r\nthird"
    assert _texts(text, split_units(text, "line")) == ["  first line", "second line\r", "third"]
    assert split_units("", "line") == [] and split_units("\n \n", "line") == []


def test_split_paragraphs_on_blank_lines():
    text = "para one\nstill one\n \n\npara two\n\n\npara three\n"
    assert _texts(text, split_units(text, "paragraph")) == ["para one\nstill one", "para two", "para three\n"]


def test_normalization_as_for_minhash():
    """Case, punctuation, digits and spacing do not change a unit's hash; words do."""
    a = hash_units("Copyright 2019 Daily Ledger. All rights reserved!", "line", 10).hashes[0]
    b = hash_units("  COPYRIGHT 2024 daily ledger -- all   rights reserved", "line", 10).hashes[0]
    c = hash_units("Copyright 2019 Daily Ledger. Some rights reserved!", "line", 10).hashes[0]
    assert a == b != c
    assert hash_units("Café au lait, s'il vous plaît", "line", 5).hashes[0] == \
        hash_units("CAFE AU LAIT S IL VOUS PLAIT", "line", 5).hashes[0]


def test_short_units_are_not_eligible():
    units = hash_units("Chapter 1\nThanks!\nThis line is long enough to count as a unit", "line", 20)
    assert units.eligible.tolist() == [False, False, True]
    # non-ASCII: characters are counted, not UTF-8 bytes (8 CJK characters are 24 bytes)
    assert hash_units("日本語の短い文章です", "line", 12).eligible.tolist() == [False]


def test_a_unit_repeated_inside_a_document_counts_once():
    text = "\n".join(["The same footer line repeated on this page"] * 3 + ["Another line of real content here"])
    units = hash_units(text, "line", 10)
    assert len(units) == 4 and len(doc_unit_set(units)) == 2


def test_merge_counts_sums_per_hash():
    h, c = merge_counts([np.array([5, 1, 9], np.uint64), np.array([9, 5], np.uint64)],
                        [np.array([1, 2, 3]), np.array([4, 5])])
    assert h.tolist() == [1, 5, 9] and c.tolist() == [2, 6, 7]
    h, c = merge_counts([], [])
    assert len(h) == 0 and len(c) == 0


def test_threshold_is_the_larger_of_count_and_fraction():
    cfg = LineDedupConfig(min_docs=10, min_doc_fraction=0.01)
    assert threshold(100, cfg) == 10 and threshold(5000, cfg) == 50
    assert removed_mask(np.array([9, 10, 49, 50]), 5000, cfg).tolist() == [False, False, False, True]
    assert removed_mask(np.array([9, 10]), 100, cfg).tolist() == [False, True]


def test_scope_per_dataset_web_only_by_default():
    cfg = LineDedupConfig()
    assert scope_of("crawl", "web", cfg) == "crawl"
    assert scope_of("books", "book", cfg) is None
    run = LineDedupConfig(scope="run", kinds=["web", "article"])
    assert scope_of("a", "article", run) == RUN_SCOPE == scope_of("b", "web", run)


@pytest.mark.parametrize("remove, expected", [
    ([False, False, False], "Nav bar\nBody text\nFooter"),
    ([True, False, False], "Body text\nFooter"),
    ([False, True, False], "Nav bar\nFooter"),
    ([False, False, True], "Nav bar\nBody text"),
    ([True, False, True], "Body text"),
    ([True, True, True], ""),
])
def test_remove_units(remove, expected):
    text = "Nav bar\nBody text\nFooter"
    units = hash_units(text, "line", 1)
    out, chars, n = remove_units(text, units, np.array(remove))
    assert out == expected and chars == len(text) - len(expected) and n == sum(remove)


def test_remove_paragraphs_keeps_separators():
    text = "Menu and links to everything\n\nThe article itself.\nSecond line.\n\n\nCookie banner text here\n"
    units = hash_units(text, "paragraph", 1)
    out, _, n = remove_units(text, units, np.array([True, False, True]))
    assert out == "The article itself.\nSecond line." and n == 2
    out, _, _ = remove_units(text, units, np.array([False, True, False]))
    assert out == "Menu and links to everything\n\nCookie banner text here\n"


def test_keeps_by_length_and_fraction():
    cfg = LineDedupConfig(min_doc_chars=10, min_kept_fraction=0.5)
    assert keeps("x" * 40, "y" * 20, cfg)
    assert not keeps("x" * 40, "y" * 19, cfg)  # under half left
    assert not keeps("x" * 12, "  y" * 3, cfg)  # under 10 characters left after stripping


@pytest.mark.parametrize("field, value", [
    ("min_docs", 1), ("min_doc_fraction", 1.5), ("kinds", []), ("min_unit_chars", 0), ("partitions", 0),
])
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        LineDedupConfig(**{field: value}).validate()


def test_batch_hashes_match_the_reference():
    """Units hashed in numpy chunks (one normalization call per text, joined non-ASCII units) equal
    xxh3-64 of each unit's canonical text computed one by one, and lengths count characters."""
    from filters.dedup.lines import _JOIN, canonical_units, hash_unit_batch, unit_hash

    texts = [
        "Ünïcödé line — «quoted» 2024\nΕλληνικά γράμματα εδώ\n\n  日本語の文章です、句読点。\nplain ascii line",
        "  Plain ASCII,   with   spaces!  \r\n\n---\n!!!\nlast line",
        "holds the joiner " + _JOIN + " itself\nand é",
        "",
        "x" * 300_000 + "\nshort",  # past the chunk size
    ]
    batch = hash_unit_batch(texts, "line", 5)
    for d, text in enumerate(texts):
        units = batch.units(d)
        canon = canonical_units(text, units.spans)
        assert units.hashes.tolist() == [unit_hash(c) for c in canon], d
        assert units.eligible.tolist() == [len(c.decode("utf-8", "surrogatepass")) >= 5 for c in canon], d


def test_doc_unit_counts_count_documents():
    from filters.dedup.lines import doc_unit_counts, hash_unit_batch

    a, b = "A line that repeats in the page", "Another line found in two pages"
    batch = hash_unit_batch([f"{a}\n{a}\n{b}", f"{b}\n{a}", f"{b}\nshort"], "line", 10)
    h, c = doc_unit_counts(batch, np.array([0, 1, 2]))
    by_hash = dict(zip(h.tolist(), c.tolist(), strict=True))
    assert by_hash == {hash_units(a, "line", 1).hashes[0]: 2, hash_units(b, "line", 1).hashes[0]: 3}
    h, c = doc_unit_counts(batch, np.array([2]))
    assert c.tolist() == [1]


@pytest.mark.parametrize("text", ["a\n\nb\n", "\n \nx", "", "   ", "one", "x\r\n y \n\t\n"])
def test_line_split_fast_path_matches_regex(text):
    import re

    spans, pos = [], 0
    for m in re.finditer(r"\n", text):
        if m.start() > pos and not text[pos : m.start()].isspace():
            spans.append((pos, m.start()))
        pos = m.end()
    if pos < len(text) and not text[pos:].isspace():
        spans.append((pos, len(text)))
    assert split_units(text, "line") == spans
