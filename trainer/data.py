"""Streams the token shards listed in `RUN/shards/manifest.json` into packed training windows.

The contract with the tokenize stage (docs in the brief): every listed shard is a Parquet file with an
`input_ids` list<uint16|uint32> column whose documents end with `eos_id`; the manifest lists each file with
its split, row and token counts and sha256, and the tokenizer's fingerprint.

How the stream is built, all of it deterministic from the seed:

- **Pieces.** The unit of work is a piece: a Parquet row group, or a row range of one when there are
  fewer row groups than loader lanes. A *lane* is one (data-parallel rank, loader worker) pair; lane
  `rank * W + worker` of `world_size * W`.
- **Epochs.** Each epoch permutes the pieces with `default_rng([seed, epoch])`; lane `l` takes
  `order[l::lanes]`. Each lane runs through its own epochs independently (streams are infinite, so a lane
  with fewer tokens never stalls the others).
- **Packing.** A lane concatenates its pieces' documents (each already ends with `<eos>`, so documents are
  separated by `<eos>`), cuts the stream into non-overlapping windows of `seq_len + 1` tokens (inputs
  `w[:-1]`, targets `w[1:]`), carries the remainder into the next piece, and at the end of an epoch emits
  the last remainder as one window padded with `IGNORE_INDEX` (-1) so every token is yielded exactly once
  per epoch. A piece's windows are yielded in a seeded random order.
- **Zero copy.** A row group's `input_ids` is read with pyarrow and its flat `values` buffer viewed as a
  numpy array (no per-token Python; the only copies are the carry concatenation and the batch gather).
- **Resumable.** A lane's position is `(epoch, piece, window, carry)`: the carry is the remainder that
  entered the piece, so the piece's windows can be rebuilt exactly. `TrainLoader.state_dict()` holds the
  position of the last batch the trainer *consumed* (not what workers prefetched).
- **Integrity.** `load_manifest` refuses a manifest whose tokenizer fingerprint differs from the
  tokenizer's and any listed shard whose sha256, schema or token dtype does not match, naming the file.
- **Shards elsewhere.** With a `trainer.shardcache.ShardCache` (object storage: the caller gives it the
  functions that read the store), the manifest is read from the store, the plan from each shard's Parquet
  footer, and each shard is fetched into a local cache and verified (sha256, schema) before its first
  row is read, in the background, in the order the lanes will need them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from trainer.shards_format import FORMAT, MANIFEST

if TYPE_CHECKING:
    from trainer.shardcache import ShardCache

IGNORE_INDEX = -1  # same as trainer.model.IGNORE_INDEX (kept here so the loader does not import the model)
_HASH_BLOCK = 1 << 20


class ShardError(ValueError):
    """Shards or a manifest that must not be trained on. The message names the file."""


# ---- manifest ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardEntry:
    file: str
    split: str
    rows: int
    tokens: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    root: Path  # the shards folder (with a cache: the folder the caller named, for messages only)
    data: dict[str, Any] = field(repr=False)
    shards: tuple[ShardEntry, ...] = ()
    cache: ShardCache | None = field(default=None, repr=False, compare=False)  # shards in a store

    @property
    def tokenizer(self) -> dict[str, Any]:
        return self.data["tokenizer"]

    @property
    def fingerprint(self) -> str:
        return str(self.tokenizer.get("fingerprint", ""))

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer["vocab_size"])

    @property
    def eos_id(self) -> int:
        return int(self.tokenizer["eos_id"])

    @property
    def dtype(self) -> str:
        return str(self.data.get("dtype", "uint16"))

    def split(self, name: str) -> list[ShardEntry]:
        return [s for s in self.shards if s.split == name]

    def tokens(self, split: str) -> int:
        return sum(s.tokens for s in self.split(split))

    def path(self, entry: ShardEntry) -> Path:
        """The local file of a shard; with a cache, once it is fetched and verified (blocks until then)."""
        if self.cache is not None:
            return self.cache.local(self, entry)
        return self.root / entry.file

    def where(self, name: str) -> str:
        """A file of the shards folder as messages name it (a URL when the shards are in a store)."""
        return self.cache.url(name) if self.cache is not None else str(self.root / name)

    @cached_property
    def _by_file(self) -> dict[str, ShardEntry]:
        return {s.file: s for s in self.shards}

    def entry(self, file: str) -> ShardEntry:
        return self._by_file[file]

    def metadata(self, entry: ShardEntry) -> pq.FileMetaData:
        """A shard's Parquet footer (row groups); with a cache, read from the store without fetching it."""
        if self.cache is not None:
            return self.cache.metadata(self, entry)
        return pq.ParquetFile(self.root / entry.file).metadata

    def prefetch(self, files: list[str]) -> None:
        """The shards a reader will need next, in order (with a cache they are fetched first)."""
        if self.cache is not None:
            self.cache.prefetch(self, [self.entry(f) for f in files])


