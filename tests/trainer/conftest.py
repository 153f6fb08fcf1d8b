"""Tiny token shards written by the tokenize stage's contract (see the brief), for the trainer tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

FINGERPRINT = "f" * 16
EOS = 3


def write_shards(
    folder: Path,
    *,
    train_shards: int = 3,
    val_shards: int = 1,
    docs_per_shard: int = 40,
    vocab_size: int = 512,
    mean_len: int = 60,
    seed: int = 0,
    fingerprint: str = FINGERPRINT,
    row_group_size: int | None = None,
    unique_tokens: bool = False,
    token_source=None,
) -> Path:
    """Write `folder/{train,val}-*.parquet` and `manifest.json` with random documents ending in eos.

    unique_tokens: every non-eos token id occurs once in the whole train split (so a loader that repeats or
    drops a token is caught by a histogram); needs a vocab larger than the token count.
    token_source(rng, n) -> ids: where the document bodies come from (default: uniform random ids >= 4)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    pa_type = pa.uint16() if dtype == np.uint16 else pa.uint32()
    next_unique = 4
    entries, totals = [], {"train": {"rows": 0, "tokens": 0}, "val": {"rows": 0, "tokens": 0}}
    for split, n_shards in (("train", train_shards), ("val", val_shards)):
        for i in range(n_shards):
            docs = []
            for _ in range(docs_per_shard):
                n = int(rng.integers(1, 2 * mean_len))
                if unique_tokens and split == "train":
                    body = np.arange(next_unique, next_unique + n)
                    next_unique += n
                    assert next_unique < vocab_size, "vocab too small for unique tokens"
                elif token_source is not None:
                    body = token_source(rng, n)
                else:
                    body = rng.integers(4, vocab_size, n)
                docs.append(np.append(body, EOS).astype(dtype))
            ids = [f"{split}-{i}-{j:05d}" for j in range(len(docs))]
            table = pa.table({
                "id": pa.array(ids, pa.string()),
                "source": pa.array(["web" if j % 2 else "books" for j in range(len(docs))], pa.string()),
                "input_ids": pa.array([d.tolist() for d in docs], pa.list_(pa_type)),
                "num_tokens": pa.array([len(d) for d in docs], pa.int32()),
            })
            name = f"{split}-{i:05d}-of-{n_shards:05d}.parquet"
            pq.write_table(table, folder / name, row_group_size=row_group_size)
            tokens = int(sum(len(d) for d in docs))
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
            entries.append({"file": name, "split": split, "rows": len(docs), "tokens": tokens, "sha256": digest})
            totals[split]["rows"] += len(docs)
            totals[split]["tokens"] += tokens
    manifest = {
        "format": "curate-shards/1",
        "tokenizer": {"fingerprint": fingerprint, "vocab_size": vocab_size, "pad_id": 0, "unk_id": 1,
                      "bos_id": 2, "eos_id": EOS, "add_bos": False},
        "dtype": "uint16" if dtype == np.uint16 else "uint32",
        "shards": entries,
        "totals": totals,
        "by_source": {},
        "seed": seed,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def markov_source(vocab_size: int, seed: int = 1):
    """Documents from a sparse first-order Markov chain: learnable, so the loss falls well below the
    unigram entropy within a few dozen steps."""
    rng = np.random.default_rng(seed)
    succ = rng.integers(4, vocab_size, size=(vocab_size, 4))

    def source(r: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int64)
        tok = int(r.integers(4, vocab_size))
        for i in range(n):
            out[i] = tok
            tok = int(succ[tok, r.integers(0, 4)])
        return out

    return source


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny models here run fastest on one thread, and the test machine's cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    return write_shards(tmp_path / "shards")
