from __future__ import annotations

import math
import random

import numpy as np
from datasketch import MinHash

import filters.dedup.minhash as minhash_mod
from filters.dedup.minhash import EMPTY, MinHasher, jaccard_estimate
from filters.dedup.shingles import ShingleBatch, shingle_texts, shingle_words
from tests.filters.dedup.textgen import edit, prose


def _datasketch_exact(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """datasketch's MinHash fed our 32-bit shingle hashes: the affine32 scheme we implement."""
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda x: x, scheme="affine32")
    m.update_batch([int(h) & 0xFFFFFFFF for h in hashes])
    return m.hashvalues


def test_signatures_equal_datasketch_bit_for_bit():
    rng = random.Random(0)
    texts = [prose(rng, n) for n in (5, 30, 200, 900)]
    for num_perm, seed in ((112, 1), (64, 7)):
        batch = shingle_texts(texts).shingles
        sig = MinHasher(num_perm, seed).signatures(batch)
        for d in range(len(texts)):
            assert np.array_equal(sig[d], _datasketch_exact(batch.of(d), num_perm, seed))


def test_blocks_split_documents_correctly(monkeypatch):
    rng = random.Random(1)
    texts = [prose(rng, rng.randint(0, 300)) for _ in range(40)]
    batch = shingle_texts(texts).shingles
    whole = MinHasher(32, 3).signatures(batch)
    monkeypatch.setattr(minhash_mod, "BLOCK_SHINGLES", 37)  # documents now straddle many blocks
    blocked = MinHasher(32, 3).signatures(batch)
    assert np.array_equal(whole, blocked)


def test_empty_documents_get_the_empty_signature():
    batch = ShingleBatch(np.array([5, 6], dtype=np.uint64), np.array([0, 0, 2, 2], dtype=np.int64))
    sig = MinHasher(16, 1).signatures(batch)
    assert (sig[0] == EMPTY).all() and (sig[2] == EMPTY).all() and not (sig[1] == EMPTY).all()


def _true_jaccard(a: str, b: str) -> float:
    sa, sb = set(shingle_words(a)), set(shingle_words(b))
    return len(sa & sb) / len(sa | sb)


def test_estimates_within_expected_error_and_agree_with_datasketch_sha1():
    """Estimates are binomial(num_perm, J) / num_perm: each must be within 4 standard deviations of the
    true Jaccard, and so must datasketch's own MinHash (sha1 hashing of the shingle strings)."""
    rng = random.Random(2)
    num_perm = 256
    hasher = MinHasher(num_perm, 1)
    errors, ds_errors = [], []
    for changes in (0, 2, 5, 10, 20, 40, 80):
        base = prose(rng, 400)
        other = edit(rng, base, changes)
        j = _true_jaccard(base, other)
        sig = hasher.signatures(shingle_texts([base, other]).shingles)
        est = jaccard_estimate(sig[0], sig[1])
        ds = []
        for t in (base, other):
            m = MinHash(num_perm=num_perm, seed=1)
            m.update_batch([" ".join(w.decode() for w in s).encode() for s in set(shingle_words(t))])
            ds.append(m)
        ds_est = ds[0].jaccard(ds[1])
        sd = math.sqrt(max(j * (1 - j), 1e-4) / num_perm)
        assert abs(est - j) <= 4 * sd + 1e-9, (changes, j, est)
        assert abs(ds_est - j) <= 4 * sd + 1e-9, (changes, j, ds_est)
        errors.append(est - j)
        ds_errors.append(ds_est - j)
    # no systematic bias: the mean error is small compared with one standard deviation at J=0.5
    assert abs(np.mean(errors)) < 0.5 / math.sqrt(num_perm)


def test_estimator_unbiased_over_many_pairs():
    """Over 200 random set pairs with J=1/3, the mean estimate is within 3 standard errors of 1/3."""
    rng = np.random.default_rng(5)
    num_perm = 64
    hasher = MinHasher(num_perm, 11)
    estimates = []
    for _ in range(200):
        common = rng.integers(0, 2**63, 100, dtype=np.uint64)
        a = np.concatenate([common, rng.integers(0, 2**63, 100, dtype=np.uint64)])
        b = np.concatenate([common, rng.integers(0, 2**63, 100, dtype=np.uint64)])
        batch = ShingleBatch(np.concatenate([a, b]), np.array([0, 200, 400], dtype=np.int64))
        sig = hasher.signatures(batch)
        estimates.append(jaccard_estimate(sig[0], sig[1]))
    se = math.sqrt((1 / 3) * (2 / 3) / num_perm / len(estimates))
    assert abs(np.mean(estimates) - 1 / 3) < 3 * se
