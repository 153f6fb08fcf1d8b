"""Beam's DaskRunner, fixed for pipelines that branch.

Beam's runner (2.77) computes only the last Dask bag it translated, assuming it is connected to the
whole graph; in a pipeline with several outputs (documents and rejected records) every other branch
is silently skipped. This runner computes every leaf bag, i.e. every transform whose output nothing
else consumes, in one Dask graph so shared upstream work runs once.
"""

from __future__ import annotations

import apache_beam

#: The Beam versions whose DaskRunner internals this module patches and is tested with (pyproject.toml
#: pins the same range). Another version may have fixed or moved them: refuse rather than guess.
TESTED_BEAM = ("2.77.",)

if not apache_beam.__version__.startswith(TESTED_BEAM):
    raise ImportError(
        f"pipelines.dask_runner patches Beam's DaskRunner internals as of apache-beam {', '.join(TESTED_BEAM)}x; "
        f"this environment has apache-beam {apache_beam.__version__}. Install apache-beam>=2.77,<2.78 "
        "(pyproject.toml) or use another runner."
    )

import apache_beam.runners.dask.transform_evaluator as _evaluator  # noqa: E402
from apache_beam.pipeline import PipelineVisitor  # noqa: E402
from apache_beam.runners.dask.dask_runner import DaskOptions, DaskRunnerResult, dask_overrides  # noqa: E402
from apache_beam.runners.dask.dask_runner import DaskRunner as BeamDaskRunner  # noqa: E402

_apply_dofn_to_bundle = _evaluator.apply_dofn_to_bundle


def _apply_dofn_to_bundle_once(items, args, kwargs, receivers):
    """Beam's evaluator keeps a DoFn's outputs in `receivers.values` across calls, so a bag computed
    twice in one worker (a side input recomputing its upstream) emits its outputs twice. Clear them
    around each bundle (safe: our Dask workers run one thread each)."""
    receivers.values.clear()
    try:
        return _apply_dofn_to_bundle(items, args, kwargs, receivers)
    finally:
        receivers.values.clear()


_evaluator.apply_dofn_to_bundle = _apply_dofn_to_bundle_once


class _ConsumerVisitor(PipelineVisitor):
    def __init__(self) -> None:
        self.consumed: set[int] = set()

    def visit_transform(self, node) -> None:
        for pv in node.inputs:
            producer = getattr(pv, "producer", None)
            if producer is not None:
                self.consumed.add(id(producer))
        for si in node.side_inputs:
            producer = getattr(si.pvalue, "producer", None)
            if producer is not None:
                self.consumed.add(id(producer))


class DaskRunner(BeamDaskRunner):
    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist

        dask_options = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(dask_overrides())
        bags_visitor = self.to_dask_bag_visitor(bag_kwargs)
        pipeline.visit(bags_visitor)
        consumers = _ConsumerVisitor()
        pipeline.visit(consumers)
        leaves = [bag for node, bag in bags_visitor.bags.items() if id(node) not in consumers.consumed]
        graph = dask.optimize(*leaves)
        futures = client.compute(list(graph))
        return DaskRunnerResult(client, futures)
