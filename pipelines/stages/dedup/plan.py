"""What every step of the dedup pipeline shares: the plan, the source files, document refs, `Node`
columns, the work folder's files, and the one reader of a document's id and score.

A document is addressed by `ref = file_key << ROW_BITS | row` (its row in its input file), so documents
are never shuffled. A previous run's kept documents (`--against`) have file keys with PRIOR_FILE_BIT set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from filters.dedup.components import Node, neg_score
from filters.dedup.config import DedupConfig
from filters.dedup.minhash import MinHasher
from pipelines import storage
from pipelines.io import arrays as arrays_io
from pipelines.io.parquet import open_parquet, read_table
from pipelines.stages import get_stage

NAME = get_stage("dedup").folder
ROW_BITS = 32
PRIOR_FILE_BIT = 1 << 30  # file keys of a previous run's documents (--against)


@dataclass(frozen=True)
class SourceFile:
    key: int  # file key: ref >> 32
    path: str  # Parquet documents (this run's input, or the prior run's kept documents)
    signatures: str | None = None  # prior runs: the stored signatures, row-aligned with `path`

    @property
    def prior(self) -> bool:
        return bool(self.key & PRIOR_FILE_BIT)

    @property
    def tier(self) -> int:
        """`Node.tier` of this file's documents: 0 for a previous run's (always kept), 1 for this run's."""
        return 0 if self.prior else 1


@dataclass(frozen=True)
class Plan:
    cfg: DedupConfig
    bands: int
    rows: int
    score_column: str | None  # the keeper score column when the input has it
    out_dir: str = ""  # where kept documents and signatures go (the stage's temporary output)
    work_dir: str = ""  # per-file sketches between the first and the last pass (removed on commit)
    out_schema: pa.Schema | None = None

    def hasher(self) -> MinHasher:
        return MinHasher(self.cfg.num_perm, self.cfg.seed)


def file_of(ref: int) -> int:
    return ref >> ROW_BITS


def row_of(ref: int) -> int:
    return ref & ((1 << ROW_BITS) - 1)


@dataclass
class NodeArrays:
    """Columns of `Node`s for many documents (what exact / URL groups need to pick their best)."""

    tier: np.ndarray  # uint8
    neg_score: np.ndarray  # float64
    ids: np.ndarray  # object (str)
    refs: np.ndarray  # int64
    exact: np.ndarray  # uint64 [n, 2]: the 16-byte xxh3-128 digest read as two little-endian words
    url: np.ndarray  # uint64

    def take(self, idx: np.ndarray) -> NodeArrays:
        return NodeArrays(*(a[idx] for a in self.columns()))

    def columns(self) -> tuple[np.ndarray, ...]:
        return self.tier, self.neg_score, self.ids, self.refs, self.exact, self.url

    def node(self, i: int) -> Node:
        return Node(
            int(self.tier[i]), float(self.neg_score[i]), str(self.ids[i]), int(self.refs[i]),
            self.exact[i].tobytes(), int(self.url[i]),
        )

    def __len__(self) -> int:
        return len(self.refs)

    @staticmethod
    def concat(parts: list[NodeArrays]) -> NodeArrays:
        return NodeArrays(*(np.concatenate(cols) for cols in zip(*(p.columns() for p in parts), strict=True)))


def exact_words(digests: list[bytes]) -> np.ndarray:
    """16-byte digests -> uint64 [n, 2] (round trip: `row.tobytes()` gives the digest back)."""
    return np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2).astype(np.uint64)


def _scores(table: pa.Table, column: str | None) -> list[Any]:
    if column is None or column not in table.column_names:
        return [None] * table.num_rows
    return table.column(column).to_pylist()


def read_nodes(plan: Plan, sf: SourceFile, rows: np.ndarray, exact: np.ndarray, url: np.ndarray) -> NodeArrays:
    """The `Node`s of some rows of a source file. Ids and scores are read from the file's id / score
    columns (a previous run's from its stored signatures, which hold both); `exact` and `url` are those
    rows' keys from the file's sketches."""
    if sf.prior:
        assert sf.signatures is not None
        score_col: str | None = "score"
        table = read_table(sf.signatures, columns=["id", "score"])
    else:
        with open_parquet(sf.path) as pf:
            names = pf.schema_arrow.names
        score_col = plan.score_column if plan.score_column in names else None
        table = read_table(sf.path, columns=["id"] + ([score_col] if score_col else []))
    table = table.take(pa.array(rows))
    return NodeArrays(
        tier=np.full(len(rows), sf.tier, dtype=np.uint8),
        neg_score=np.array([neg_score(v) for v in _scores(table, score_col)], dtype=np.float64),
        ids=np.array(table.column("id").to_pylist(), dtype=object),
        refs=(np.int64(sf.key) << ROW_BITS) + rows.astype(np.int64),
        exact=exact,
        url=url,
    )


# ---- the work folder: a file's sketches between the passes ----------------------------------------------


def shingles_path(plan: Plan, sf: SourceFile) -> str:
    return storage.join(plan.work_dir, f"shingles-{sf.key:08x}.npy")


def work_path(plan: Plan, sf: SourceFile) -> str:
    return storage.join(plan.work_dir, f"sketch-{sf.key:08x}.npz")


def save_sketch(path: str, **arrays: np.ndarray) -> None:
    """A file's sketches (signatures, exact and URL keys, band keys), kept in the attempt's scratch
    folder between passes (on the run's store: every worker reaches it)."""
    arrays_io.save_npz(path, **arrays)
