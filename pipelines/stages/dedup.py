"""Dedup: exact, URL and MinHash-LSH near-duplicate removal, as one Beam pipeline.

    RUN/<filter|ingest>/part-*.parquet
      -> Sketch (per file, numpy batches): exact key, URL key, MinHash signature, LSH band keys,
         saved to the stage's work folder; only the keys go on
      -> GroupByKey on (kind, band, key partition): the keys that occur at least twice
      -> Members (per file, second look at its saved sketches): full entries for those documents only
      -> GroupByKey on (kind, band, key partition), each group sorted in numpy: exact and URL groups
         give star edges to their best document; LSH buckets give candidate pairs (capped buckets)
      -> candidate pairs -> exact Jaccard of the two shingle sets (text re-read for those docs only)
      -> verified edges + exact / URL star edges -> connected components by min-label propagation
         with pointer jumping, unrolled `cc_rounds` times; any edge still joining two labels after
         that is merged by a union-find over labels (normally none; counted)
      -> keeper per component (previous run's documents first, then highest score, then smallest id)
      -> RUN/dedup/part-*.parquet (kept, + dup_cluster, dup_count), RUN/rejected/dedup (reason,
         duplicate_of), RUN/dedup/_signatures/part-*.parquet (row-aligned with the kept documents,
         reused by `--against`), RUN/dedup/_edges/part-00000.parquet (every duplicate edge). The
         "_" keeps both out of `pq.read_table(RUN/dedup)` (pyarrow skips "_" and "." entries).

Why the band-key GroupByKey groups (kind, band, key partition) rather than each key: most keys are
unique, so one element per (document, band) would make the shuffle 10x the documents for nothing.
Each file instead sends one numpy array per group and the group sorts its keys: the same grouping,
with the per-key work done in numpy (as datatrove's bucket files do). Sending keys alone first and
full entries only for repeated keys keeps the shuffle at 8 bytes per document and band.

A document is addressed by `ref = file_key << 32 | row` (its row in its input file), so documents are
never shuffled: decisions go back to the file that holds them and the final pass reads each file
once more and writes its kept rows, in order, to the output file of the same name (the input's
sharding and id order carry over). `--against PRIOR` adds the prior run's kept documents (file keys
with bit 30 set) from their stored signatures; they are always the keepers and never written.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from filters.dedup.components import Node, UnionFind, bucket_pairs, neg_score, reason, runs, star_edges
from filters.dedup.config import DedupConfig
from filters.dedup.lsh import band_keys, s_curve
from filters.dedup.minhash import MinHasher
from filters.dedup.normalize import NORMALIZATION_VERSION, normalize_bytes
from filters.dedup.shingles import shingle_normalized
from filters.dedup.urls import url_key
from filters.dedup.verify import jaccard
from filters.document import Rejected
from pipelines import progress
from pipelines.config import JobConfig
from pipelines.configlib import ConfigError, replace_section
from pipelines.document import from_row, rejected_schema
from pipelines.io.parquet import PARQUET_WRITE_OPTIONS, WriteShards
from pipelines.runlayout import RunLayout
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, StageError, counter, run_beam_stage
from pipelines.stages.common import WriteRejected

log = logging.getLogger(__name__)

NAME = get_stage("dedup").folder
REJECTED = "rejected"
SIGNATURES = "_signatures"  # "_": pyarrow dataset discovery of RUN/dedup skips it
EDGES = "_edges"
ROW_BITS = 32
PRIOR_FILE_BIT = 1 << 30  # file keys of a previous run's documents (--against)
#: Version of everything a stored signature depends on besides the config (shingle and word hashes,
#: permutation scheme, band key mixing); bumped on any change so old signatures are refused.
SIGNATURE_SCHEME = 1

SIGNATURE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),  # num_perm little-endian uint32
        pa.field("exact", pa.binary(16), nullable=False),  # xxh3-128 of the normalized text
        pa.field("url_key", pa.uint64(), nullable=False),  # 0: no URL
        pa.field("score", pa.float64(), nullable=True),
        pa.field("num_shingles", pa.int64(), nullable=False),
    ]
)
EDGE_SCHEMA = pa.schema(
    [
        pa.field("edge", pa.string(), nullable=False),  # "id_a|id_b", the sort key
        pa.field("id_a", pa.string(), nullable=False),
        pa.field("id_b", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # exact / url / near
        pa.field("jaccard", pa.float64(), nullable=True),  # verified similarity of near edges
    ]
)
DUP_FIELDS = [pa.field("dup_cluster", pa.string(), nullable=False), pa.field("dup_count", pa.int32(), nullable=False)]
REJECTED_SCHEMA = rejected_schema([pa.field("duplicate_of", pa.string(), nullable=False)])


# ---- what the DoFns share ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    key: int  # file key: ref >> 32
    path: str  # Parquet documents (this run's input, or the prior run's kept documents)
    signatures: str | None = None  # prior runs: the stored signatures, row-aligned with `path`

    @property
    def prior(self) -> bool:
        return bool(self.key & PRIOR_FILE_BIT)


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


def sketch_texts(texts: list[str], plan: Plan, hasher: MinHasher) -> dict[str, np.ndarray]:
    """Exact keys, shingle counts, signatures and the shingles themselves of a batch of texts."""
    sh = shingle_normalized([normalize_bytes(t) for t in texts], plan.cfg.shingle_size)
    return {
        "signatures": hasher.signatures(sh.shingles),
        "exact": exact_words(sh.exact_keys) if texts else np.zeros((0, 2), np.uint64),
        "num_shingles": np.diff(sh.shingles.offsets),
        "shingles": verify_values(sh.shingles.hashes),
    }


def verify_values(shingle_hashes: np.ndarray) -> np.ndarray:
    """The values Jaccard is verified on: the low 32 bits of each shingle hash, the very values the
    MinHash permutes (through a bijection), so estimate and check measure the same set. Two distinct
    shingles of a pair collide with probability |A| |B| / 2^32 (~4e-5 for two 2.4 KB documents), so
    the verified similarity is the exact Jaccard of the shingle sets up to ~1e-7."""
    return shingle_hashes.astype(np.uint32)


def shingles_path(plan: Plan, sf: SourceFile) -> Path:
    return Path(plan.work_dir) / f"shingles-{sf.key:08x}.npy"


def work_path(plan: Plan, sf: SourceFile) -> Path:
    return Path(plan.work_dir) / f"sketch-{sf.key:08x}.npz"


def save_sketch(path: Path, **arrays: np.ndarray) -> None:
    """A file's sketches (signatures, exact and URL keys, band keys), kept on disk between passes."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(path)


