"""Pure helpers between LSH buckets and clusters: runs of equal keys, candidate pairs inside a bucket,
star edges of exact groups, the keeper order, and a union-find for the last few unmerged labels.

The Beam stage groups keys by (band, partition) and calls these on numpy arrays; the same functions
are what the unit tests exercise on hand-made sets.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, NamedTuple

import numpy as np


class Node(NamedTuple):
    """A document as the cluster step sees it. Tuple order IS the keeper order: the smallest Node of a
    cluster is kept. `tier` 0 = a document of a previous run (--against), always kept over this run's;
    then the highest quality score (`neg_score` = -score; +inf without a score), then the smallest id;
    `ref` (unique) settles the rest."""

    tier: int
    neg_score: float
    id: str
    ref: int
    exact: bytes  # xxh3-128 of the normalized text
    url: int  # 64-bit key of the normalized URL, 0 without one


def neg_score(score: Any) -> float:
    """Sort key of a quality score: higher scores first, missing / NaN scores last."""
    if score is None:
        return float("inf")
    s = float(score)
    return float("inf") if s != s else -s


def runs(*keys: np.ndarray, min_len: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of equal rows of length >= min_len in sorted key columns (any dtype)."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    differs = np.zeros(n - 1, dtype=bool)
    for k in keys:
        differs |= k[1:] != k[:-1]
    change = np.flatnonzero(differs) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    ends = np.concatenate([change, [n]]).astype(np.int64)
    keep = ends - starts >= min_len
    return starts[keep], ends[keep]


class BucketStats(NamedTuple):
    buckets: int  # buckets with at least two distinct documents
    oversized: int  # buckets larger than max_bucket_size
    beyond_cap: int  # members of oversized buckets only paired with the bucket's first member
    pairs: int


def bucket_pairs(
    keys: np.ndarray, refs: np.ndarray, collapse: np.ndarray, max_bucket_size: int
) -> tuple[np.ndarray, BucketStats]:
    """Candidate pairs (ref_small, ref_large) from LSH buckets.

    `keys` are band keys, `refs` document references, `collapse` a per-document key (the exact-duplicate
    hash) under which documents are interchangeable: of those, only the smallest ref enters a bucket,
    since exact duplicates are linked by their own edges. A bucket of m <= max_bucket_size documents
    gives all m(m-1)/2 pairs; a larger one gives all pairs among its first max_bucket_size members (by
    ref) and pairs every further member with the first one only, so a bucket of a huge boilerplate
    cluster costs O(m) verifications instead of O(m^2).
    """
    order = np.lexsort((refs, collapse, keys))
    k, r, c = keys[order], refs[order], collapse[order]
    # drop repeated (key, collapse) entries: keep the first (smallest ref)
    first = np.ones(len(k), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (c[1:] != c[:-1])
    k, r = k[first], r[first]
    starts, ends = runs(k)
    out: list[np.ndarray] = []
    oversized = beyond = 0
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        members = np.sort(r[s:e])
        m = len(members)
        capped = members[:max_bucket_size]
        i, j = np.triu_indices(len(capped), k=1)
        out.append(np.stack([capped[i], capped[j]], axis=1))
        if m > max_bucket_size:
            oversized += 1
            rest = members[max_bucket_size:]
            beyond += len(rest)
            out.append(np.stack([np.full(len(rest), members[0]), rest], axis=1))
    pairs = np.concatenate(out) if out else np.zeros((0, 2), dtype=refs.dtype)
    return pairs, BucketStats(len(starts), oversized, beyond, len(pairs))


def star_edges(groups: Iterable[list[Node]]) -> list[tuple[Node, Node]]:
    """Edges (keeper-candidate, member) linking each group of interchangeable documents to its best one."""
    edges: list[tuple[Node, Node]] = []
    for group in groups:
        best = min(group)
        edges.extend((best, n) for n in sorted(group) if n is not best and n.ref != best.ref)
    return edges


class UnionFind:
    """Union-find whose representative of a set is always its smallest element (deterministic)."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if rb < ra:  # type: ignore[operator]
            ra, rb = rb, ra
        self.parent[rb] = ra

    def groups(self) -> dict[Hashable, list[Hashable]]:
        out: dict[Hashable, list[Hashable]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return {k: sorted(v) for k, v in sorted(out.items())}  # type: ignore[type-var]


def reason(node: Node, keeper: Node, exact_on: bool = True, url_on: bool = True) -> str:
    """Why `node` goes in favour of `keeper` (same cluster): the strongest relation between the two."""
    if exact_on and node.exact == keeper.exact:
        return "exact_duplicate"
    if url_on and node.url != 0 and node.url == keeper.url:
        return "url_duplicate"
    return "near_duplicate"
