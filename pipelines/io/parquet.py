"""Deterministic Parquet output and stage input.

Output order in Beam depends on the runner and on timing, so the writer never trusts it: each row goes
to shard `stable_hash(id) % num_shards`, each shard is sorted by id, and one file per shard is written
with pyarrow (zstd, page checksums). Same rows in, byte-identical files out, on every runner.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from filters.document import Document
from pipelines import storage
from pipelines.document import from_row

PARQUET_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "write_page_checksum": True,
    "row_group_size": 8192,
}


def stable_hash(key: str, seed: int = 0) -> int:
    """64-bit hash of a string that is the same on every machine and every run (unlike `hash`)."""
    return xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogatepass"), seed=seed)


def shard_of(key: str, num_shards: int, seed: int = 0) -> int:
    return stable_hash(key, seed) % num_shards


def part_name(shard: int, prefix: str = "part") -> str:
    return f"{prefix}-{shard:05d}.parquet"


class AtomicParquetWriter:
    """One Parquet file written table by table, appearing whole or not at all. Locally it is written
    under a hidden temporary name (`.NAME.<nonce>.tmp`) and renamed into place on success; on an object store
    (a URL) it streams straight to the object as a multipart upload (storage's `part_size`) that is
    completed on success and aborted on an exception, so no partial object appears. Every curate
    Parquet file goes through here (zstd, page checksums, row groups of `row_group_size` rows);
    `options` add pyarrow writer options (e.g. `use_dictionary`).

    Tables are buffered until at least `row_group_size` rows are pending, then written as row groups of
    that size (the rest in a smaller one): batches that divide the row group size give full row groups,
    and one table written at once gives exactly the file `pq.write_table` would.
    """

    def __init__(self, path: str | Path, schema: pa.Schema, **options: Any):
        opts = {**PARQUET_WRITE_OPTIONS, **options}
        self.row_group_size: int = opts.pop("row_group_size")
        self.options = opts
        self.schema = schema
        self.url = str(path)
        self.remote = storage.is_remote(self.url)
        self.path = Path(path) if not self.remote else None
        # unique: a runner may run the same bundle twice at once (Dask recomputes a shared branch)
        self.tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp") if self.path else None
        self.pending: list[pa.Table] = []
        self.rows = 0

    def __enter__(self) -> AtomicParquetWriter:
        if self.remote:
            # size and sha256 recorded while uploading: the stage's commit need not read the file back
            self.stream = storage.open_write(self.url, record_digest=True)
            try:
                self.writer = pq.ParquetWriter(self.stream, self.schema, **self.options)
            except BaseException:
                storage.discard(self.stream)
                raise
        else:
            self.writer = pq.ParquetWriter(self.tmp, self.schema, **self.options)
        return self

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= self.row_group_size:
            self._flush()

    def write_row_groups(self, table: pa.Table) -> None:
        """Write `table` now, unbuffered, as row groups of `row_group_size` rows (its last one smaller)."""
        self._flush()
        self.writer.write_table(table, row_group_size=self.row_group_size)

    def _flush(self) -> None:
        if self.pending:
            table = self.pending[0] if len(self.pending) == 1 else pa.concat_tables(self.pending)
            self.writer.write_table(table, row_group_size=self.row_group_size)
        self.pending, self.rows = [], 0

    def __exit__(self, exc_type, exc, tb) -> None:
        ok = exc_type is None
        try:
            if ok:
                self._flush()
        except BaseException:
            ok = False  # the last row group failed: the file is not complete
            raise
        finally:
            if self.remote:
                self._finish_remote(ok)
            else:
                self.writer.close()
                if ok:
                    self.tmp.replace(self.path)
                else:
                    self.tmp.unlink(missing_ok=True)

    def _finish_remote(self, ok: bool) -> None:
        try:
            self.writer.close()  # the footer
        except BaseException:
            storage.discard(self.stream)
            raise
        if ok:
            self.stream.close()  # completes the upload: the object appears whole
        else:
            storage.discard(self.stream)


def write_table(rows: pa.Table | list[dict[str, Any]], schema: pa.Schema, path: str | Path,
                **options: Any) -> None:
    """Rows (dicts matching `schema`, or a table of that schema) -> one Parquet file, atomically."""
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)
    with AtomicParquetWriter(path, schema, **options) as w:
        w.write(table)


class _WriteShard(beam.DoFn):
    def __init__(self, out_dir: str, schema: pa.Schema, prefix: str, order: tuple[str, ...]):
        self.out_dir = out_dir
        self.schema = schema
        self.prefix = prefix
        self.order = order
        self.storage_cfg = storage.current_config()  # the driver's: endpoint, part size, retries

    def setup(self) -> None:
        storage.configure(self.storage_cfg)

    def process(self, element: tuple[int, Any]) -> Iterator[tuple[str, int]]:
        shard, rows = element
        order = self.order
        rows = sorted(rows, key=lambda r: tuple(r[c] for c in order))
        name = part_name(shard, self.prefix)
        write_table(rows, self.schema, storage.join(self.out_dir, name))
        yield name, len(rows)


class WriteShards(beam.PTransform):
    """Rows (dicts matching `schema`) -> `out_dir/part-NNNNN.parquet`; emits (file name, row count).

    A row's shard is a stable hash of its `key` column; rows are sorted inside a shard by the `order`
    columns (default: the key). The order must be unique per row, or rows that tie keep the order in
    which the runner delivered them and the file is no longer byte-identical from run to run.
    """

    def __init__(
        self, out_dir: str | Path, schema: pa.Schema, num_shards: int, prefix: str = "part", key: str = "id",
        order: tuple[str, ...] | None = None,
    ):
        super().__init__()
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")
        self.out_dir = str(out_dir)
        self.schema = schema
        self.num_shards = num_shards
        self.prefix = prefix
        self.key = key
        self.order = tuple(order) if order else (key,)

    def expand(self, rows):
        n, key = self.num_shards, self.key
        return (
            rows
            | "KeyByShard" >> beam.Map(lambda r: (shard_of(r[key], n), r))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShard" >> beam.ParDo(_WriteShard(self.out_dir, self.schema, self.prefix, self.order))
        )


@contextlib.contextmanager
def open_parquet(path: str | Path) -> Iterator[pq.ParquetFile]:
    """A Parquet file of a run or an input, local or on an object store (read through storage, in
    ranged reads: the footer first, then the row groups asked for)."""
    path = str(path)
    if not storage.is_remote(path):
        with pq.ParquetFile(path) as pf:
            yield pf
        return
    with storage.open_read(path) as f, pq.ParquetFile(f) as pf:
        yield pf


def read_documents(path: str | Path, batch_size: int = 1024) -> Iterator[Document]:
    """Stream the documents of one Parquet file."""
    with open_parquet(path) as pf:
        for batch in pf.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield from_row(row)


class RowSlice(NamedTuple):
    """Rows [start, stop) of one Parquet file: the unit of work when one file is more than one core's."""

    path: str
    start: int
    stop: int


def file_rows(paths: list[str] | list[Path]) -> list[tuple[str, int]]:
    """(path, row count) of each Parquet file, in path order, from the footers."""
    out = []
    for path in sorted(str(p) for p in paths):
        with open_parquet(path) as pf:
            out.append((path, pf.metadata.num_rows))
    return out


def row_slices(files: list[tuple[str, int]], count: int) -> list[RowSlice]:
    """The files (path, row count: `file_rows`) cut into `count` slices of nearly the same number of rows
    (fewer when there are fewer rows; more when there are more files), each within one file: a file
    gets slices in proportion to its rows (largest remainders first), cut evenly.

    Even slices, in a number that divides among the workers, matter with runners that hand each worker
    its share of the slices up front (Beam's FnApiRunner): with slices of a fixed size, the short last
    slice of each file made the shares unequal by up to a slice, and a core idled at the stage's end.
    """
    files = [(path, n) for path, n in files if n > 0]
    total = sum(n for _, n in files)
    count = min(count, total)
    if count <= 0:
        return []
    shares = [n * count // total for _, n in files]
    by_remainder = sorted(range(len(files)), key=lambda i: -(files[i][1] * count % total))
    for i in by_remainder[: count - sum(shares)]:
        shares[i] += 1
    out = []
    for (path, n), k in zip(files, shares, strict=True):
        k = max(1, k)
        out += [RowSlice(path, n * i // k, n * (i + 1) // k) for i in range(k)]
    return out


def read_document_batches(path: str | Path, batch_size: int = 256, start: int = 0,
                          stop: int | None = None) -> Iterator[list[Document]]:
    """Stream one Parquet file, or rows [start, stop) of it, as lists of documents (for DoFns that work
    on batches). Row groups wholly outside the range are not read; a slice whose start is a multiple of
    `batch_size` gets the same batches as reading the whole file."""
    with open_parquet(path) as pf:
        meta = pf.metadata
        stop = meta.num_rows if stop is None else min(stop, meta.num_rows)
        groups, offset, first = [], 0, None
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if offset < stop and offset + n > start:
                groups.append(i)
                first = offset if first is None else first
            offset += n
        if not groups:
            return
        offset = first
        for batch in pf.iter_batches(batch_size=batch_size, row_groups=groups):
            lo, hi = max(start, offset), min(stop, offset + batch.num_rows)
            if hi > lo:
                yield [from_row(row) for row in batch.slice(lo - offset, hi - lo).to_pylist()]
            offset += batch.num_rows
            if offset >= stop:
                return


def read_table(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """One whole Parquet file (or the columns asked for) as a table, local or remote."""
    with open_parquet(path) as pf:
        return pf.read(columns=columns)


class ReadDocuments(beam.PTransform):
    """Parquet files of a stage -> PCollection[Document] (or of list[Document] when `batched`).

    `sources`: file paths (a file is one unit of work), or `RowSlice`s of them (`row_slices`) when a
    stage's work per document is large enough that one file should be spread over several workers."""

    def __init__(self, sources: list[str | Path] | list[RowSlice], batched: bool = False, batch_size: int = 256):
        super().__init__()
        if not sources:
            raise ValueError("ReadDocuments needs at least one Parquet file")
        self.sources = sorted(s if isinstance(s, RowSlice) else str(s) for s in sources)
        self.batched = batched
        self.batch_size = batch_size

    def expand(self, pbegin):
        files = pbegin | "ListFiles" >> beam.Create(self.sources) | "SpreadFiles" >> beam.Reshuffle()
        read = _ReadFile(self.batched, self.batch_size, storage.current_config())
        return files | ("ReadBatches" if self.batched else "ReadRows") >> beam.ParDo(read)


class _ReadFile(beam.DoFn):
    """One Parquet file (a path or a URL), or a `RowSlice` of one -> its documents, or lists of them."""

    def __init__(self, batched: bool, batch_size: int, storage_cfg: storage.StorageConfig):
        self.batched, self.batch_size, self.storage_cfg = batched, batch_size, storage_cfg

    def setup(self) -> None:
        storage.configure(self.storage_cfg)

    def process(self, source: str | RowSlice):
        path, start, stop = (source, 0, None) if isinstance(source, str) else source
        batches = read_document_batches(path, self.batch_size, start, stop)
        if self.batched:
            yield from batches
        else:
            for batch in batches:
                yield from batch
