"""The collector settings of stage processes: set by the command, inherited by the pool's workers."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = r"""
import gc, os
from pipelines import gc_policy, worker_pool
from pipelines.config import RunnerConfig
gc_policy.apply(freeze=True)
assert gc.get_threshold() == gc_policy.THRESHOLDS
assert gc.get_freeze_count() > 0
assert worker_pool.prefork(RunnerConfig(workers=2, mode="multi_processing"))
print(gc.get_threshold())
worker_pool.stop()
"""


def test_the_settings_apply_and_a_forked_pool_starts_with_them(tmp_path):
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[0] == "(10000, 50, 100)"


def test_a_stage_command_runs_with_the_settings(tmp_path):
    """`curate filter` sets them before the stage runs (its `main` reports what it finds)."""
    script = (
        "import gc, sys\n"
        "import pipelines.stages.filter as stage\n"
        "from pipelines import cli\n"
        "stage.main = lambda args, config, beam_args: print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
        "sys.exit(cli.main(['filter', '--run', sys.argv[1]]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "run")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(10000, 50, 100) True"
