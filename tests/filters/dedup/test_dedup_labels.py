"""Label propagation steps (filters/dedup/labels.py) run without Beam: a dict-based group-by between the
steps, as any MapReduce engine would; the labels equal the components of a union-find."""

from __future__ import annotations

import random
from collections import defaultdict

from filters.dedup.components import Node, UnionFind, neg_score
from filters.dedup.labels import (
    answer,
    ask_label_owner,
    init_state,
    merge_labels,
    merge_residue,
    residual_edges,
    send_labels,
)


def _node(ref: int) -> Node:
    return Node(1, neg_score(None), f"doc-{ref:04d}", ref, b"x" * 16, 0)


def _group(pairs):
    groups = defaultdict(list)
    for k, v in pairs:
        groups[k].append(v)
    return sorted(groups.items(), key=lambda kv: kv[0])


def _flat(fn, elements):
    return [out for e in elements for out in fn(e)]


def _labels(edges: list[tuple[Node, Node]], rounds: int) -> tuple[dict[int, Node], int]:
    adjacent = [(a.ref, (a, b)) for a, b in edges] + [(b.ref, (b, a)) for a, b in edges]
    state = [init_state(g) for g in _group(adjacent)]
    for _ in range(rounds):
        state = [merge_labels(g) for g in _group(_flat(send_labels, state))]
        state = [merge_labels(g) for g in _group(_flat(answer, _group(_flat(ask_label_owner, state))))]
    residue = _flat(residual_edges, _group(_flat(send_labels, state)))
    remap = dict(_flat(merge_residue, _group(residue)))
    return {ref: remap.get(label.ref, label) for ref, (_node_, _nbrs, label) in state}, len(residue)


def _chain_and_random_edges(n: int, seed: int) -> list[tuple[Node, Node]]:
    rng = random.Random(seed)
    nodes = [_node(i) for i in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    edges = [(nodes[order[i]], nodes[order[i + 1]]) for i in range(0, n // 2 - 1)]  # one long chain
    edges += [(nodes[rng.randrange(n)], nodes[rng.randrange(n)]) for _ in range(n // 4)]
    return [(a, b) if a < b else (b, a) for a, b in edges if a.ref != b.ref]


def _expected(edges) -> dict[int, Node]:
    uf = UnionFind()
    for a, b in edges:
        uf.union(a, b)
    return {m.ref: root for root, members in uf.groups().items() for m in members}


def test_labels_are_the_smallest_node_of_each_component():
    edges = _chain_and_random_edges(200, seed=1)
    labels, residue = _labels(edges, rounds=16)
    assert labels == _expected(edges) and residue == 0  # converged within the rounds (a 99-edge chain)


def test_too_few_rounds_are_finished_exactly_by_the_union_find():
    edges = _chain_and_random_edges(200, seed=2)
    labels, residue = _labels(edges, rounds=1)
    assert residue > 0  # a 99-edge chain does not converge in one round ...
    assert labels == _expected(edges)  # ... and the residual union-find still gives exact components
