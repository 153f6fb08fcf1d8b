"""Passes 5 and 6: duplicate edges -> connected components (the message steps of
`filters.dedup.labels`, unrolled on Beam) -> one keep / drop decision per document of this run."""

from __future__ import annotations

import apache_beam as beam

from filters.dedup.components import reason
from filters.dedup.config import DedupConfig
from filters.dedup.labels import (
    answer,
    ask_label_owner,
    init_state,
    merge_labels,
    merge_residue,
    residual_edges,
    send_labels,
)
from pipelines.stages.base import counter
from pipelines.stages.dedup.plan import NAME, file_of, row_of


def _count_residual(element):
    for out in residual_edges(element):
        counter(NAME, "cc_residual_edges").inc()
        yield out


class ConnectedComponents(beam.PTransform):
    """Edges (Node, Node) -> (node, label) for every node of an edge; label = smallest Node of its
    component. Min-label propagation plus pointer jumping (a node adopts its label's label), unrolled
    `rounds` times; then any edge whose ends still disagree goes to a union-find over labels (exact)."""

    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds

    def expand(self, edges):
        state = (
            edges
            | "Adjacent" >> beam.FlatMap(lambda e: [(e[0].ref, (e[0], e[1])), (e[1].ref, (e[1], e[0]))])
            | "GroupAdjacent" >> beam.GroupByKey()
            | "InitLabels" >> beam.Map(init_state)
        )
        for i in range(self.rounds):
            state = (
                state
                | f"Send{i}" >> beam.FlatMap(send_labels)
                | f"GroupSent{i}" >> beam.GroupByKey()
                | f"Merge{i}" >> beam.Map(merge_labels)
                | f"Ask{i}" >> beam.FlatMap(ask_label_owner)
                | f"GroupAsk{i}" >> beam.GroupByKey()
                | f"Answer{i}" >> beam.FlatMap(answer)
                | f"GroupAnswer{i}" >> beam.GroupByKey()
                | f"Jump{i}" >> beam.Map(merge_labels)
            )
        remap = (
            state
            | "SendCheck" >> beam.FlatMap(send_labels)
            | "GroupCheck" >> beam.GroupByKey()
            | "Residual" >> beam.FlatMap(_count_residual)
            | "GroupResidue" >> beam.GroupByKey()
            | "UnionFind" >> beam.FlatMap(merge_residue)
        )
        return state | "FinalLabel" >> beam.Map(
            lambda kv, m: (kv[1][0], m.get(kv[1][2].ref, kv[1][2])), m=beam.pvalue.AsDict(remap)
        )


class Decide(beam.DoFn):
    """(label ref, [(node, label)...]) -> (file key, (row, decision)) for this run's documents."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def process(self, element):
        _, members = element
        members = sorted(members)
        keeper = members[0][1]
        size = len(members)
        counter(NAME, "clusters").inc()
        counter(NAME, "cluster_members").inc(size)
        for node, _ in members:
            if node.tier == 0:
                continue
            if node.ref == keeper.ref:
                yield file_of(node.ref), (row_of(node.ref), ("keep", size))
            else:
                why = reason(node, keeper, self.cfg.exact, self.cfg.url)
                yield file_of(node.ref), (row_of(node.ref), ("drop", why, keeper.id))