# ---- 1. sketch, then find the keys that occur more than once --------------------------------------------
# The first pass sends only keys (8 bytes per document and band) to the GroupByKey that finds the keys
# occurring at least twice; the second pass sends full entries (refs, ids, scores) for those documents
# only. Most documents are unique, so the shuffle is ~3x smaller than one pass with everything.


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
        pf = pq.ParquetFile(sf.path)
        parts, urls = [], []
        for batch in pf.iter_batches(batch_size=self.plan.cfg.batch_size, columns=["text", "url"]):
            parts.append(sketch_texts(batch.column("text").to_pylist(), self.plan, self.hasher))
            urls += [url_key(u) for u in batch.column("url").to_pylist()]
        if not parts:
            parts = [sketch_texts([], self.plan, self.hasher)]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["url"] = np.array(urls, dtype=np.uint64)
        # the shingles go to a plain .npy file, which verification maps instead of loading
        np.save(shingles_path(self.plan, sf), out.pop("shingles"))
        return out

    def _stored(self, sf: SourceFile) -> dict[str, np.ndarray]:
        """A prior run's kept documents, from their stored signatures (no text is read)."""
        assert sf.signatures is not None
        t = pq.read_table(sf.signatures, columns=["signature", "exact", "url_key", "num_shingles"])
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
        with np.load(work_path(plan, sf)) as sk:
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
            nodes = self._nodes(sf, idx, refs, exact, url)
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

    def _nodes(self, sf: SourceFile, idx: np.ndarray, refs, exact, url) -> NodeArrays:
        """Ids and scores of some rows (read from the file), with their keys."""
        if sf.prior:
            t = pq.read_table(sf.signatures, columns=["id", "score"])
            score_col = "score"
        else:
            names = pq.read_schema(sf.path).names
            score_col = self.plan.score_column if self.plan.score_column in names else None
            t = pq.read_table(sf.path, columns=["id"] + ([score_col] if score_col else []))
        t = t.take(pa.array(idx))
        return NodeArrays(
            tier=np.full(len(idx), 0 if sf.prior else 1, dtype=np.uint8),
            neg_score=np.array([neg_score(v) for v in _scores(t, score_col)], dtype=np.float64),
            ids=np.array(t.column("id").to_pylist(), dtype=object),
            refs=refs[idx],
            exact=exact[idx],
            url=url[idx],
        )


