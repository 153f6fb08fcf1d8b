"""Entry point of Beam's worker processes under `--runner direct` with several workers.

With `direct_running_mode=multi_processing`, FnApiRunner starts each worker as
`python -m apache_beam.runners.worker.sdk_worker_main`, which logs a dozen INFO lines at start-up
(control channels, `semi_persistent_directory`, `apitools not found`) straight to the terminal.
`pipelines.direct_runner.CurateFnApiRunner` starts them through this module instead: when the command
line runs without `-v` (`CURATE_QUIET=1` in the environment), a worker writes only warnings and errors,
less that noise; with `-v` it logs as Beam does. Everything else is Beam's own worker.

Beam is imported only after the handler is in place: importing it logs, and configures logging.
"""

from __future__ import annotations

import logging
import os
import sys

#: Set to 1 by the command line unless -v.
QUIET_ENV = "CURATE_QUIET"
#: Set by pipelines.worker_pool in the command's environment: the socket of its warm worker pool.
POOL_ENV = "CURATE_WORKER_POOL"
#: Start-up lines of every Beam worker that say nothing about the user's job.
NOISE = ("apitools not found", "semi_persistent_directory")


def quiet_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    handler.addFilter(lambda r: r.levelno >= logging.WARNING and not any(n in r.getMessage() for n in NOISE))
    logging.getLogger().addHandler(handler)  # Beam's later logging.basicConfig() is then a no-op


def main() -> None:
    pool = os.environ.get(POOL_ENV)
    if pool:  # forked from the command's warm worker pool (pipelines.worker_pool)
        from pipelines.worker_pool import run_in_pool

        status = run_in_pool(pool, sys.argv)
        if status is not None:
            sys.exit(status)
    if os.environ.get(QUIET_ENV) == "1":
        quiet_logging()
    from pipelines import gc_policy

    gc_policy.apply()
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
