"""Passes 1 and 2 over the source files: sketch every document, find the keys that occur more than once,
then send full entries only for the documents holding such keys.

The first pass sends only keys (8 bytes per document and band) to the GroupByKey that finds the keys
occurring at least twice; the second pass sends full entries (refs, ids, scores) for those documents
only. Most documents are unique, so the shuffle is ~3x smaller than one pass with everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa

from filters.dedup.lsh import band_keys
from filters.dedup.minhash import MinHasher
from filters.dedup.normalize import normalize_bytes
from filters.dedup.shingles import shingle_normalized
from filters.dedup.urls import url_key
from filters.dedup.verify import verify_values
from pipelines import progress
from pipelines.io import arrays as arrays_io
from pipelines.io.parquet import open_parquet, read_table
from pipelines.stages.base import counter
from pipelines.stages.dedup.plan import (
    NAME,
    ROW_BITS,
    Plan,
    SourceFile,
    exact_words,
    read_nodes,
    save_sketch,
    shingles_path,
    work_path,
)


def sketch_texts(texts: list[str], plan: Plan, hasher: MinHasher) -> dict[str, np.ndarray]:
    """Exact keys, shingle counts, signatures and the shingles themselves of a batch of texts."""
    sh = shingle_normalized([normalize_bytes(t) for t in texts], plan.cfg.shingle_size)
    return {
        "signatures": hasher.signatures(sh.shingles),
        "exact": exact_words(sh.exact_keys) if texts else np.zeros((0, 2), np.uint64),
        "num_shingles": np.diff(sh.shingles.offsets),
        "shingles": verify_values(sh.shingles.hashes),
    }


class SketchFile(beam.DoFn):
    """A source file -> its sketches saved to the work folder, and ((kind, band, partition), keys)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def setup(self) -> None:
        self.hasher = self.plan.hasher()

    def process(self, sf: SourceFile) -> Iterator[tuple[tuple[str, int, int], np.ndarray]]:
        plan, cfg = self.plan, self.plan.cfg
        sk = self._stored(sf) if sf.prior else self._sketch(sf)
        n = len(sk["exact"])
        has = sk["num_shingles"] > 0
        keys = band_keys(sk["signatures"], plan.bands, plan.rows) if cfg.near else np.zeros((n, 0), np.uint64)
        keys[~has] = 0  # documents without shingles take no part in LSH (0: never looked up)
        if sf.prior:
            del sk["signatures"]  # this run never writes a previous run's documents
        save_sketch(work_path(plan, sf), band_keys=keys, **sk)
        counter(NAME, "docs_prior" if sf.prior else "docs").inc(n)
        if not sf.prior:
            counter(NAME, "docs_without_shingles").inc(int(np.count_nonzero(~has)))
            progress.tick(docs=n)
        columns: list[tuple[str, int, np.ndarray]] = []
        if cfg.exact:
            columns.append(("x", 0, sk["exact"][:, 0]))
        if cfg.url:
            columns.append(("u", 0, sk["url"][sk["url"] != 0]))
        columns += [("b", j, keys[has, j]) for j in range(keys.shape[1])]
        P = np.uint64(cfg.partitions)
        for kind, j, values in columns:
            part = values % P
            for p in np.unique(part).tolist():
                yield (kind, j, p), values[part == p]

    def _sketch(self, sf: SourceFile) -> dict[str, np.ndarray]:
        parts, urls = [], []
        with open_parquet(sf.path) as pf:
            for batch in pf.iter_batches(batch_size=self.plan.cfg.batch_size, columns=["text", "url"]):
                parts.append(sketch_texts(batch.column("text").to_pylist(), self.plan, self.hasher))
                urls += [url_key(u) for u in batch.column("url").to_pylist()]
        if not parts:
            parts = [sketch_texts([], self.plan, self.hasher)]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["url"] = np.array(urls, dtype=np.uint64)
        # the shingles go to a plain .npy file, which verification maps instead of loading
        arrays_io.save_npy(shingles_path(self.plan, sf), out.pop("shingles"))
        return out

    def _stored(self, sf: SourceFile) -> dict[str, np.ndarray]:
        """A prior run's kept documents, from their stored signatures (no text is read)."""
        assert sf.signatures is not None
        t = read_table(sf.signatures, columns=["signature", "exact", "url_key", "num_shingles"])
        n = t.num_rows
        return {
            "signatures": _fixed_binary(t.column("signature"), "<u4").reshape(n, self.plan.cfg.num_perm).astype(np.uint32),
            "exact": _fixed_binary(t.column("exact"), "<u8").reshape(n, 2).astype(np.uint64),
            "url": t.column("url_key").to_numpy().astype(np.uint64),
            "num_shingles": t.column("num_shingles").to_numpy().astype(np.int64),
        }


def _fixed_binary(column: pa.ChunkedArray, dtype: str) -> np.ndarray:
    """A fixed_size_binary column as one numpy array without a Python object per row."""
    arr = column.combine_chunks()
    width = arr.type.byte_width
    flat = np.frombuffer(arr.buffers()[1], dtype=np.uint8)[arr.offset * width : (arr.offset + len(arr)) * width]
    return flat.view(dtype).copy()


def repeated_keys(element: tuple[tuple[str, int, int], Iterable[np.ndarray]]):
    """((kind, band, partition), key arrays) -> ((kind, band), keys occurring at least twice)."""
    (kind, j, _), arrays = element
    values, counts = np.unique(np.concatenate(list(arrays)), return_counts=True)
    repeated = values[counts > 1]
    if len(repeated):
        yield (kind, j), repeated


class Members(beam.DoFn):
    """Second pass over a file's saved sketches: the documents whose keys repeat, as full entries for
    the (kind, band, partition) groups (NodeArrays for exact / URL groups, (keys, refs, collapse)
    arrays for band groups)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, sf: SourceFile, repeated: dict[tuple[str, int], np.ndarray]):
        plan, cfg = self.plan, self.plan.cfg
        with arrays_io.load(work_path(plan, sf)) as sk:
            exact, url, keys = sk["exact"], sk["url"], sk["band_keys"]
        refs = (np.int64(sf.key) << ROW_BITS) + np.arange(len(exact), dtype=np.int64)
        P = np.uint64(cfg.partitions)
        for kind, column in (("x", exact[:, 0]), ("u", url)):
            rep = repeated.get((kind, 0))
            if rep is None:
                continue
            idx = np.flatnonzero(np.isin(column, rep) & (column != 0 if kind == "u" else True))
            if len(idx) == 0:
                continue
            nodes = read_nodes(plan, sf, idx, exact[idx], url[idx])
            part = column[idx] % P
            for p in np.unique(part).tolist():
                yield (kind, 0, p), nodes.take(np.flatnonzero(part == p))
        collapse_all = exact[:, 0] if cfg.exact else refs.astype(np.uint64)
        for j in range(keys.shape[1]):
            rep = repeated.get(("b", j))
            if rep is None:
                continue
            idx = np.flatnonzero(np.isin(keys[:, j], rep) & (keys[:, j] != 0))
            if len(idx) == 0:
                continue
            k = keys[idx, j]
            part = k % P
            for p in np.unique(part).tolist():
                sel = part == p
                yield ("b", j, p), (k[sel], refs[idx[sel]], collapse_all[idx[sel]])
