"""Connected components by min-label propagation with pointer jumping, written as steps over keyed
messages so that any MapReduce engine can run them: group one step's output by key, hand each
(key, values) group to the next step. `pipelines/stages/dedup/components.py` runs them on Beam.

State of a node: (ref, (node, neighbour refs, label)); the label is the smallest node known to be in
the same component, i.e. the keeper once converged (nodes are ordered like `components.Node`). One
round is: send labels to neighbours, keep the smallest (`merge_labels`); ask the owner of one's label
for its label and adopt it (pointer jumping: `ask_label_owner`, `answer`, `merge_labels`). Labels that
still disagree across an edge after the last round are merged exactly by a union-find
(`residual_edges`, `merge_residue`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from filters.dedup.components import UnionFind


def init_state(element: tuple[int, Iterable[tuple[Any, Any]]]) -> tuple[int, tuple[Any, tuple[int, ...], Any]]:
    """(ref, [(node, neighbour)...]) -> the node's state, labelled with the smallest of it and its neighbours."""
    ref, pairs = element
    pairs = list(pairs)
    node = pairs[0][0]
    others = [o for _, o in pairs]
    return ref, (node, tuple(sorted({o.ref for o in others})), min([node, *others]))


def send_labels(element) -> Iterator[tuple[int, tuple[str, Any]]]:
    """A node's state to itself ("s") and its label to every neighbour ("l")."""
    ref, (node, nbrs, label) = element
    yield ref, ("s", (node, nbrs, label))
    for n in nbrs:
        yield n, ("l", label)


def merge_labels(element):
    """(ref, [state, labels...]) -> the state with the smallest label seen."""
    ref, msgs = element
    state, best = None, None
    for tag, v in msgs:
        if tag == "s":
            state = v
        elif best is None or v < best:
            best = v
    assert state is not None, "label sent to a node without state"
    node, nbrs, label = state
    return ref, (node, nbrs, label if best is None or label < best else best)


def ask_label_owner(element):
    """Pointer jumping, step 1: a node asks the owner of its label ("q") for that owner's label."""
    ref, state = element
    yield ref, ("s", state)
    label = state[2]
    if label.ref != ref:
        yield label.ref, ("q", ref)


def answer(element):
    """Pointer jumping, step 2: the owner sends its own label to every node that asked."""
    ref, msgs = element
    state, askers = None, []
    for tag, v in msgs:
        if tag == "s":
            state = v
        else:
            askers.append(v)
    assert state is not None
    yield ref, ("s", state)
    for q in askers:
        yield q, ("l", state[2])


def residual_edges(element):
    """After `send_labels` of the final states: (0, (own label, neighbour's label)) for every
    neighbour label that still differs from the node's own (normally none)."""
    ref, msgs = element
    own, seen = None, set()
    for tag, v in msgs:
        if tag == "s":
            own = v[2]
        else:
            seen.add(v)
    for other in seen:
        if other != own:
            yield 0, (own, other)


def merge_residue(element):
    """All label pairs still joined by an edge -> (label ref, final label) for every merged label."""
    _, pairs = element
    uf = UnionFind()
    for a, b in pairs:
        uf.union(a, b)
    for root, members in uf.groups().items():
        for m in members:
            if m != root:
                yield m.ref, root