def load_manifest(
    shards_dir: str | Path,
    expected_fingerprint: str | None = None,
    *,
    verify: bool = True,
    cache: ShardCache | None = None,
) -> Manifest:
    """Read and check `shards_dir/manifest.json`. With `verify`, every listed shard's sha256 and schema are
    checked too (once per process and file state). Raises ShardError naming the offending file.

    With a `cache` the manifest comes from the store and `verify` is moot: each shard is verified when it
    is fetched, before its first use (verifying all of them here would fetch them all before step 1)."""
    root = Path(shards_dir)
    if cache is not None:
        path: Any = cache.url(MANIFEST)
        text = cache.read(MANIFEST)
    else:
        path = root / MANIFEST
        if not path.is_file():
            raise ShardError(f"{path}: no shard manifest (run `curate tokenize` first)")
        text = path.read_bytes()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ShardError(f"{path}: not valid JSON ({e})") from None
    if data.get("format") != FORMAT:
        raise ShardError(f"{path}: format {data.get('format')!r}, expected {FORMAT!r}")
    tok = data.get("tokenizer") or {}
    for key in ("vocab_size", "eos_id"):
        if key not in tok:
            raise ShardError(f"{path}: tokenizer.{key} missing")
    if data.get("dtype", "uint16") not in ("uint16", "uint32"):
        raise ShardError(f"{path}: dtype {data.get('dtype')!r} is not uint16 or uint32")
    found = str(tok.get("fingerprint", ""))
    if expected_fingerprint is not None and found != expected_fingerprint:
        raise ShardError(
            f"{path}: tokenizer fingerprint {found or '(none)'} does not match the tokenizer's "
            f"{expected_fingerprint}: these shards were written with another tokenizer "
            "(re-run `curate tokenize`)"
        )
    try:
        shards = tuple(
            ShardEntry(str(s["file"]), str(s["split"]), int(s["rows"]), int(s["tokens"]), str(s["sha256"]))
            for s in data.get("shards", [])
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ShardError(f"{path}: malformed shard entry ({e})") from None
    manifest = Manifest(root, data, shards, cache)
    if verify and cache is None:
        for entry in shards:
            verify_shard(manifest, entry)
    return manifest


_verified: dict[tuple[str, int, int, str], bool] = {}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def verify_shard(manifest: Manifest, entry: ShardEntry) -> None:
    """sha256 against the manifest, then the schema: `input_ids` list of the manifest's dtype, and a
    tokenizer fingerprint in the file's metadata (if the writer put one there) equal to the manifest's."""
    verify_file(manifest, entry, manifest.path(entry))


def verify_file(manifest: Manifest, entry: ShardEntry, path: Path, *, digest: str | None = None,
                where: str | None = None) -> None:
    """`verify_shard` for a file at `path` (a cached copy), named `where` in messages; `digest`: its sha256
    when the caller computed it while writing the file (so it is not read twice)."""
    where = where or str(path)
    if not path.is_file():
        raise ShardError(f"{where}: listed in {MANIFEST} but missing")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, entry.sha256)
    if key in _verified:
        return
    digest = digest or sha256_file(path)
    if digest != entry.sha256:
        raise ShardError(
            f"{where}: sha256 {digest[:16]}... does not match {MANIFEST}'s {entry.sha256[:16]}... "
            "(the shard is corrupted or was modified; re-run `curate tokenize`)"
        )
    schema = pq.read_schema(path)
    if "input_ids" not in schema.names:
        raise ShardError(f"{where}: no input_ids column")
    typ = schema.field("input_ids").type
    want = pa.uint16() if manifest.dtype == "uint16" else pa.uint32()
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or typ.value_type != want:
        raise ShardError(f"{where}: input_ids is {typ}, expected list<{want}> ({MANIFEST} dtype {manifest.dtype})")
    meta = schema.metadata or {}
    for k in (b"tokenizer_fingerprint", b"curate.tokenizer_fingerprint"):
        if k in meta and manifest.fingerprint and meta[k].decode() != manifest.fingerprint:
            raise ShardError(
                f"{where}: written by tokenizer {meta[k].decode()}, but {MANIFEST} says {manifest.fingerprint}"
            )
    _verified[key] = True


