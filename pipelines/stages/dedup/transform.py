"""The dedup PTransform: wiring only (each step lives in its own module)."""

from __future__ import annotations

import apache_beam as beam
import numpy as np

from pipelines.stages.dedup.buckets import PAIRS, STAR, GroupKeys
from pipelines.stages.dedup.components import ConnectedComponents, Decide
from pipelines.stages.dedup.output import WriteFile
from pipelines.stages.dedup.plan import Plan, SourceFile
from pipelines.stages.dedup.sketch import Members, SketchFile, repeated_keys
from pipelines.stages.dedup.verify import VerifyPairs


class Dedup(beam.PTransform):
    """Source files -> (rejected, edges); kept documents and signatures are written file by file."""

    def __init__(self, plan: Plan, current: list[SourceFile], prior: list[SourceFile]):
        super().__init__()
        self.plan, self.current, self.prior = plan, current, prior

    def expand(self, pbegin):
        plan, cfg = self.plan, self.plan.cfg
        files = (
            pbegin
            | "ListFiles" >> beam.Create(self.current + self.prior)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        repeated = (
            files
            | "Sketch" >> beam.ParDo(SketchFile(plan))
            | "GroupKeyColumns" >> beam.GroupByKey()
            | "RepeatedKeys" >> beam.FlatMap(repeated_keys)
            | "GroupRepeated" >> beam.GroupByKey()
            | "MergeRepeated" >> beam.MapTuple(lambda k, arrays: (k, np.sort(np.concatenate(list(arrays)))))
        )
        grouped = (
            files
            | "Members" >> beam.ParDo(Members(plan), repeated=beam.pvalue.AsDict(repeated))
            | "GroupKeys" >> beam.GroupByKey()
            | "Buckets" >> beam.ParDo(GroupKeys(plan))
        )
        stars = (
            grouped
            | "Stars" >> beam.Filter(lambda t: t[0] == STAR)
            | "StarEdges" >> beam.Map(lambda t: t[1])
        )
        edge_sets = [stars]
        if cfg.near:
            edge_sets.append(
                grouped
                | "Pairs" >> beam.Filter(lambda t: t[0] == PAIRS)
                | "PairArrays" >> beam.Map(lambda t: t[1])
                | "GroupPairs" >> beam.GroupByKey()
                | "Verify" >> beam.ParDo(VerifyPairs(plan, self.current + self.prior))
            )
        edges = edge_sets | "AllEdges" >> beam.Flatten()
        decisions = (
            edges
            | "Nodes" >> beam.Map(lambda e: (e[0], e[1]))
            | "Components" >> ConnectedComponents(cfg.cc_rounds)
            | "ByLabel" >> beam.Map(lambda nl: (nl[1].ref, nl))
            | "GroupClusters" >> beam.GroupByKey()
            | "Decide" >> beam.ParDo(Decide(cfg))
            | "GroupDecisions" >> beam.GroupByKey()
            | "DecisionMaps" >> beam.MapTuple(lambda k, ds: (k, dict(ds)))
        )
        current = pbegin | "CurrentFiles" >> beam.Create([(f.key, f) for f in self.current])
        rejected = (
            {"file": current, "dec": decisions}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(WriteFile(plan))
        )
        return rejected, edges
