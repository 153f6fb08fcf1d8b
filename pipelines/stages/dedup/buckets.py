"""Pass 3: each (kind, band, partition) group -> star edges (exact / URL groups) or candidate pairs
(LSH band groups), the per-key work done on sorted numpy arrays."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import numpy as np

from filters.dedup.components import bucket_pairs, runs, star_edges
from pipelines.stages.base import counter
from pipelines.stages.dedup.plan import NAME, PRIOR_FILE_BIT, ROW_BITS, NodeArrays, Plan

STAR, PAIRS = "s", "p"


class GroupKeys(beam.DoFn):
    """One (kind, band, partition) group: exact / URL groups give star edges (`("s", edge)`); band groups
    give candidate pairs as arrays keyed by a partition of the pair (`("p", (partition, pairs))`).
    Tagged tuples rather than a multi-output ParDo: Beam's DaskRunner does not route tagged outputs."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, element: tuple[tuple[str, int, int], Iterable[Any]]):
        (kind, _band, _p), items = element
        items = list(items)
        if kind in ("x", "u"):
            for edge in self._stars(kind, NodeArrays.concat(items)):
                yield STAR, edge
            return
        keys = np.concatenate([i[0] for i in items])
        refs = np.concatenate([i[1] for i in items])
        collapse = np.concatenate([i[2] for i in items])
        pairs, stats = bucket_pairs(keys, refs, collapse, self.plan.cfg.max_bucket_size)
        counter(NAME, "lsh_buckets").inc(stats.buckets)
        counter(NAME, "lsh_buckets_oversized").inc(stats.oversized)
        counter(NAME, "lsh_members_beyond_cap").inc(stats.beyond_cap)
        # pairs between two prior documents are not this run's business
        prior = PRIOR_FILE_BIT << ROW_BITS
        pairs = pairs[((pairs[:, 0] & prior) == 0) | ((pairs[:, 1] & prior) == 0)]
        if len(pairs):
            part = (pairs[:, 0] * 0x9E3779B1 + pairs[:, 1]) % self.plan.cfg.partitions
            for q in np.unique(part).tolist():
                yield PAIRS, (q, pairs[part == q])

    def _stars(self, kind: str, nodes: NodeArrays):
        keys = (nodes.exact[:, 0], nodes.exact[:, 1]) if kind == "x" else (nodes.url,)
        order = np.lexsort((nodes.refs, *reversed(keys)))
        starts, ends = runs(*(k[order] for k in keys))
        groups = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            members = [nodes.node(int(i)) for i in order[s:e]]
            if any(m.tier == 1 for m in members):
                groups.append(members)
        edge_kind = "exact" if kind == "x" else "url"
        for a, b in star_edges(groups):
            counter(NAME, f"edges_{edge_kind}").inc()
            yield a, b, edge_kind, None