# ---- pieces --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    file: str
    row_group: int
    start: int  # rows [start, stop) of the row group
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


def plan_pieces(manifest: Manifest, split: str, min_pieces: int = 1) -> list[Piece]:
    """The row groups of the split's shards in manifest order; while there are fewer than `min_pieces`,
    the largest piece is halved by rows (so every lane gets work). Raises when the split is too small."""
    pieces: list[Piece] = []
    for entry in manifest.split(split):
        md = manifest.metadata(entry)
        for rg in range(md.num_row_groups):
            n = md.row_group(rg).num_rows
            if n:
                pieces.append(Piece(entry.file, rg, 0, n))
    while pieces and len(pieces) < min_pieces:
        i = max(range(len(pieces)), key=lambda j: (pieces[j].rows, -j))
        p = pieces[i]
        if p.rows < 2:
            break
        mid = p.start + p.rows // 2
        pieces[i : i + 1] = [Piece(p.file, p.row_group, p.start, mid), Piece(p.file, p.row_group, mid, p.stop)]
    if len(pieces) < min_pieces:
        raise ShardError(
            f"{manifest.where(MANIFEST)}: split {split!r} has {sum(p.rows for p in pieces)} documents, "
            f"fewer than the {min_pieces} loader lanes (ranks x workers) that must each get one"
        )
    return pieces


def list_flat_values(arr: pa.Array) -> np.ndarray:
    """The concatenated elements of a (possibly sliced) list array as a numpy view, without copying."""
    if arr.null_count:
        raise ShardError("input_ids has null rows")
    offsets = arr.offsets
    first, last = offsets[0].as_py(), offsets[len(offsets) - 1].as_py()
    return arr.values.slice(first, last - first).to_numpy(zero_copy_only=True)


def read_piece(manifest: Manifest, piece: Piece) -> np.ndarray:
    """All token ids of a piece, documents concatenated (each ends with eos), as uint16/uint32."""
    path = manifest.path(manifest.entry(piece.file))
    table = pq.ParquetFile(path, memory_map=True).read_row_group(piece.row_group, columns=["input_ids"])
    col = table.column(0).slice(piece.start, piece.rows)
    parts = [list_flat_values(chunk) for chunk in col.chunks if len(chunk)]
    if not parts:
        return np.zeros(0, dtype=np.uint16 if manifest.dtype == "uint16" else np.uint32)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# ---- one lane ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanePos:
    """Where a lane is: `window` windows of piece `piece` of epoch `epoch` are consumed; `carry` is the
    remainder of the previous pieces that is prepended to that piece. `piece == len(pieces)` is the padded
    tail window of the epoch (`window` 0: pending, 1: consumed)."""

    epoch: int = 0
    piece: int = 0
    window: int = 0
    carry: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "piece": self.piece, "window": self.window, "carry": list(self.carry)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LanePos:
        return cls(int(d["epoch"]), int(d["piece"]), int(d["window"]), tuple(int(x) for x in d["carry"]))


