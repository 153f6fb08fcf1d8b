"""Shards read through a ShardCache (the shards in "a store": another folder, read by the same kind of
functions the pipelines side gives for object storage): same batches and losses as reading the folder,
verification before use, cache reuse."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.trainer.conftest import write_shards
from trainer.config import ModelConfig, TrainConfig
from trainer.data import ShardError, TrainLoader, eval_batches, load_manifest
from trainer.shardcache import ShardCache
from trainer.train import train

TINY = TrainConfig(
    model=ModelConfig(d_model=32, n_layers=2, n_heads=2, seq_len=32),
    batch_size=4, grad_accum=1, max_steps=6, warmup_steps=2, eval_interval=3, eval_batches=2,
    log_interval=1, checkpoint_interval=0,
)


class Store:
    """A folder standing in for a bucket: counts the files opened (each open is a fetch)."""

    def __init__(self, folder: Path):
        self.folder, self.opened = folder, []

    def url(self, name: str) -> str:
        return f"store://{self.folder.name}/{name}"

    def open(self, name: str):
        self.opened.append(name)
        return open(self.folder / name, "rb")

    def cache(self, cache_dir: Path) -> ShardCache:
        return ShardCache(self.url, self.open, cache_dir)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(write_shards(tmp_path / "bucket", row_group_size=16))


def _batches(manifest, n: int, num_workers: int = 0) -> list[np.ndarray]:
    loader = TrainLoader(manifest, seq_len=32, batch_size=4, num_workers=num_workers, seed=3)
    out = []
    for t in loader:
        out.append(t.numpy())
        if len(out) == n:
            return out
    return out


@pytest.mark.parametrize("num_workers", [0, 2])
def test_batches_through_the_cache_equal_the_local_ones(store: Store, tmp_path: Path, num_workers: int):
    local = load_manifest(store.folder)
    cached = load_manifest("shards", cache=store.cache(tmp_path / "cache"))
    a, b = _batches(local, 30, num_workers), _batches(cached, 30, num_workers)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    val_a = eval_batches(local, "val", seq_len=32, batch_size=4, max_batches=3)
    val_b = eval_batches(cached, "val", seq_len=32, batch_size=4, max_batches=3)
    assert all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(val_a, val_b, strict=True))


def test_training_through_the_cache_gives_the_same_losses(store: Store, tmp_path: Path):
    cache = store.cache(tmp_path / "cache")
    local = train(TINY, store.folder, tmp_path / "local", log=None)
    remote = train(TINY, "shards", tmp_path / "remote", log=None, shard_cache=cache)

    def losses(out: Path) -> list[tuple]:
        return [(r["step"], r["loss"], r.get("val_loss"))
                for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]

    assert losses(tmp_path / "remote") == losses(tmp_path / "local") and losses(tmp_path / "local")
    assert (remote.loss, remote.val_loss) == (local.loss, local.val_loss)
    assert cache.downloads >= 1


def test_plan_reads_footers_and_shards_are_fetched_on_demand(store: Store, tmp_path: Path):
    cache = ShardCache(store.url, store.open, tmp_path / "cache", threads=1)
    manifest = load_manifest("shards", cache=cache)
    loader = TrainLoader(manifest, seq_len=32, batch_size=4, seed=0)
    assert not list((tmp_path / "cache" / "shards").glob("*.parquet"))  # planning fetched no shard
    next(iter(loader))
    entries = {e.file: e for e in manifest.shards}
    assert any(cache.cached_path(e).is_file() for e in entries.values())


def test_cache_is_reused_and_a_damaged_copy_is_fetched_again(store: Store, tmp_path: Path):
    first = store.cache(tmp_path / "cache")
    m1 = load_manifest("shards", cache=first)
    paths = [m1.path(e) for e in m1.shards]
    assert first.downloads == len(m1.shards)
    store.opened.clear()
    again = store.cache(tmp_path / "cache")
    m2 = load_manifest("shards", cache=again)
    assert [m2.path(e) for e in m2.shards] == paths
    assert again.downloads == 0 and store.opened == ["manifest.json"]  # only the manifest is read
    data = bytearray(paths[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    paths[0].write_bytes(bytes(data))
    third = store.cache(tmp_path / "cache")
    m3 = load_manifest("shards", cache=third)
    assert m3.path(m3.shards[0]) == paths[0] and third.downloads == 1


def test_a_shard_whose_bytes_changed_in_the_store_is_refused(store: Store, tmp_path: Path):
    name = json.loads((store.folder / "manifest.json").read_text())["shards"][1]["file"]
    data = bytearray((store.folder / name).read_bytes())
    data[100] ^= 0x01
    (store.folder / name).write_bytes(bytes(data))
    cache = store.cache(tmp_path / "cache")
    manifest = load_manifest("shards", cache=cache)
    with pytest.raises(ShardError, match=rf"store://bucket/{name}: sha256 .* does not match .*refused"):
        for e in manifest.shards:
            manifest.path(e)
    assert not (tmp_path / "cache" / "shards" / f"{manifest.shards[1].sha256}.parquet").exists()
    with pytest.raises(ShardError, match=name):
        train(replace(TINY, max_steps=2), "shards", tmp_path / "out", log=None, shard_cache=store.cache(tmp_path / "c2"))