# ---- 2. groups -> star edges and candidate pairs -------------------------------------------------------


STAR, PAIRS = "s", "p"


class GroupKeys(beam.DoFn):
    """One (kind, band, partition) group: exact / URL groups give star edges (`("s", edge)`); band groups
    give candidate pairs as arrays keyed by a partition of the pair (`("p", (partition, pairs))`).
    Tagged tuples rather than a multi-output ParDo: Beam's DaskRunner does not route tagged outputs."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, element: tuple[tuple[str, int, int], Iterable[Any]]):
        (kind, _band, _p), items = element
        items = list(items)
        if kind in ("x", "u"):
            for edge in self._stars(kind, NodeArrays.concat(items)):
                yield STAR, edge
            return
        keys = np.concatenate([i[0] for i in items])
        refs = np.concatenate([i[1] for i in items])
        collapse = np.concatenate([i[2] for i in items])
        pairs, stats = bucket_pairs(keys, refs, collapse, self.plan.cfg.max_bucket_size)
        counter(NAME, "lsh_buckets").inc(stats.buckets)
        counter(NAME, "lsh_buckets_oversized").inc(stats.oversized)
        counter(NAME, "lsh_members_beyond_cap").inc(stats.beyond_cap)
        # pairs between two prior documents are not this run's business
        prior = PRIOR_FILE_BIT << ROW_BITS
        pairs = pairs[((pairs[:, 0] & prior) == 0) | ((pairs[:, 1] & prior) == 0)]
        if len(pairs):
            part = (pairs[:, 0] * 0x9E3779B1 + pairs[:, 1]) % self.plan.cfg.partitions
            for q in np.unique(part).tolist():
                yield PAIRS, (q, pairs[part == q])

    def _stars(self, kind: str, nodes: NodeArrays):
        keys = (nodes.exact[:, 0], nodes.exact[:, 1]) if kind == "x" else (nodes.url,)
        order = np.lexsort((nodes.refs, *reversed(keys)))
        starts, ends = runs(*(k[order] for k in keys))
        groups = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            members = [nodes.node(int(i)) for i in order[s:e]]
            if any(m.tier == 1 for m in members):
                groups.append(members)
        edge_kind = "exact" if kind == "x" else "url"
        for a, b in star_edges(groups):
            counter(NAME, f"edges_{edge_kind}").inc()
            yield a, b, edge_kind, None


# ---- 3. verification ----------------------------------------------------------------------------------


class VerifyPairs(beam.DoFn):
    """(partition, candidate pair arrays) -> near-duplicate edges whose exact Jaccard reaches the threshold.

    The shingles of this run's documents are read from the work folder (memory-mapped, written by the
    sketch pass), so no shingle set is shuffled; a previous run's documents (--against) are shingled
    again from their stored text. Ids and scores come from the files' id / score columns."""

    def __init__(self, plan: Plan, files: list[SourceFile]):
        self.plan = plan
        self.files = {f.key: f for f in files}

    def process(self, element: tuple[int, Iterable[np.ndarray]]):
        _, arrays = element
        pairs = np.unique(np.concatenate(list(arrays)), axis=0)
        counter(NAME, "candidate_pairs").inc(len(pairs))
        info = self._load(np.unique(pairs.ravel()))
        threshold = self.plan.cfg.threshold
        for a_ref, b_ref in pairs.tolist():
            node_a, set_a = info[a_ref]
            node_b, set_b = info[b_ref]
            j = jaccard(set_a, set_b)
            if j >= threshold:
                counter(NAME, "verified_pairs").inc()
                yield (node_a, node_b, "near", j) if node_a < node_b else (node_b, node_a, "near", j)
            else:
                counter(NAME, "rejected_pairs").inc()

    def _load(self, refs: np.ndarray) -> dict[int, tuple[Node, np.ndarray]]:
        out: dict[int, tuple[Node, np.ndarray]] = {}
        keys = refs >> ROW_BITS
        for key in np.unique(keys).tolist():
            sf = self.files[key]
            file_refs = refs[keys == key]
            rows = file_refs & ((1 << ROW_BITS) - 1)
            with np.load(work_path(self.plan, sf)) as sk:
                exact, url, num_shingles = sk["exact"][rows], sk["url"][rows], sk["num_shingles"]
            if sf.prior:
                t = pq.read_table(sf.signatures, columns=["id", "score"]).take(pa.array(rows))
                texts = pq.read_table(sf.path, columns=["text"]).take(pa.array(rows)).column("text").to_pylist()
                sh = shingle_normalized([normalize_bytes(x) for x in texts], self.plan.cfg.shingle_size).shingles
                sets = [np.unique(verify_values(sh.of(i))) for i in range(len(rows))]
                scores = t.column("score").to_pylist()
            else:
                names = pq.read_schema(sf.path).names
                col = self.plan.score_column if self.plan.score_column in names else None
                t = pq.read_table(sf.path, columns=["id"] + ([col] if col else [])).take(pa.array(rows))
                shingles = np.load(shingles_path(self.plan, sf), mmap_mode="r")
                offsets = np.concatenate([[0], np.cumsum(num_shingles)])
                sets = [np.unique(shingles[offsets[r] : offsets[r + 1]]) for r in rows.tolist()]
                scores = _scores(t, col)
            ids = t.column("id").to_pylist()
            tier = 0 if sf.prior else 1
            for i, ref in enumerate(file_refs.tolist()):
                node = Node(tier, neg_score(scores[i]), ids[i], ref, exact[i].tobytes(), int(url[i]))
                out[ref] = (node, sets[i])
        return out


