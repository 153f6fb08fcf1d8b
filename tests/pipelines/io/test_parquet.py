"""The project's one atomic Parquet writer: same bytes as pyarrow's `write_table` with the project's
options, full row groups from many small tables, nothing left behind on failure, options per caller; WriteShards orders rows that tie on the shard key."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.io.parquet import PARQUET_WRITE_OPTIONS, AtomicParquetWriter, WriteShards, write_table

SCHEMA = pa.schema([pa.field("id", pa.string(), nullable=False), pa.field("n", pa.int64())])


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"doc-{i:06d}", "n": i * 7} for i in range(start, start + n)]


def test_one_table_gives_the_bytes_of_pyarrow_write_table(tmp_path):
    rows = _rows(20_000)  # more than two row groups
    write_table(rows, SCHEMA, tmp_path / "ours.parquet")
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "ref.parquet", **PARQUET_WRITE_OPTIONS)
    assert (tmp_path / "ours.parquet").read_bytes() == (tmp_path / "ref.parquet").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.parquet", "ref.parquet"]  # no temporary left
    meta = pq.read_metadata(tmp_path / "ours.parquet")
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [8192, 8192, 3616]
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_small_tables_are_buffered_into_row_groups(tmp_path):
    path = tmp_path / "part-00000.parquet"
    with AtomicParquetWriter(path, SCHEMA) as w:
        for k in range(25):
            w.write(pa.Table.from_pylist(_rows(1024, k * 1024), schema=SCHEMA))
        assert not path.exists() and list(tmp_path.glob(".part-00000.parquet.*.tmp"))  # renamed at the end
    meta = pq.read_metadata(path)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [8192, 8192, 8192, 1024]
    assert pq.read_table(path).column("n").to_pylist() == [i * 7 for i in range(25 * 1024)]
    with AtomicParquetWriter(path, SCHEMA) as w:  # batches that do not divide it: a short group per flush
        for k in range(3):
            w.write(pa.Table.from_pylist(_rows(5000, k * 5000), schema=SCHEMA))
    meta = pq.read_metadata(path)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [8192, 1808, 5000]


def test_a_failure_leaves_neither_file_nor_temporary(tmp_path):
    path = tmp_path / "part-00000.parquet"
    with pytest.raises(RuntimeError), AtomicParquetWriter(path, SCHEMA) as w:
        w.write(pa.Table.from_pylist(_rows(10), schema=SCHEMA))
        raise RuntimeError("worker died")
    assert list(tmp_path.iterdir()) == []
    bad = pa.table({"id": ["x"], "other": [1]})
    with pytest.raises(ValueError):
        write_table(bad, SCHEMA, path)  # a table of another schema is refused, nothing written
    assert list(tmp_path.iterdir()) == []


def test_options_per_caller(tmp_path):
    table = pa.Table.from_pylist(_rows(100), schema=SCHEMA)
    write_table(table, SCHEMA, tmp_path / "a.parquet", use_dictionary=["id"], row_group_size=30)
    meta = pq.read_metadata(tmp_path / "a.parquet")
    assert meta.num_row_groups == 4
    encodings = [set(meta.row_group(0).column(i).encodings) for i in range(2)]
    assert "RLE_DICTIONARY" in encodings[0] and "RLE_DICTIONARY" not in encodings[1]


def test_write_shards_rows_that_tie_on_the_key_are_ordered_by_the_order_columns(tmp_path):
    schema = pa.schema([("edge", pa.string()), ("kind", pa.string())])
    rows = [{"edge": f"a{i % 3}|b", "kind": kind} for i in range(6) for kind in ("url", "exact")]
    outputs = []
    for k, given in enumerate((rows, rows[::-1])):  # the same rows, delivered in two orders
        out = tmp_path / str(k)
        out.mkdir()
        with TestPipeline() as p:
            _ = p | beam.Create(given) | WriteShards(out, schema, 1, key="edge", order=("edge", "kind"))
        outputs.append((out / "part-00000.parquet").read_bytes())
    assert outputs[0] == outputs[1]
    got = pq.read_table(tmp_path / "0").to_pylist()
    assert got == sorted(rows, key=lambda r: (r["edge"], r["kind"]))


def test_row_slices_read_every_document_once_in_the_batches_of_the_whole_file(tmp_path):
    from apache_beam.testing.util import assert_that, equal_to

    from filters.document import Document
    from pipelines.document import DOCUMENT_SCHEMA, to_row
    from pipelines.io.parquet import ReadDocuments, RowSlice, file_rows, read_document_batches, row_slices

    docs = [Document(id=f"doc-{i:03d}", text=f"text {i}", source="toy", kind="web") for i in range(50)]
    path = tmp_path / "part-00000.parquet"
    # three row groups of 20, 20 and 10 rows: slices cross them, and whole groups are skipped
    write_table([to_row(d) for d in docs], DOCUMENT_SCHEMA, path, row_group_size=20)
    whole = [[d.id for d in b] for b in read_document_batches(path, 5)]
    aligned = [RowSlice(str(path), start, min(50, start + 15)) for start in range(0, 50, 15)]
    sliced = [[d.id for d in b] for s in aligned for b in read_document_batches(s.path, 5, s.start, s.stop)]
    assert sliced == whole  # slices starting at a multiple of the batch size: the same batches
    slices = row_slices(file_rows([path]), 4)
    assert [(s.start, s.stop) for s in slices] == [(0, 12), (12, 25), (25, 37), (37, 50)]
    ids = [d.id for s in slices for b in read_document_batches(s.path, 5, s.start, s.stop) for d in b]
    assert ids == [d.id for d in docs]
    with TestPipeline() as p:
        ids = p | ReadDocuments(slices, batched=True, batch_size=5) | beam.FlatMap(lambda b: [d.id for d in b])
        assert_that(ids, equal_to([d.id for d in docs]))


def test_row_slices_are_even_and_as_many_as_asked():
    from pipelines.io.parquet import row_slices

    files = [("a", 3166), ("b", 3170)]  # two ingest parts of the shared web corpus read six times
    slices = row_slices(files, 16)
    sizes = [s.stop - s.start for s in slices]
    assert len(slices) == 16 and max(sizes) - min(sizes) <= 2 and sum(sizes) == 6336
    for path, n in files:  # each file covered once, in order
        mine = [s for s in slices if s.path == path]
        assert mine[0].start == 0 and mine[-1].stop == n
        assert all(x.stop == y.start for x, y in zip(mine, mine[1:], strict=False))
    uneven = row_slices([("a", 100), ("b", 10), ("c", 1), ("d", 0)], 8)
    # (a file gets its share; one with a share under a slice still gets one)
    assert [(s.path, s.stop - s.start) for s in uneven] == [("a", 14), ("a", 14), ("a", 14), ("a", 15), ("a", 14),
                                                           ("a", 14), ("a", 15), ("b", 10), ("c", 1)]
    assert row_slices([("a", 3)], 16) == [("a", 0, 1), ("a", 1, 2), ("a", 2, 3)]
    assert row_slices([("a", 0)], 16) == []


