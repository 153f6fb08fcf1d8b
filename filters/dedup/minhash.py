"""MinHash signatures for a batch of documents, vectorized over all shingles x all permutations.

Scheme (the same as datasketch >= 2.0's default `affine32`, so datasketch's `MinHash` is an exact
reference): each 64-bit shingle hash is cut to its low 32 bits and pre-mixed with MurmurHash3's
32-bit finalizer; permutation k maps it to `a_k * h + b_k mod 2^32` with odd `a_k` (a bijection:
the permutation step cannot create collisions); the signature is the minimum over the document's
shingles, per permutation. Broder (1997), "On the resemblance and containment of documents": the
probability that two signatures agree at one position equals the Jaccard similarity of the sets.

The permutation step is one (permutations x shingles) uint32 matrix per block of `BLOCK_SHINGLES`
shingles of many documents, reduced per document with `np.minimum.reduceat`; no Python loop runs per
shingle or per permutation.
"""

from __future__ import annotations

import numpy as np

from filters.dedup.shingles import ShingleBatch

_U32 = np.uint32
EMPTY = np.iinfo(np.uint32).max  # signature value of a document without shingles

#: Shingles per block of the permutation matrix (112 x 8192 x 4 bytes = 3.7 MB): large enough that
#: numpy's per-call overhead vanishes, small enough to stay in cache. Measured: 4096 and 16384 are slower.
BLOCK_SHINGLES = 8192


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the affine permutations, drawn like datasketch's affine32 scheme for the same seed."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer on a uint32 array (in place)."""
    with np.errstate(over="ignore"):
        h ^= h >> _U32(16)
        h *= _U32(0x85EBCA6B)
        h ^= h >> _U32(13)
        h *= _U32(0xC2B2AE35)
        h ^= h >> _U32(16)
    return h


class MinHasher:
    """Computes `num_perm`-value uint32 signatures; the same (num_perm, seed) gives the same signatures."""

    def __init__(self, num_perm: int = 112, seed: int = 1):
        if num_perm < 1:
            raise ValueError("num_perm must be >= 1")
        self.num_perm = num_perm
        self.seed = seed
        a, b = permutations(num_perm, seed)
        self.a, self.b = a, b
        self._a_col, self._b_col = a[:, None], b[:, None]
        # (permutations x shingles): the inner loops of multiply, add and the per-document minimum then
        # run over contiguous shingles, which is what SIMD wants (the other layout is ~3x slower).
        self._buf = np.empty((num_perm, BLOCK_SHINGLES), dtype=np.uint32)

    def premix(self, shingle_hashes: np.ndarray) -> np.ndarray:
        """64-bit shingle hashes -> the mixed 32-bit values the permutations act on."""
        return fmix32(shingle_hashes.astype(np.uint32))

    def signatures(self, batch: ShingleBatch) -> np.ndarray:
        """uint32 [num_docs, num_perm]; a document without shingles gets all `EMPTY`."""
        n_docs = len(batch)
        sig = np.full((n_docs, self.num_perm), EMPTY, dtype=np.uint32)
        if n_docs == 0 or len(batch.hashes) == 0:
            return sig
        h = self.premix(batch.hashes)
        offsets = batch.offsets
        total = len(h)
        # Inside one block every document is one contiguous segment, so the document indices of a
        # block are unique and `sig[docs] = min(sig[docs], segment minima)` is safe; a document
        # crossing a block boundary is finished by the next block.
        nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
        doc_starts = offsets[nonempty]
        doc_ends = offsets[1:][nonempty]
        for lo in range(0, total, BLOCK_SHINGLES):
            hi = min(lo + BLOCK_SHINGLES, total)
            first = np.searchsorted(doc_ends, lo, side="right")  # first document ending after lo
            last = np.searchsorted(doc_starts, hi, side="left")  # documents starting before hi
            docs = nonempty[first:last]
            seg = np.maximum(doc_starts[first:last], lo) - lo
            m = self._buf[:, : hi - lo]
            np.multiply(self._a_col, h[None, lo:hi], out=m)
            np.add(m, self._b_col, out=m)
            mins = np.minimum.reduceat(m, seg, axis=1).T
            sig[docs] = np.minimum(sig[docs], mins)
        return sig


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Fraction of equal signature positions: an unbiased estimate of the Jaccard similarity."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)
