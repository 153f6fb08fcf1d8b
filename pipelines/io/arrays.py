"""NumPy scratch files shared by a stage's workers (dedup's sketches, dedup_lines' unit hashes), on a
local disk or an object store, written whole or not at all like every other run file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from pipelines import storage


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    path = str(path)
    if storage.is_remote(path):
        buf = io.BytesIO()  # np.savez seeks back into its zip; the object goes up in one piece
        np.savez(buf, **arrays)
        storage.write_bytes(path, buf.getvalue())
        return
    local = Path(path)
    tmp = local.with_name(f".{local.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    tmp.replace(local)


def save_npy(path: str | Path, array: np.ndarray) -> None:
    path = str(path)
    if storage.is_remote(path):
        buf = io.BytesIO()
        np.save(buf, array)
        storage.write_bytes(path, buf.getvalue())
        return
    local = Path(path)
    tmp = local.with_name(f".{local.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    tmp.replace(local)


def load(path: str | Path, mmap_mode: Any = None) -> Any:
    """`np.load` of a local file (memory-mapped when asked) or of an object (read whole: a scratch file
    of one input part)."""
    path = str(path)
    if storage.is_remote(path):
        return np.load(io.BytesIO(storage.read_bytes(path)))
    return np.load(path, mmap_mode=mmap_mode)
