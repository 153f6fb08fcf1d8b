"""Stage commit on an object store: digests recorded by the writer against reading every part back.

    python benchmarks/commit_digest.py [--files 8] [--mb 16] [--repeat 3]

A real S3 API server (moto_server, tests/pipelines/s3server.py) on 127.0.0.1. Each round writes `--files`
Parquet parts of about `--mb` MB (random bytes, so zstd does not shrink them) into a stage attempt with
the one Parquet writer (pipelines/io/parquet.py, which records each part's size and sha256 while
uploading), then commits it (runlayout.StageCommit.commit) twice over, alternately:
(a) "recorded": as written, the commit takes the recorded digests;
(b) "read back": the digest files deleted first, so the commit reads every part back to hash it (what a
    commit did before the writer recorded digests).
Both must give the same `_SUCCESS` file list. Reported: median wall and CPU seconds of the commit (this
process; the S3 server's CPU is not counted: it stands in for a remote store) and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.pipelines.s3server import MotoServer, s3_client  # noqa: E402


def one_round(bucket: str, files: int, mb: int, recorded: bool) -> tuple[float, float, list]:
    import pyarrow as pa

    from pipelines import storage
    from pipelines.io.parquet import write_table
    from pipelines.runlayout import RunLayout

    layout = RunLayout(f"s3://{bucket}/run")
    attempt = layout.begin("stage")
    rows = mb * 16  # 64 KiB blobs
    for i in range(files):
        table = pa.table({"id": [f"{j:06d}" for j in range(rows)], "blob": [os.urandom(65536) for _ in range(rows)]})
        write_table(table, table.schema, storage.join(attempt.out, f"part-{i:05d}.parquet"))
    if not recorded:
        storage.remove_files([storage.digest_path(e.path) for e in storage.walk_files(attempt.out)])
    wall, cpu = time.perf_counter(), time.process_time()
    attempt.commit({})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    listed = [(f["path"], f["size"]) for f in layout.read_success("stage")["files"]]
    return wall, cpu, listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mb", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = MotoServer()
    try:
        os.environ.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID="testing",
                          AWS_SECRET_ACCESS_KEY="testing-secret", AWS_DEFAULT_REGION="us-east-1")
        s3_client(server.url).create_bucket(Bucket="bench")
        times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.repeat):
            lists = []
            for recorded in (True, False):  # interleaved: load from other processes hits both alike
                wall, cpu, listed = one_round("bench", args.files, args.mb, recorded)
                times[recorded].append((wall, cpu))
                lists.append([n for n, _ in listed])
            assert lists[0] == lists[1], lists
        total = args.files * args.mb
        print(f"commit of {args.files} parts, {total} MB in all (median of {args.repeat}):")
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
        for recorded, label in ((True, "recorded digests"), (False, "read back")):
            print(f"  {label:<17} {med[recorded][0]:7.3f} s wall  {med[recorded][1]:7.3f} CPU-s")
        print(f"  read back / recorded: {med[False][0] / med[True][0]:.1f}x wall, "
              f"{med[False][1] / max(med[True][1], 1e-9):.1f}x CPU")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
