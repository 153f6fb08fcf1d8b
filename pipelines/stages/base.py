"""What every Beam stage shares: temporary output folders, running the pipeline, stats, atomic commit.

A stage module supplies `build(pipeline, out_dir, rejected_dir)` that wires its transforms; this
module runs it on the configured runner, counts what was written, and commits the stage with a
`_SUCCESS` holding the counts, rejected counts by reason, Beam counters, elapsed time and config.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipelines import storage
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


@dataclass(frozen=True)
class BeamStage:
    """What one stage hands to `run_beam_stage`.

    folder       where it commits under RUN (the registry's `Stage.folder`)
    build        wires its transforms: `build(pipeline, out_dir, rejected_dir)`; wiring only. The folders
                 are `str`s: local paths, or URLs for a run on an object store (join names with
                 `storage.join`; workers write there directly through `AtomicParquetWriter`)
    inputs       what it read, with the fingerprints of those inputs (kept in `_SUCCESS`)
    config       its resolved config (kept in `_SUCCESS`, part of its fingerprint)
    finish       work after the pipeline, on the written output and rejected folders (train a tokenizer,
                 write a manifest, count what was rejected...); returns extra `_SUCCESS` fields
    allow_empty  a stage that may legitimately write nothing
    total_docs / total_bytes   the input size, when known: the progress bar's ETA, and whether the stage
                 runs in this process (pipelines.runners)
    in_process_max_docs / in_process_max_bytes   below these the stage runs in this process (None: the
                 runners' defaults, for about a millisecond of work per document)
    """

    folder: str
    build: Callable[[beam.Pipeline, str, str], None]
    inputs: list[str]
    config: Any
    finish: Callable[[str, str], dict[str, Any]] | None = None
    allow_empty: bool = False
    total_docs: int | None = None
    total_bytes: int | None = None
    in_process_max_docs: int | None = None
    in_process_max_bytes: int | None = None


def run_beam_stage(stage: BeamStage, layout: RunLayout, config: JobConfig,
                   beam_args: list[str] | None = None) -> dict[str, Any]:
    """Build, run, finish, commit. Returns the `_SUCCESS` data."""
    commit = layout.begin(stage.folder)
    try:
        start = time.monotonic()
        result = _run_pipeline(stage, layout, config, beam_args, commit.out, commit.rejected)
        stats = _stats(stage, config, result, commit.out, commit.rejected, time.monotonic() - start)
        if stage.finish:
            stats.update(stage.finish(commit.out, commit.rejected))
        commit.commit(stats)
        log.info("%s: %d out, %d rejected in %.1fs", stage.folder, stats["counts"]["out"],
                 stats["counts"]["rejected"], stats["elapsed_s"])
        return stats
    except BaseException:
        commit.abort()
        raise


def _run_pipeline(stage: BeamStage, layout: RunLayout, config: JobConfig, beam_args: list[str] | None,
                  out: str, rejected: str) -> Any:
    with (
        ProgressMonitor(layout.progress_root(), stage.folder, total_docs=stage.total_docs, total_bytes=stage.total_bytes,
                        publish=layout.join(".progress", stage.folder) if layout.remote else None),
        pipeline_options(config.runner, beam_args, input_docs=stage.total_docs, input_bytes=stage.total_bytes,
                         max_docs=stage.in_process_max_docs, max_bytes=stage.in_process_max_bytes) as options,
    ):
        pipeline = beam.Pipeline(options=options)
        stage.build(pipeline, out, rejected)
        result = pipeline.run()
        try:
            result.wait_until_finish()
        finally:
            client = getattr(result, "client", None)  # Dask: close before its cluster goes
            if client is not None:
                client.close()
    return result


def _stats(stage: BeamStage, config: JobConfig, result: Any, out: str, rejected_dir: str,
           elapsed: float) -> dict[str, Any]:
    """The `_SUCCESS` data, counted from the written files (the attempt's own folder: nothing else
    writes there); fails the stage when it wrote nothing. The commit adds the list of files."""
    out_parts = storage.glob(storage.join(out, "*.parquet"))
    rejected = count_reasons(storage.glob(storage.join(rejected_dir, "*.parquet")))
    out_rows = count_rows(out_parts)
    n_rejected = sum(rejected.values())
    if out_rows == 0 and not stage.allow_empty:
        raise StageError(
            f"stage '{stage.folder}' produced no output from {len(stage.inputs)} input(s); "
            f"rejected by reason: {rejected or 'none'}. Check the inputs and the config."
        )
    return {
        "stage": stage.folder,
        "inputs": stage.inputs,
        # documents in: the input size when the stage knows it (a stage that removes spans rejects several
        # records for one kept document), else what it wrote and rejected
        "counts": {"out": out_rows, "rejected": n_rejected,
                   "in": stage.total_docs if stage.total_docs is not None else out_rows + n_rejected},
        "rejected_by_reason": rejected,
        "elapsed_s": round(elapsed, 3),
        "beam_counters": beam_counters(result),
        "config": to_dict(stage.config),
        "runner": to_dict(config.runner),
        "fingerprint": fingerprint({"config": stage.config, "inputs": stage.inputs}),
    }
