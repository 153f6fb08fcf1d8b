"""Exact Jaccard similarity of shingle sets: the check every LSH candidate pair must pass.

LSH only proposes candidates; a pair becomes a duplicate edge only if the Jaccard similarity of the
two documents' shingle sets (sorted unique 64-bit hashes) reaches the threshold. This is what keeps
false positives of the banding, and chains through them, out of the clusters.
"""

from __future__ import annotations

import numpy as np


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A & B| / |A | B| of two sorted arrays of unique values (0.0 when both are empty)."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
