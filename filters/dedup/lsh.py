"""Banding of MinHash signatures (LSH): parameters, S-curve, and band keys for a batch at once.

With b bands of r rows, two documents of Jaccard similarity s share at least one band (become a
candidate pair) with probability 1 - (1 - s^r)^b (Leskovec, Rajaraman, Ullman, "Mining of Massive
Datasets", ch. 3.4). b and r are chosen by datasketch's `_optimal_param`, which minimizes the
weighted integrals of false positives (below the threshold) and false negatives (above it).
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


@functools.cache
def optimal_params(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimizing the weighted false positive + false negative probability mass."""
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, false_positive_weight, false_negative_weight)
    return int(b), int(r)


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
