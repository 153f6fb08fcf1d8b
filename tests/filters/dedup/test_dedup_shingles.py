from __future__ import annotations

import random

import numpy as np
import pytest

import filters.dedup.shingles as shingles_mod
from filters.dedup.shingles import shingle_hash, shingle_texts, shingle_words
from tests.filters.dedup.textgen import prose


def _texts() -> list[str]:
    rng = random.Random(3)
    return [prose(rng, n) for n in (0, 1, 3, 4, 5, 6, 50, 400)] + ["", "Naïve café, ٣ words; résumé!"]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_vectorized_hashes_match_the_scalar_reference(k):
    texts = _texts()
    batch = shingle_texts(texts, k).shingles
    for d, t in enumerate(texts):
        expected = [shingle_hash(s) for s in shingle_words(t, k)]
        assert batch.of(d).tolist() == expected


def test_short_and_empty_documents():
    batch = shingle_texts(["", "one two", "a b c d e f"], 5).shingles
    assert np.diff(batch.offsets).tolist() == [0, 1, 2]


def test_word_order_and_content_matter():
    a, b, c = shingle_texts(["a b c d e", "e d c b a", "a b c d x"]).shingles.hashes
    assert len({a, b, c}) == 3
    same = shingle_texts(["A, b; C d e!", "a b c d e"]).shingles.hashes
    assert same[0] == same[1]


def test_chunking_does_not_change_results(monkeypatch):
    texts = _texts() * 3
    whole = shingle_texts(texts)
    monkeypatch.setattr(shingles_mod, "CHUNK_BYTES", 300)
    chunked = shingle_texts(texts)
    assert np.array_equal(whole.shingles.hashes, chunked.shingles.hashes)
    assert np.array_equal(whole.shingles.offsets, chunked.shingles.offsets)
    assert whole.exact_keys == chunked.exact_keys
    assert np.array_equal(whole.num_words, chunked.num_words)


def test_rejects_bad_shingle_size():
    with pytest.raises(ValueError):
        shingle_texts(["x"], 0)


def test_power_tables_grown_by_several_threads_are_never_seen_half_built():
    """Beam runs bundles in threads of one process: a thread must get tables of the size it asked for,
    with the right values, while another thread grows them (an IndexError in `curate dedup` once)."""
    import threading

    import numpy as np

    from filters.dedup import shingles

    reference_pow, reference_inv = shingles._Powers().ensure(1 << 18)
    failures: list[str] = []

    def hammer(powers: shingles._Powers, seed: int) -> None:
        rng = np.random.default_rng(seed)
        for n in sorted(rng.integers(1, 1 << 18, size=40)):
            pw, inv = powers.ensure(int(n))
            if len(pw) != n or len(inv) != n:
                failures.append(f"asked {n}, got {len(pw)}/{len(inv)}")
            elif not (np.array_equal(pw, reference_pow[:n]) and np.array_equal(inv, reference_inv[:n])):
                failures.append(f"wrong values at size {n}")

    for _ in range(5):
        powers = shingles._Powers()
        threads = [threading.Thread(target=hammer, args=(powers, s)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures, failures[:5]