class LaneStream:
    """The packed windows of one split for one lane, epoch after epoch."""

    def __init__(
        self, manifest: Manifest, split: str, *, seq_len: int, lane: int = 0, lanes: int = 1,
        seed: int = 0, shuffle: bool = True, pieces: list[Piece] | None = None,
    ):
        if not 0 <= lane < lanes:
            raise ValueError(f"lane {lane} not in [0, {lanes})")
        self.manifest, self.split = manifest, split
        self.width = seq_len + 1
        self.lane, self.lanes, self.seed, self.shuffle = lane, lanes, seed, shuffle
        self.pieces = pieces if pieces is not None else plan_pieces(manifest, split, lanes)
        self.np_dtype = np.uint16 if manifest.dtype == "uint16" else np.uint32

    def epoch_pieces(self, epoch: int) -> list[int]:
        """Indices into `self.pieces` that this lane reads in `epoch`, in order."""
        n = len(self.pieces)
        order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
        return [int(i) for i in order[self.lane :: self.lanes]]

    def piece_windows(
        self, epoch: int, piece_id: int, carry: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(windows (n, seq_len+1) view, order of the n windows, the remainder carried to the next piece)."""
        tokens = read_piece(self.manifest, self.pieces[piece_id])
        stream = np.concatenate([carry.astype(tokens.dtype), tokens]) if len(carry) else tokens
        n = len(stream) // self.width
        windows = stream[: n * self.width].reshape(n, self.width)
        rest = np.array(stream[n * self.width :])
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch, piece_id, 1]).permutation(n)
        else:
            order = np.arange(n)
        return windows, order, rest

    def blocks(self, pos: LanePos | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, LanePos]]:
        """Infinite: (windows, order of those still to yield, position of the first of them)."""
        pos = pos or LanePos()
        epoch, p, w = pos.epoch, pos.piece, pos.window
        carry = np.asarray(pos.carry, dtype=self.np_dtype)
        while True:
            ids = self.epoch_pieces(epoch)
            self.manifest.prefetch(list(dict.fromkeys(self.pieces[i].file for i in ids[p:])))
            while p < len(ids):
                windows, order, rest = self.piece_windows(epoch, ids[p], carry)
                if w < len(order):
                    yield windows, order[w:], LanePos(epoch, p, w, tuple(carry.tolist()))
                p, w, carry = p + 1, 0, rest
            if len(carry) and w == 0:
                tail = np.full((1, self.width), IGNORE_INDEX, dtype=np.int64)
                tail[0, : len(carry)] = carry
                yield tail, np.arange(1), LanePos(epoch, p, 0, tuple(carry.tolist()))
            epoch, p, w, carry = epoch + 1, 0, 0, np.zeros(0, dtype=self.np_dtype)

    def epoch_windows(self, epoch: int) -> Iterator[np.ndarray]:
        """One epoch of this lane, block by block (int64 arrays of windows in yield order)."""
        for windows, order, pos in self.blocks(LanePos(epoch)):
            if pos.epoch != epoch:
                return
            yield windows[order].astype(np.int64)

    def batches(self, batch_size: int, pos: LanePos | None = None) -> Iterator[tuple[np.ndarray, LanePos]]:
        """Infinite: (int64 array (batch_size, seq_len+1), position after its last window)."""
        parts: list[np.ndarray] = []
        need = batch_size
        for windows, order, start in self.blocks(pos):
            i = 0
            while i < len(order):
                take = order[i : i + need]
                parts.append(windows[take])
                i += len(take)
                need -= len(take)
                if need == 0:
                    batch = parts[0].astype(np.int64) if len(parts) == 1 else np.concatenate(
                        [x.astype(np.int64) for x in parts])
                    yield batch, LanePos(start.epoch, start.piece, start.window + i, start.carry)
                    parts, need = [], batch_size


# ---- one rank ------------------------------------------------------------------------------------------


class _LaneDataset(torch.utils.data.IterableDataset):
    """DataLoader worker j serves lane `lanes[(j + rotation) % W]`, so a resumed loader continues the
    round-robin over workers where it stopped (DataLoader returns worker 0, 1, ... in order)."""

    def __init__(self, make_stream: dict[str, Any], lane_ids: list[int], positions: dict[int, LanePos],
                 rotation: int, batch_size: int):
        super().__init__()
        self.make_stream, self.lane_ids, self.positions = make_stream, lane_ids, positions
        self.rotation, self.batch_size = rotation, batch_size

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        j = info.id if info is not None else 0
        lane = self.lane_ids[(j + self.rotation) % len(self.lane_ids)]
        stream = LaneStream(**self.make_stream, lane=lane)
        for batch, pos in stream.batches(self.batch_size, self.positions.get(lane)):
            yield torch.from_numpy(batch), lane, pos.to_dict()


class TrainLoader:
    """Batches of packed windows for one data-parallel rank; an infinite iterator of int64 tensors
    (batch_size, seq_len + 1). With `num_workers` > 0 the lanes run in DataLoader worker processes."""

    def __init__(
        self, manifest: Manifest, split: str = "train", *, seq_len: int, batch_size: int, rank: int = 0,
        world_size: int = 1, num_workers: int = 0, seed: int = 0, pin_memory: bool = False,
        state: dict[str, Any] | None = None,
    ):
        self.workers = max(1, num_workers)
        self.num_workers = num_workers
        self.lanes = world_size * self.workers
        self.lane_ids = [rank * self.workers + j for j in range(self.workers)]
        self.batch_size, self.seq_len, self.pin_memory = batch_size, seq_len, pin_memory
        self.pieces = plan_pieces(manifest, split, self.lanes)
        self.make_stream = dict(manifest=manifest, split=split, seq_len=seq_len, lanes=self.lanes,
                                seed=seed, pieces=self.pieces)
        self.positions: dict[int, LanePos] = {}
        self.consumed = 0
        if state is not None:
            self.load_state_dict(state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["lanes"]) != self.lanes or int(state["seq_len"]) != self.seq_len:
            raise ValueError(
                f"loader state is for {state['lanes']} lanes and seq_len {state['seq_len']}, this loader has "
                f"{self.lanes} lanes (ranks x workers) and seq_len {self.seq_len}: resume with the same "
                "number of processes, num_workers and seq_len"
            )
        self.positions = {int(k): LanePos.from_dict(v) for k, v in state["positions"].items()}
        self.consumed = int(state["consumed"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "lanes": self.lanes, "seq_len": self.seq_len, "consumed": self.consumed,
            "positions": {str(k): v.to_dict() for k, v in self.positions.items()},
        }

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.num_workers == 0:
            stream = LaneStream(**self.make_stream, lane=self.lane_ids[0])
            lane = self.lane_ids[0]
            for batch, pos in stream.batches(self.batch_size, self.positions.get(lane)):
                t = torch.from_numpy(batch)
                self.positions[lane] = pos
                self.consumed += 1
                yield t.pin_memory() if self.pin_memory else t
            return
        dataset = _LaneDataset(self.make_stream, self.lane_ids, dict(self.positions),
                               self.consumed % self.workers, self.batch_size)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=None, num_workers=self.num_workers, pin_memory=self.pin_memory,
            prefetch_factor=4, persistent_workers=False,
        )
        for t, lane, pos in loader:
            self.positions[int(lane)] = LanePos.from_dict(pos)
            self.consumed += 1
            yield t


def eval_batches(manifest: Manifest, split: str, *, seq_len: int, batch_size: int, max_batches: int,
                 rank: int = 0, world_size: int = 1) -> list[torch.Tensor]:
    """This rank's validation batches: the first `max_batches * batch_size * world_size` windows of one
    unshuffled single-lane pass over `split`, of which rank r takes windows r, r + world_size, ... So the
    evaluated windows (and the loss) do not depend on how many processes share them."""
    if not manifest.split(split):
        return []
    stream = LaneStream(manifest, split, seq_len=seq_len, shuffle=False, pieces=plan_pieces(manifest, split))
    want = max_batches * batch_size * world_size
    blocks, n = [], 0
    for block in stream.epoch_windows(0):
        blocks.append(block)
        n += len(block)
        if n >= want:
            break
    if not blocks:
        return []
    windows = np.concatenate(blocks)[:want][rank::world_size]
    return [torch.from_numpy(np.ascontiguousarray(windows[i : i + batch_size]))
            for i in range(0, len(windows), batch_size)]


# ---- statistics ----------------------------------------------------------------------------------------


def token_counts(manifest: Manifest, split: str = "train") -> np.ndarray:
    """How often each token id occurs in the split (length vocab_size)."""
    counts = np.zeros(manifest.vocab_size, dtype=np.int64)
    for piece in plan_pieces(manifest, split, 1) if manifest.split(split) else []:
        tokens = read_piece(manifest, piece)
        counts += np.bincount(tokens, minlength=manifest.vocab_size)[: manifest.vocab_size]
    return counts


def unigram_entropy(manifest: Manifest, split: str = "train") -> float:
    """Entropy in nats of the split's token distribution: the loss of the best model that ignores context,
    the bar a language model's validation loss must clear."""
    counts = token_counts(manifest, split)
    total = counts.sum()
    if not total:
        return math.nan
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def unigram_cross_entropy(manifest: Manifest, fit: str = "train", score: str = "val") -> float:
    """Loss in nats/token on `score` of the unigram model fitted on `fit` (add-one smoothed): the
    validation loss of the best context-free model, the baseline a language model's val loss must beat."""
    fitted, scored = token_counts(manifest, fit) + 1, token_counts(manifest, score)
    if not scored.sum():
        return math.nan
    logp = np.log(fitted / fitted.sum())
    return float(-(scored * logp).sum() / scored.sum())