# ---- 4. connected components ------------------------------------------------------------------------
# State of a node: (ref, (node, neighbour refs, label)); the label is the smallest Node known to be in
# the same component, i.e. the keeper once converged.


def _init_state(element):
    ref, pairs = element
    pairs = list(pairs)
    node = pairs[0][0]
    others = [o for _, o in pairs]
    return ref, (node, tuple(sorted({o.ref for o in others})), min([node, *others]))


def _send_labels(element):
    ref, (node, nbrs, label) = element
    yield ref, ("s", (node, nbrs, label))
    for n in nbrs:
        yield n, ("l", label)


def _merge_labels(element):
    ref, msgs = element
    state, best = None, None
    for tag, v in msgs:
        if tag == "s":
            state = v
        elif best is None or v < best:
            best = v
    assert state is not None, "label sent to a node without state"
    node, nbrs, label = state
    return ref, (node, nbrs, label if best is None or label < best else best)


def _ask_label_owner(element):
    ref, state = element
    yield ref, ("s", state)
    label = state[2]
    if label.ref != ref:
        yield label.ref, ("q", ref)


def _answer(element):
    ref, msgs = element
    state, askers = None, []
    for tag, v in msgs:
        if tag == "s":
            state = v
        else:
            askers.append(v)
    assert state is not None
    yield ref, ("s", state)
    for q in askers:
        yield q, ("l", state[2])


def _residual_edges(element):
    ref, msgs = element
    own, seen = None, set()
    for tag, v in msgs:
        if tag == "s":
            own = v[2]
        else:
            seen.add(v)
    for other in seen:
        if other != own:
            counter(NAME, "cc_residual_edges").inc()
            yield 0, (own, other)


def _merge_residue(element):
    """All label pairs still joined by an edge -> (label ref, final label) for every merged label."""
    _, pairs = element
    uf = UnionFind()
    for a, b in pairs:
        uf.union(a, b)
    for root, members in uf.groups().items():
        for m in members:
            if m != root:
                yield m.ref, root


