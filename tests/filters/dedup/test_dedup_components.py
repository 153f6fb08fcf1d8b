from __future__ import annotations

import numpy as np

from filters.dedup.components import Node, UnionFind, bucket_pairs, neg_score, reason, runs, star_edges


def _node(id_: str, ref: int, score=None, tier=1, exact=b"x" * 16, url=0) -> Node:
    return Node(tier, neg_score(score), id_, ref, exact, url)


def test_runs_of_equal_keys():
    starts, ends = runs(np.array([1, 1, 2, 3, 3, 3, 4], dtype=np.uint64))
    assert starts.tolist() == [0, 3] and ends.tolist() == [2, 6]
    assert runs(np.array([], dtype=np.uint64))[0].size == 0
    s, e = runs(np.array([b"a", b"a", b"b"], dtype="S1"))
    assert s.tolist() == [0] and e.tolist() == [2]
    s, e = runs(np.array([1, 1, 1, 2]), np.array([5, 5, 6, 6]))  # rows (1,5) (1,5) (1,6) (2,6)
    assert s.tolist() == [0] and e.tolist() == [2]


def test_bucket_pairs_all_pairs_collapse_and_cap():
    u = np.uint64
    keys = np.array([7, 7, 7, 9, 9, 5], dtype=u)
    refs = np.array([30, 10, 20, 40, 41, 50], dtype=np.int64)
    collapse = np.array([1, 2, 3, 4, 4, 6], dtype=u)  # 40 and 41 are exact copies of each other
    pairs, stats = bucket_pairs(keys, refs, collapse, max_bucket_size=10)
    assert sorted(map(tuple, pairs.tolist())) == [(10, 20), (10, 30), (20, 30)]
    assert stats.buckets == 1 and stats.oversized == 0

    keys = np.full(6, 3, dtype=u)
    refs = np.arange(6, dtype=np.int64)
    pairs, stats = bucket_pairs(keys, refs, refs.astype(u), max_bucket_size=3)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 2)]
    assert stats.oversized == 1 and stats.beyond_cap == 3 and stats.pairs == 6


def test_keeper_order_score_then_id():
    low = _node("a", 1, score=0.1)
    high = _node("b", 2, score=0.9)
    none = _node("0", 3, score=None)
    nan = _node("00", 4, score=float("nan"))
    assert min(low, high, none, nan) is high
    assert min(low, none) is low  # a missing score ranks below any score
    assert min(_node("b", 1), _node("a", 2)).id == "a"
    prior = _node("z", 9, tier=0)
    assert min(high, prior) is prior  # a previous run's document always stays


def test_star_edges_link_members_to_the_best():
    a, b, c = _node("a", 1), _node("b", 2), _node("c", 3, score=1.0)
    edges = star_edges([[a, b, c]])
    assert edges == [(c, a), (c, b)]


def test_union_find_smallest_representative():
    uf = UnionFind()
    uf.union(5, 3)
    uf.union(7, 9)
    uf.union(9, 3)
    uf.union(1, 2)
    assert uf.groups() == {1: [1, 2], 3: [3, 5, 7, 9]}


def test_reason_is_the_relation_to_the_keeper():
    keeper = _node("k", 1, exact=b"e" * 16, url=5)
    assert reason(_node("x", 2, exact=b"e" * 16, url=6), keeper) == "exact_duplicate"
    assert reason(_node("x", 2, exact=b"f" * 16, url=5), keeper) == "url_duplicate"
    assert reason(_node("x", 2, exact=b"f" * 16, url=0), keeper) == "near_duplicate"
    assert reason(_node("x", 2, exact=b"e" * 16, url=5), keeper, exact_on=False) == "url_duplicate"
    assert reason(_node("x", 2, exact=b"f" * 16, url=0), _node("k", 1, exact=b"g" * 16)) == "near_duplicate"
