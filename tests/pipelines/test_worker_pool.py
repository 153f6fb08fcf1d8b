"""The warm worker pool: Beam's worker processes are forked from one process kept for the command."""

from __future__ import annotations

import os

import apache_beam as beam

from pipelines import storage, worker_pool
from pipelines.config import RunnerConfig
from pipelines.runners import pipeline_options


class _WhoRuns(beam.DoFn):
    """(the element, the parent of the worker process, the storage option the worker sees)."""

    def process(self, x: int):
        yield x, os.getppid(), storage.current_config().max_retries


def test_workers_are_forked_from_the_pool_with_this_stage_s_environment(tmp_path):
    out = tmp_path / "who"
    out.mkdir()

    class Record(beam.DoFn):
        def process(self, row):
            (out / f"{row[0]}").write_text(f"{row[1]} {row[2]}")

    cfg = RunnerConfig(workers=2, mode="multi_processing")
    try:
        for round_ in range(2):  # two pipelines, as two stages of one `curate run`: one pool
            # the second round's option is set after the pool started: its children still see it
            storage.configure(storage.StorageConfig(max_retries=7 + round_))
            with pipeline_options(cfg, input_docs=1_000_000) as options:
                p = beam.Pipeline(options=options)
                _ = p | beam.Create(list(range(20))) | beam.Reshuffle() | beam.ParDo(_WhoRuns()) \
                    | beam.ParDo(Record())
                p.run().wait_until_finish()
            pool = worker_pool._pool
            assert pool is not None and pool.poll() is None
            seen = [f.read_text().split() for f in out.iterdir()]
            assert len(seen) == 20
            assert {int(parent) for parent, _ in seen} == {pool.pid}  # forked by the pool
            assert {int(retries) for _, retries in seen} == {7 + round_}
            for f in out.iterdir():
                f.unlink()
    finally:
        storage.configure(storage.StorageConfig())
        pool = worker_pool._pool
        worker_pool.stop()
    assert pool is not None and pool.poll() is not None  # stopped with the command
    assert worker_pool.POOL_ENV not in os.environ


def test_without_the_pool_workers_are_started_as_before(tmp_path):
    cfg = RunnerConfig(workers=2, mode="multi_processing", worker_pool=False)
    out = tmp_path / "who"
    out.mkdir()

    class Record(beam.DoFn):
        def process(self, row):
            (out / f"{row[0]}").write_text(str(row[1]))

    with pipeline_options(cfg, input_docs=1_000_000) as options:
        p = beam.Pipeline(options=options)
        _ = p | beam.Create(list(range(10))) | beam.Reshuffle() | beam.ParDo(_WhoRuns()) | beam.ParDo(Record())
        p.run().wait_until_finish()
    assert worker_pool._pool is None
    assert len(list(out.iterdir())) == 10


_PREFORK_SCRIPT = r"""
import gc, os, sys, threading
import apache_beam as beam
from pipelines import gc_policy, worker_pool
from pipelines.config import RunnerConfig
from pipelines.runners import pipeline_options

out = sys.argv[1]

class Record(beam.DoFn):
    def process(self, x):
        with open(os.path.join(out, str(x)), "w") as f:
            f.write(f"{os.getppid()} {gc.get_threshold() == gc_policy.THRESHOLDS} {gc.get_freeze_count() > 0}")

cfg = RunnerConfig(workers=2, mode="multi_processing")
assert worker_pool.prefork(cfg), "no pool forked"
pool = worker_pool._pool
assert not worker_pool.prefork(cfg), "a second pool"
with pipeline_options(cfg, input_docs=1_000_000) as options:
    p = beam.Pipeline(options=options)
    _ = p | beam.Create(list(range(10))) | beam.Reshuffle() | beam.ParDo(Record())
    p.run().wait_until_finish()
assert worker_pool._pool is pool, "ensure_started replaced the forked pool"
print(pool.pid)
worker_pool.stop()
assert pool.poll() is not None, "the pool outlived stop()"
t = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
t.start()
assert not worker_pool.prefork(cfg), "forked with another thread running"
"""


def test_a_pool_forked_from_the_command_serves_its_workers(tmp_path):
    """`prefork` (what `curate` does once its config is read): the workers are forked from that pool."""
    import subprocess
    import sys

    out = tmp_path / "who"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", _PREFORK_SCRIPT, str(out)], capture_output=True, text=True,
                          timeout=300, cwd=os.getcwd())
    assert proc.returncode == 0, proc.stderr[-3000:]
    pool_pid = int(proc.stdout.split()[-1])
    assert sorted(int(f.name) for f in out.iterdir()) == list(range(10))
    # forked by that pool, with the stage processes' collector settings (pipelines/gc_policy.py)
    assert {f.read_text() for f in out.iterdir()} == {f"{pool_pid} True True"}


def test_prefork_only_where_stages_may_want_workers():
    for cfg in (RunnerConfig(workers=1), RunnerConfig(workers=2, mode="in_memory"),
                RunnerConfig(workers=2, worker_pool=False), RunnerConfig(name="dask", workers=2)):
        assert not worker_pool.wanted(cfg)
    assert worker_pool.wanted(RunnerConfig(workers=2))
