"""The collector settings of stage processes: set by the command, inherited by the pool's workers."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = r"""
import gc
from pipelines import gc_policy
before = gc.get_threshold()
gc_policy.apply(freeze=True)
print(before != gc.get_threshold() == gc_policy.THRESHOLDS, gc.get_freeze_count() > 0)
"""


def test_the_settings_apply():
    """(The pool's workers having them: tests/pipelines/test_worker_pool.py.)"""
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "True True"


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
