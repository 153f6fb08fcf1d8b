"""Banding of MinHash signatures (LSH): parameters, S-curve, and band keys for a batch at once.

With b bands of r rows, two documents of Jaccard similarity s share at least one band (become a
candidate pair) with probability 1 - (1 - s^r)^b (Leskovec, Rajaraman, Ullman, "Mining of Massive
Datasets", ch. 3.4). b and r are chosen as datasketch's `_optimal_param` chooses them: the pair that
minimizes the weighted integrals of false positives (below the threshold) and false negatives (above
it), the first such pair in the order b = 1.., r = 1...
"""

from __future__ import annotations

import functools

import numpy as np

from filters.dedup.shingles import fmix64

_U64 = np.uint64

# Odd multipliers combining the r values of a band into one 64-bit key (fixed: stored signatures are
# banded again by later runs with --against, and must land in the same buckets).
_ROW_MULTIPLIERS = np.random.Generator(np.random.PCG64(0xBA4D5)).integers(
    0, 1 << 63, size=1024, dtype=np.uint64
) * _U64(2) + _U64(1)


# Points of the Simpson's rule integration in `optimal_params` (odd). datasketch integrates each pair
# with scipy's adaptive `quad`; 1,025 fixed points give the same (b, r) on every setting the tests
# compare, and on all 352 settings compared when this was written (thresholds 0.5-0.99 by 0.05 and
# 0.99, 16-256 permutations, four weightings; 257 points already did), in 14 ms for 112 permutations,
# where importing datasketch and scipy alone costs ~0.4 s of a dedup run's driver.
_SIMPSON_POINTS = 1025


@functools.cache
def optimal_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative probability mass."""
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([b for b, _ in pairs], dtype=np.float64)[:, None]
    rows = np.array([r for _, r in pairs], dtype=np.float64)[:, None]
    weights = np.ones(_SIMPSON_POINTS)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0

    def integral(lo: float, hi: float, f) -> np.ndarray:
        s = np.linspace(lo, hi, _SIMPSON_POINTS)[None, :]
        return (f(s) * weights).sum(axis=1) * (hi - lo) / (3 * (_SIMPSON_POINTS - 1))

    false_pos = integral(0.0, threshold, lambda s: 1.0 - (1.0 - s**rows) ** bands)  # P(candidate), s < t
    false_neg = integral(threshold, 1.0, lambda s: (1.0 - s**rows) ** bands)  # P(not candidate), s > t
    best = int(np.argmin(false_pos * false_positive_weight + false_neg * false_negative_weight))  # the first
    return pairs[best]


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """P(two documents with Jaccard s share at least one band)."""
    return 1.0 - (1.0 - np.power(s, rows)) ** bands


def s_curve(bands: int, rows: int, points: tuple[float, ...] = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)) -> str:
    """A printable table of the S-curve at a few similarities."""
    lines = [f"LSH S-curve (b={bands} bands x r={rows} rows; threshold of the curve ~(1/b)^(1/r) = "
             f"{(1 / bands) ** (1 / rows):.3f})", "  jaccard  P(candidate)"]
    lines += [f"  {s:7.2f}  {candidate_probability(s, bands, rows):12.4f}" for s in points]
    return "\n".join(lines)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 [num_docs, bands]: one key per band; equal bands give equal keys (unequal ones collide
    with probability ~2^-64, and a collision only adds a candidate pair that verification rejects)."""
    n, num_perm = signatures.shape
    if bands * rows > num_perm:
        raise ValueError(f"bands x rows = {bands * rows} exceeds num_perm = {num_perm}")
    if rows > len(_ROW_MULTIPLIERS):
        raise ValueError(f"rows must be <= {len(_ROW_MULTIPLIERS)}")
    cube = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    cube *= _ROW_MULTIPLIERS[:rows]
    keys = cube.sum(axis=2, dtype=np.uint64)
    keys += np.arange(bands, dtype=np.uint64)  # different bands never share keys
    return fmix64(keys)
