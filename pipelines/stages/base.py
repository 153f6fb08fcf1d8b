"""What every Beam stage shares: temporary output folders, running the pipeline, stats, atomic commit.

A stage module supplies `build(pipeline, out_dir, rejected_dir)` that wires its transforms; this
module runs it on the configured runner, counts what was written, and commits the stage with a
`_SUCCESS` holding the counts, rejected counts by reason, Beam counters, elapsed time and config.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipelines.config import JobConfig
from pipelines.configlib import fingerprint, to_dict
from pipelines.progress import ProgressMonitor
from pipelines.runlayout import RunLayout, count_reasons, count_rows
from pipelines.runners import pipeline_options

log = logging.getLogger(__name__)

METRICS_NAMESPACE = "curate"


class StageError(RuntimeError):
    """A systemic failure of a stage (it produced nothing, a model is missing...)."""


def counter(stage: str, name: str) -> beam.metrics.metric.Metrics.DelegatingCounter:
    return beam.metrics.Metrics.counter(f"{METRICS_NAMESPACE}.{stage}", name)


def beam_counters(result: Any) -> dict[str, int]:
    """Committed Beam counters of our namespace, `stage.name -> value` (empty where a runner has none)."""
    try:
        metrics = result.metrics().query(MetricsFilter())
    except Exception:  # some runners (Dask) do not implement metrics
        return {}
    out: dict[str, int] = {}
    for c in metrics.get("counters", []):
        ns = c.key.metric.namespace
        if not ns.startswith(METRICS_NAMESPACE):
            continue
        value = c.committed if c.committed is not None else c.attempted
        key = f"{ns[len(METRICS_NAMESPACE) + 1 :]}.{c.key.metric.name}"
        out[key] = out.get(key, 0) + int(value or 0)
    return dict(sorted(out.items()))


def run_beam_stage(
    stage: str,
    layout: RunLayout,
    config: JobConfig,
    build: Callable[[beam.Pipeline, Path, Path], None],
    *,
    beam_args: list[str] | None = None,
    inputs: list[str],
    stage_config: Any,
    records_in: Callable[[dict[str, Any]], int] | None = None,
    allow_empty: bool = False,
    extra_stats: Callable[[Path], dict[str, Any]] | None = None,
    total_docs: int | None = None,
    total_bytes: int | None = None,
) -> dict[str, Any]:
    """Run one stage's pipeline into temporary folders and commit it. Returns the `_SUCCESS` data.

    `total_docs` / `total_bytes` (when the stage knows its input size) give the progress bar an ETA.
    """
    commit = layout.begin(stage)
    start = time.monotonic()
    try:
        with (
            ProgressMonitor(layout.root, stage, total_docs=total_docs, total_bytes=total_bytes),
            pipeline_options(config.runner, beam_args, input_docs=total_docs, input_bytes=total_bytes) as options,
        ):
            pipeline = beam.Pipeline(options=options)
            build(pipeline, commit.out, commit.rejected)
            result = pipeline.run()
            try:
                result.wait_until_finish()
            finally:
                client = getattr(result, "client", None)  # Dask: close before its cluster goes
                if client is not None:
                    client.close()
        elapsed = time.monotonic() - start
        out_parts = sorted(commit.out.glob("*.parquet"))
        rej_parts = sorted(commit.rejected.glob("*.parquet"))
        out_rows = count_rows(out_parts)
        rejected = count_reasons(rej_parts)
        counters = beam_counters(result)
        stats: dict[str, Any] = {
            "stage": stage,
            "inputs": inputs,
            "counts": {"out": out_rows, "rejected": sum(rejected.values())},
            "rejected_by_reason": rejected,
            "files": [p.name for p in out_parts],
            "elapsed_s": round(elapsed, 3),
            "beam_counters": counters,
            "config": to_dict(stage_config),
            "runner": to_dict(config.runner),
            "fingerprint": fingerprint({"config": stage_config, "inputs": inputs}),
        }
        stats["counts"]["in"] = records_in(stats) if records_in else out_rows + stats["counts"]["rejected"]
        if extra_stats:
            stats.update(extra_stats(commit.out))
        if out_rows == 0 and not allow_empty:
            raise StageError(
                f"stage '{stage}' produced no output from {len(inputs)} input(s); "
                f"rejected by reason: {rejected or 'none'}. Check the inputs and the config."
            )
        commit.commit(stats)
        log.info("%s: %d out, %d rejected in %.1fs", stage, out_rows, stats["counts"]["rejected"], elapsed)
        return stats
    except BaseException:
        commit.abort()
        raise
