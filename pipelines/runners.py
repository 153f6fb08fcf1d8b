"""`runner` config + pass-through flags -> Beam PipelineOptions (and a local Dask cluster when asked).

Small inputs run in this process. With the direct runner in `mode: auto`, a stage whose input is
below `IN_PROCESS_MAX_DOCS` documents or `IN_PROCESS_MAX_BYTES` input bytes (or the limits the stage
gives for itself: its cost per document decides) runs on Beam's in-memory runner even when several
workers are configured: starting worker processes and moving records between them costs about a
second or two per stage (less with the warm worker pool, pipelines/worker_pool.py), more than a
second core saves on a small input (the sample runs of a config, the many short runs of an
ablation). Outputs are the same on every runner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines import worker_pool
from pipelines.config import RunnerConfig

log = logging.getLogger(__name__)

# The defaults, for stages that cost about a millisecond of CPU per document (dedup, tokenize): with
# the worker pool, two worker processes cost ~1.2-1.8 s more per stage than this process does, so
# they pay off from a few thousand documents. Stages with more work per document give lower limits
# (filter, ingest: measured on the shared web corpus, 2 cores, benchmarks/pipeline.py).
IN_PROCESS_MAX_DOCS = 3_000
IN_PROCESS_MAX_BYTES = 64 * 1024 * 1024


def small_input(docs: int | None = None, nbytes: int | None = None, *, max_docs: int | None = None,
                max_bytes: int | None = None) -> bool:
    """Whether an input of this size (either measure may be unknown) runs best in this process."""
    limits = ((docs, max_docs or IN_PROCESS_MAX_DOCS), (nbytes, max_bytes or IN_PROCESS_MAX_BYTES))
    known = [(v, limit) for v, limit in limits if v is not None]
    return bool(known) and all(v < limit for v, limit in known)


def explicit_runner(beam_args: list[str]) -> bool:
    """Whether Beam's own `--runner` was given: it then takes the stage, and `runner:` is not used."""
    return any(a.startswith("--runner") for a in beam_args)


def _direct_flags(cfg: RunnerConfig, in_process: bool = False) -> list[str]:
    # FnApiRunner, not DirectRunner (which first tries Prism, a download): see pipelines.direct_runner.
    workers, mode = cfg.resolved_workers(), cfg.resolved_mode()
    if in_process and cfg.mode == "auto" and mode != "in_memory":
        log.info("small input: running in this process instead of %d worker processes", workers)
        workers, mode = 1, "in_memory"
    if mode == "multi_processing" and worker_pool.wanted(cfg):
        worker_pool.ensure_started()
    return [
        "--runner=pipelines.direct_runner.CurateFnApiRunner",
        f"--direct_num_workers={workers}",
        f"--direct_running_mode={mode}",
    ]


@contextlib.contextmanager
def pipeline_options(
    cfg: RunnerConfig,
    beam_args: list[str] | None = None,
    *,
    input_docs: int | None = None,
    input_bytes: int | None = None,
    max_docs: int | None = None,
    max_bytes: int | None = None,
) -> Iterator[PipelineOptions]:
    """Options for one pipeline run. For `dask` without an address, a local cluster lives for the block.

    `input_docs` / `input_bytes`: the stage's input size where it knows it; below the limits above (or
    `max_docs` / `max_bytes`, the stage's own) the direct runner in `mode: auto` runs in this process.
    """
    beam_args = list(beam_args or [])
    if explicit_runner(beam_args):
        yield PipelineOptions(beam_args)
        return
    name = cfg.name.lower()
    if name in ("direct", "directrunner"):
        small = small_input(input_docs, input_bytes, max_docs=max_docs, max_bytes=max_bytes)
        yield PipelineOptions(_direct_flags(cfg, small) + beam_args)
    elif name in ("dask", "daskrunner"):
        with _dask_address(cfg) as address:
            flags = [
                "--runner=pipelines.dask_runner.DaskRunner",
                f"--dask_client_address={address}",
            ]
            yield PipelineOptions(flags + beam_args)
    else:
        yield PipelineOptions([f"--runner={cfg.name}", *beam_args])


@contextlib.contextmanager
def _dask_address(cfg: RunnerConfig) -> Iterator[str]:
    if cfg.dask_address:
        yield cfg.dask_address
        return
    from dask.distributed import LocalCluster

    workers = cfg.resolved_workers()
    log.info("starting a local dask.distributed cluster with %d workers", workers)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
