"""The shard loader: exactly-once epochs, determinism, resumable positions, integrity checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from tests.trainer.conftest import EOS, FINGERPRINT, write_shards
from trainer.data import (
    IGNORE_INDEX,
    LaneStream,
    ShardError,
    TrainLoader,
    eval_batches,
    list_flat_values,
    load_manifest,
    plan_pieces,
    read_piece,
    token_counts,
    unigram_entropy,
)


@pytest.mark.parametrize("lanes,row_group_size", [(1, None), (2, 7), (4, 7), (5, None)])
def test_every_train_token_exactly_once_per_epoch(tmp_path: Path, lanes: int, row_group_size: int | None):
    m = load_manifest(write_shards(tmp_path / "s", unique_tokens=True, vocab_size=20000,
                                   row_group_size=row_group_size), FINGERPRINT)
    expected = token_counts(m, "train")
    assert expected[4:].max() == 1 and expected[EOS] == 3 * 40  # unique ids, one eos per document
    for epoch in (0, 3):
        seen = np.zeros(m.vocab_size, dtype=np.int64)
        for lane in range(lanes):
            stream = LaneStream(m, "train", seq_len=16, lane=lane, lanes=lanes, seed=7)
            for block in stream.epoch_windows(epoch):
                assert block.shape[1] == 17
                tokens = block[block != IGNORE_INDEX]
                seen += np.bincount(tokens, minlength=m.vocab_size)
        np.testing.assert_array_equal(seen, expected)
    assert seen.sum() == m.tokens("train")


def test_batches_follow_the_epoch_windows_and_pad_only_the_tail(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s", unique_tokens=True, vocab_size=20000), FINGERPRINT)
    stream = LaneStream(m, "train", seq_len=16, seed=1)
    epoch0 = np.concatenate(list(stream.epoch_windows(0)))
    batches = stream.batches(batch_size=5)
    got = np.concatenate([next(batches)[0] for _ in range(-(-len(epoch0) // 5))])
    np.testing.assert_array_equal(got[: len(epoch0)], epoch0)
    padded = (epoch0 == IGNORE_INDEX).any(axis=1)
    assert padded.sum() <= 1 and (not padded.any() or padded[-1])  # only the epoch's last window
    # the windows after the epoch are the next epoch's, in another order
    epoch1 = np.concatenate(list(stream.epoch_windows(1)))
    np.testing.assert_array_equal(got[len(epoch0):], epoch1[: len(got) - len(epoch0)])
    assert not np.array_equal(epoch0[: len(epoch1)], epoch1[: len(epoch0)])


def test_order_is_deterministic_from_the_seed(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s"), FINGERPRINT)

    def first(seed: int) -> np.ndarray:
        it = LaneStream(m, "train", seq_len=32, seed=seed).batches(4)
        return np.concatenate([next(it)[0] for _ in range(6)])

    np.testing.assert_array_equal(first(0), first(0))
    assert not np.array_equal(first(0), first(1))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_resumes_exactly_from_its_state(tmp_path: Path, num_workers: int):
    m = load_manifest(write_shards(tmp_path / "s", row_group_size=10), FINGERPRINT)
    kw = dict(seq_len=32, batch_size=3, num_workers=num_workers, seed=5)
    loader = TrainLoader(m, **kw)
    it = iter(loader)
    for _ in range(7):  # an odd count: the resumed round-robin must start at the second worker
        next(it)
    state = json.loads(json.dumps(loader.state_dict()))  # plain data, as in a checkpoint
    expected = [next(it) for _ in range(40)]  # runs past the end of an epoch
    resumed = iter(TrainLoader(m, **kw, state=state))
    for a, b in zip(expected, (next(resumed) for _ in range(40)), strict=True):
        assert a.dtype == torch.int64 and a.shape == (3, 33)
        assert torch.equal(a, b)


def test_loader_state_refuses_another_lane_layout(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s"), FINGERPRINT)
    loader = TrainLoader(m, seq_len=32, batch_size=2)
    next(iter(loader))
    with pytest.raises(ValueError, match="same number of processes"):
        TrainLoader(m, seq_len=32, batch_size=2, world_size=2, state=loader.state_dict())


def test_ranks_split_the_shards(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s", unique_tokens=True, vocab_size=20000), FINGERPRINT)
    seen = []
    for rank in range(2):
        b = next(iter(TrainLoader(m, seq_len=16, batch_size=64, rank=rank, world_size=2)))
        seen.append(set(b[b >= 4].tolist()))
    assert seen[0] and seen[1] and not (seen[0] & seen[1])


def test_flat_values_are_a_zero_copy_view():
    arr = pa.array([[1, 2, 3], [4], [5, 6]], pa.list_(pa.uint16())).slice(1, 2)
    flat = list_flat_values(arr)
    np.testing.assert_array_equal(flat, [4, 5, 6])
    assert flat.dtype == np.uint16 and not flat.flags.writeable  # a read-only view of Arrow's buffer
    assert np.shares_memory(flat, np.frombuffer(arr.values.buffers()[1], dtype=np.uint16))


def test_read_piece_concatenates_documents_ending_in_eos(shards: Path):
    m = load_manifest(shards, FINGERPRINT)
    pieces = plan_pieces(m, "train")
    tokens = read_piece(m, pieces[0])
    assert tokens[-1] == EOS and (tokens == EOS).sum() == pieces[0].rows


def test_pieces_split_row_groups_for_many_lanes(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s", train_shards=1, docs_per_shard=9), FINGERPRINT)
    pieces = plan_pieces(m, "train", 4)
    assert len(pieces) == 4 and sum(p.rows for p in pieces) == 9
    with pytest.raises(ShardError, match="fewer than the 10 loader lanes"):
        plan_pieces(m, "train", 10)


def test_corrupted_shard_is_refused_naming_the_file(shards: Path):
    target = shards / "train-00001-of-00003.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ShardError, match=r"train-00001-of-00003\.parquet: sha256 .* does not match"):
        load_manifest(shards, FINGERPRINT)


def test_missing_shard_is_refused_naming_the_file(shards: Path):
    (shards / "val-00000-of-00001.parquet").unlink()
    with pytest.raises(ShardError, match=r"val-00000-of-00001\.parquet: listed in manifest.json but missing"):
        load_manifest(shards)


def test_tokenizer_fingerprint_mismatch_is_refused(shards: Path):
    with pytest.raises(ShardError, match=rf"manifest.json: tokenizer fingerprint {FINGERPRINT} does not match "
                                         r"the tokenizer's 0123abcd"):
        load_manifest(shards, "0123abcd")


def test_wrong_token_dtype_is_refused(shards: Path):
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["dtype"] = "uint32"
    (shards / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ShardError, match=r"train-00000-of-00003\.parquet: input_ids is list<.*uint16"):
        load_manifest(shards)


def test_only_listed_shards_are_read(shards: Path):
    (shards / "train-00009-of-00003.parquet").write_bytes(b"not parquet")  # unlisted: ignored
    m = load_manifest(shards, FINGERPRINT)
    assert sum(p.rows for p in plan_pieces(m, "train")) == 120


def test_eval_batches_cover_the_val_split_once(shards: Path):
    m = load_manifest(shards, FINGERPRINT)
    counts = np.zeros(m.vocab_size, dtype=np.int64)
    for rank in range(2):
        for b in eval_batches(m, "val", seq_len=16, batch_size=4, max_batches=10_000, rank=rank, world_size=2):
            counts += np.bincount(b[b != IGNORE_INDEX].numpy(), minlength=m.vocab_size)
    np.testing.assert_array_equal(counts, token_counts(m, "val"))


def test_unigram_entropy_of_uniform_tokens(tmp_path: Path):
    m = load_manifest(write_shards(tmp_path / "s", vocab_size=64, docs_per_shard=200), FINGERPRINT)
    h = unigram_entropy(m)
    assert 3.9 < h < np.log(61) + 1e-9  # ~uniform over 60 ids plus eos