class ConnectedComponents(beam.PTransform):
    """Edges (Node, Node) -> (node, label) for every node of an edge; label = smallest Node of its
    component. Min-label propagation plus pointer jumping (a node adopts its label's label), unrolled
    `rounds` times; then any edge whose ends still disagree goes to a union-find over labels (exact)."""

    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds

    def expand(self, edges):
        state = (
            edges
            | "Adjacent" >> beam.FlatMap(lambda e: [(e[0].ref, (e[0], e[1])), (e[1].ref, (e[1], e[0]))])
            | "GroupAdjacent" >> beam.GroupByKey()
            | "InitLabels" >> beam.Map(_init_state)
        )
        for i in range(self.rounds):
            state = (
                state
                | f"Send{i}" >> beam.FlatMap(_send_labels)
                | f"GroupSent{i}" >> beam.GroupByKey()
                | f"Merge{i}" >> beam.Map(_merge_labels)
                | f"Ask{i}" >> beam.FlatMap(_ask_label_owner)
                | f"GroupAsk{i}" >> beam.GroupByKey()
                | f"Answer{i}" >> beam.FlatMap(_answer)
                | f"GroupAnswer{i}" >> beam.GroupByKey()
                | f"Jump{i}" >> beam.Map(_merge_labels)
            )
        remap = (
            state
            | "SendCheck" >> beam.FlatMap(_send_labels)
            | "GroupCheck" >> beam.GroupByKey()
            | "Residual" >> beam.FlatMap(_residual_edges)
            | "GroupResidue" >> beam.GroupByKey()
            | "UnionFind" >> beam.FlatMap(_merge_residue)
        )
        return state | "FinalLabel" >> beam.Map(
            lambda kv, m: (kv[1][0], m.get(kv[1][2].ref, kv[1][2])), m=beam.pvalue.AsDict(remap)
        )


# ---- 5. decisions and output --------------------------------------------------------------------------


