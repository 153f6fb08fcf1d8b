"""`runner` config + pass-through flags -> Beam PipelineOptions (and a local Dask cluster when asked)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.config import RunnerConfig

log = logging.getLogger(__name__)


def _direct_flags(cfg: RunnerConfig) -> list[str]:
    # FnApiRunner, not DirectRunner (which first tries Prism, a download): see pipelines.direct_runner.
    return [
        "--runner=pipelines.direct_runner.CurateFnApiRunner",
        f"--direct_num_workers={cfg.resolved_workers()}",
        f"--direct_running_mode={cfg.resolved_mode()}",
    ]


@contextlib.contextmanager
def pipeline_options(cfg: RunnerConfig, beam_args: list[str] | None = None) -> Iterator[PipelineOptions]:
    """Options for one pipeline run. For `dask` without an address, a local cluster lives for the block."""
    beam_args = list(beam_args or [])
    explicit_runner = any(a.startswith("--runner") for a in beam_args)
    if explicit_runner:
        yield PipelineOptions(beam_args)
        return
    name = cfg.name.lower()
    if name in ("direct", "directrunner"):
        yield PipelineOptions(_direct_flags(cfg) + beam_args)
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
