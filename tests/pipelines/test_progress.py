"""Progress of a running stage: workers' counts in a local folder; for a run in object storage the driver
publishes their sum to RUN/.progress/<stage>/ in the bucket (throttled), where `read_live` finds it."""

from __future__ import annotations

import time

from pipelines import progress, storage
from pipelines.progress import ProgressMonitor, read_live


def _wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def test_local_progress_is_read_while_the_stage_runs(tmp_path):
    with ProgressMonitor(tmp_path, "filter", total_docs=10) as monitor:
        progress.tick(3)
        progress.flush()
        assert read_live(str(monitor.folder)) == (3, 0, {"docs": 10, "bytes": None})
    assert read_live(str(monitor.folder)) is None  # the stage ended


def test_a_bucket_run_publishes_its_progress_through_the_storage_layer(s3, tmp_path):
    client, bucket, proxy = s3
    url = f"s3://{bucket}/run/.progress/filter"
    with ProgressMonitor(tmp_path, "filter", total_bytes=100, publish=url, publish_every_s=0.3):
        progress.tick(2, 10)
        progress.flush()
        assert _wait_for(lambda: (read_live(url) or (0,))[0] == 2)
        assert read_live(url) == (2, 10, {"docs": None, "bytes": 100})
        progress.tick(5, 40)
        progress.flush()
        assert _wait_for(lambda: read_live(url) == (7, 50, {"docs": None, "bytes": 100}))
        time.sleep(1.0)  # nothing changed: nothing more is written
        puts = [p for m, p, _ in proxy.faults.seen if m == "PUT" and p.endswith("/driver.json")]
        assert len(puts) == 2
    assert not storage.walk_files(url) and read_live(url) is None  # removed when the stage ends