class Decide(beam.DoFn):
    """(label ref, [(node, label)...]) -> (file key, (row, decision)) for this run's documents."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def process(self, element):
        _, members = element
        members = sorted(members)
        keeper = members[0][1]
        size = len(members)
        counter(NAME, "clusters").inc()
        counter(NAME, "cluster_members").inc(size)
        for node, _ in members:
            if node.tier == 0:
                continue
            if node.ref == keeper.ref:
                yield file_of(node.ref), (row_of(node.ref), ("keep", size))
            else:
                why = reason(node, keeper, self.cfg.exact, self.cfg.url)
                yield file_of(node.ref), (row_of(node.ref), ("drop", why, keeper.id))


class WriteFile(beam.DoFn):
    """Re-read one input file and apply its decisions: the kept rows go to the output file of the same
    name (same rows order, so the input's sharding and id order carry over), their stored signatures
    to `_signatures/` row by row; dropped rows become Rejected records (the only per-row output)."""

    def __init__(self, plan: Plan):
        self.plan = plan

    def process(self, element):
        _, g = element
        files = list(g["file"])
        if not files:
            return
        sf: SourceFile = files[0]
        decisions: dict[int, tuple] = {}
        for items in g["dec"]:
            decisions.update(items)
        with np.load(work_path(self.plan, sf)) as npz:  # an NpzFile reads a member on every access
            sketch = {k: npz[k] for k in ("signatures", "exact", "url", "num_shingles")}
        name = Path(sf.path).name
        out = Path(self.plan.out_dir)
        kept_total = 0
        with _Writer(out / name, self.plan.out_schema) as docs_w, \
                _Writer(out / SIGNATURES / name, signature_schema(self.plan.cfg.num_perm)) as sig_w:
            row0 = 0
            for batch in pq.ParquetFile(sf.path).iter_batches(batch_size=self.plan.cfg.batch_size):
                n = batch.num_rows
                keep = np.ones(n, dtype=bool)
                count = np.ones(n, dtype=np.int32)
                dropped = []
                for row in range(row0, row0 + n):
                    d = decisions.get(row)
                    if d is None:
                        continue
                    if d[0] == "keep":
                        count[row - row0] = d[1]
                    else:
                        keep[row - row0] = False
                        dropped.append((row - row0, d))
                table = pa.Table.from_batches([batch])
                for i, d in dropped:
                    doc = from_row(table.slice(i, 1).to_pylist()[0])
                    yield Rejected.of(doc, d[1], duplicate_of=d[2])
                idx = np.flatnonzero(keep)
                kept = table.take(pa.array(idx))
                docs_w.write(_with_dup_columns(kept, count[idx], self.plan.out_schema))
                sig_w.write(_signature_table(kept, sketch, row0 + idx, self.plan))
                kept_total += len(idx)
                row0 += n
        counter(NAME, "kept").inc(kept_total)


class _Writer:
    """A Parquet file written batch by batch (the project's write options), renamed into place."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.pending: list[pa.Table] = []
        self.rows = 0

    def __enter__(self) -> _Writer:
        opts = {k: v for k, v in PARQUET_WRITE_OPTIONS.items() if k != "row_group_size"}
        self.writer = pq.ParquetWriter(self.tmp, self.schema, **opts)
        return self

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        if self.rows >= PARQUET_WRITE_OPTIONS["row_group_size"]:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            table = pa.concat_tables(self.pending)
            self.writer.write_table(table, row_group_size=PARQUET_WRITE_OPTIONS["row_group_size"])
        self.pending, self.rows = [], 0

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._flush()
        self.writer.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _with_dup_columns(kept: pa.Table, counts: np.ndarray, schema: pa.Schema) -> pa.Table:
    cols = {name: kept.column(name) for name in kept.column_names if name not in ("dup_cluster", "dup_count")}
    cols["dup_cluster"] = kept.column("id")
    cols["dup_count"] = pa.array(counts, type=pa.int32())
    return pa.table([cols[f.name] for f in schema], schema=schema)


def signature_schema(num_perm: int) -> pa.Schema:
    return pa.schema([f if f.name != "signature" else pa.field("signature", pa.binary(4 * num_perm), nullable=False)
                      for f in SIGNATURE_SCHEMA])


def _signature_table(kept: pa.Table, sketch: Any, rows: np.ndarray, plan: Plan) -> pa.Table:
    num_perm = plan.cfg.num_perm
    sig = np.ascontiguousarray(sketch["signatures"][rows].astype("<u4"))
    exact = np.ascontiguousarray(sketch["exact"][rows].astype("<u8"))
    n = len(rows)
    col = plan.score_column
    score = kept.column(col).cast(pa.float64()) if col and col in kept.column_names else pa.nulls(n, pa.float64())
    return pa.table(
        [
            kept.column("id"),
            pa.Array.from_buffers(pa.binary(4 * num_perm), n, [None, pa.py_buffer(sig.tobytes())]),
            pa.Array.from_buffers(pa.binary(16), n, [None, pa.py_buffer(exact.tobytes())]),
            pa.array(sketch["url"][rows], type=pa.uint64()),
            score,
            pa.array(sketch["num_shingles"][rows], type=pa.int64()),
        ],
        schema=signature_schema(num_perm),
    )


def _edge_row(edge) -> dict[str, Any]:
    a, b, kind, j = edge
    return {"edge": f"{a.id}|{b.id}", "id_a": a.id, "id_b": b.id, "kind": kind, "jaccard": j}


class Dedup(beam.PTransform):
    """Source files -> (rejected, edges); kept documents and signatures are written file by file."""

    def __init__(self, plan: Plan, current: list[SourceFile], prior: list[SourceFile]):
        super().__init__()
        self.plan, self.current, self.prior = plan, current, prior

    def expand(self, pbegin):
        plan, cfg = self.plan, self.plan.cfg
        files = (
            pbegin
            | "ListFiles" >> beam.Create(self.current + self.prior)
            | "SpreadFiles" >> beam.Reshuffle()
        )
        repeated = (
            files
            | "Sketch" >> beam.ParDo(SketchFile(plan))
            | "GroupKeyColumns" >> beam.GroupByKey()
            | "RepeatedKeys" >> beam.FlatMap(repeated_keys)
            | "GroupRepeated" >> beam.GroupByKey()
            | "MergeRepeated" >> beam.MapTuple(lambda k, arrays: (k, np.sort(np.concatenate(list(arrays)))))
        )
        grouped = (
            files
            | "Members" >> beam.ParDo(Members(plan), repeated=beam.pvalue.AsDict(repeated))
            | "GroupKeys" >> beam.GroupByKey()
            | "Buckets" >> beam.ParDo(GroupKeys(plan))
        )
        stars = (
            grouped
            | "Stars" >> beam.Filter(lambda t: t[0] == STAR)
            | "StarEdges" >> beam.Map(lambda t: t[1])
        )
        edge_sets = [stars]
        if cfg.near:
            edge_sets.append(
                grouped
                | "Pairs" >> beam.Filter(lambda t: t[0] == PAIRS)
                | "PairArrays" >> beam.Map(lambda t: t[1])
                | "GroupPairs" >> beam.GroupByKey()
                | "Verify" >> beam.ParDo(VerifyPairs(plan, self.current + self.prior))
            )
        edges = edge_sets | "AllEdges" >> beam.Flatten()
        decisions = (
            edges
            | "Nodes" >> beam.Map(lambda e: (e[0], e[1]))
            | "Components" >> ConnectedComponents(cfg.cc_rounds)
            | "ByLabel" >> beam.Map(lambda nl: (nl[1].ref, nl))
            | "GroupClusters" >> beam.GroupByKey()
            | "Decide" >> beam.ParDo(Decide(cfg))
            | "GroupDecisions" >> beam.GroupByKey()
            | "DecisionMaps" >> beam.MapTuple(lambda k, ds: (k, dict(ds)))
        )
        current = pbegin | "CurrentFiles" >> beam.Create([(f.key, f) for f in self.current])
        rejected = (
            {"file": current, "dec": decisions}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(WriteFile(plan))
        )
        return rejected, edges


# ---- stage --------------------------------------------------------------------------------------------


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = [f for f in input_schema if f.name not in ("dup_cluster", "dup_count")]
    return pa.schema([*fields, *DUP_FIELDS])


def score_column(cfg: DedupConfig, schema: pa.Schema) -> str | None:
    name = cfg.score_column
    if not name or name not in schema.names:
        return None
    tp = schema.field(name).type
    if not (pa.types.is_integer(tp) or pa.types.is_floating(tp)):
        raise ConfigError(f"dedup.score_column: column {name!r} is {tp}, not numeric")
    return name


def prior_files(against: str | Path, cfg: DedupConfig) -> tuple[list[SourceFile], str]:
    """The kept documents of a previous run and their stored signatures; checks they are compatible."""
    prior = RunLayout(against)
    success = prior.read_success(NAME)
    pcfg = success.get("config", {})
    stored = pcfg.get("dedup", {})
    problems = [
        f"{k} {stored.get(k)!r} != {getattr(cfg, k)!r}"
        for k in ("num_perm", "seed", "shingle_size")
        if stored.get(k) != getattr(cfg, k)
    ]
    for k, v in (("normalization", NORMALIZATION_VERSION), ("signature_scheme", SIGNATURE_SCHEME)):
        if pcfg.get(k) != v:
            problems.append(f"{k} {pcfg.get(k)!r} != {v!r}")
    if problems:
        raise ConfigError(f"--against {against}: stored signatures are incompatible: {'; '.join(problems)}")
    files = []
    for k, part in enumerate(prior.parts(NAME)):
        sig = part.parent / SIGNATURES / part.name
        if not sig.is_file():
            raise StageError(f"--against {against}: missing stored signatures {sig}")
        files.append(SourceFile(PRIOR_FILE_BIT | k, str(part), str(sig)))
    return files, success["fingerprint"]


def cluster_stats(out: Path) -> dict[str, Any]:
    counts = np.array([], dtype=np.int64)
    for p in sorted(out.glob("part-*.parquet")):
        counts = np.concatenate([counts, pq.read_table(p, columns=["dup_count"]).column("dup_count").to_numpy()])
    dup = counts[counts > 1]
    sizes = {str(k): int(v) for k, v in zip(*np.unique(dup, return_counts=True), strict=True)} if len(dup) else {}
    return {
        "clusters": {
            "with_duplicates": int(len(dup)),
            "documents_in_them": int(dup.sum()) if len(dup) else 0,
            "largest": int(dup.max()) if len(dup) else 1,
            "by_size": sizes,
        }
    }


def run(
    layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None, against: str | None = None
) -> dict[str, Any]:
    cfg = config.dedup
    against = against or cfg.against
    src = layout.latest_documents_stage(before=NAME)
    parts = layout.parts(src)
    if not parts:
        raise StageError(f"stage '{src}' in {layout.root} has no part files")
    if len(parts) >= PRIOR_FILE_BIT:
        raise StageError(f"too many input files ({len(parts)})")
    in_schema = pq.read_schema(parts[0]).remove_metadata()
    bands, rows = cfg.banding()
    plan = Plan(cfg, bands, rows, score_column(cfg, in_schema))
    current = [SourceFile(i, str(p)) for i, p in enumerate(parts)]
    inputs = [f"{src}:{layout.read_success(src)['fingerprint']}"]
    prior: list[SourceFile] = []
    if against:
        if Path(against).resolve() == layout.root.resolve():
            raise ConfigError("--against: must be another run than --run")
        prior, prior_fp = prior_files(against, cfg)
        inputs.append(f"against:{prior_fp}")
    n = len(parts)
    schema = output_schema(in_schema)

    def build(p: beam.Pipeline, out: Path, rejected_dir: Path) -> None:
        for sub in (SIGNATURES, EDGES):
            (out / sub).mkdir(exist_ok=True)
        work = out.parent / "work"  # inside the stage's .tmp folder: removed by commit and abort
        work.mkdir(exist_ok=True)
        full_plan = replace(plan, out_dir=str(out), work_dir=str(work), out_schema=schema)
        rejected, edges = p | "Dedup" >> Dedup(full_plan, current, prior)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir, n, REJECTED_SCHEMA)
        _ = (
            edges
            | "EdgeRows" >> beam.Map(_edge_row)
            | "WriteEdges" >> WriteShards(out / EDGES, EDGE_SCHEMA, 1, key="edge")
        )

    def extra(out: Path) -> dict[str, Any]:
        return {"lsh": {"bands": bands, "rows": rows, "num_perm": cfg.num_perm, "threshold": cfg.threshold},
                "against": str(against) if against else None, **cluster_stats(out)}

    stage_config = {
        "dedup": cfg,
        "bands": bands,
        "rows": rows,
        "score_column": plan.score_column,
        "normalization": NORMALIZATION_VERSION,
        "signature_scheme": SIGNATURE_SCHEME,
        "against": str(against) if against else None,
    }
    total_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    stage = BeamStage(
        NAME, build, inputs,
        config=stage_config,
        finish=extra,
        total_docs=total_docs,
    )
    return run_beam_stage(stage, layout, config, beam_args)



# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", metavar="PRIOR_RUN",
        help="also remove documents that duplicate PRIOR_RUN's kept documents (reuses its stored signatures)",
    )


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if not args.against:
        return config
    return replace_section(config, "dedup", against=args.against)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    bands, rows = config.dedup.banding()
    print(s_curve(bands, rows))
    try:
        stats = run(RunLayout(args.run), config, beam_args)
    except ConfigError as e:
        print(f"curate dedup: {e}")
        return 2
    c = stats["counts"]
    print(f"dedup: {c['out']} kept of {c['in']}, {c['rejected']} removed -> {args.run}/dedup")
    for why, k in stats["rejected_by_reason"].items():
        print(f"  removed {why}: {k}")
    cl = stats["clusters"]
    print(f"  clusters with duplicates: {cl['with_duplicates']} (largest {cl['largest']} documents)")
    bc = stats.get("beam_counters", {})
    for key in ("candidate_pairs", "verified_pairs", "rejected_pairs", "lsh_buckets_oversized", "cc_residual_edges"):
        if f"{NAME}.{key}" in bc:
            print(f"  {key}: {bc[f'{NAME}.{key}']}")
    return 0

