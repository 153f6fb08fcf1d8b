"""Atomic checkpoints that `torch.load(weights_only=True)` can read, keeping the last K.

A checkpoint is one `step-00000100.pt` file holding only tensors and plain containers of str/int/float/
bool/None (the config is a JSON string, RNG states are tensors or lists), so loading never unpickles
arbitrary objects. Writing goes to a temporary file in the same folder, which is flushed and fsynced,
then `os.replace`d over the final name and the folder fsynced: a crash leaves either the old set of
checkpoints or the new one, never a torn file.
"""

from __future__ import annotations

import os
import random
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

_NAME = re.compile(r"^step-(\d{8,})\.pt$")


def checkpoint_path(folder: Path, step: int) -> Path:
    return Path(folder) / f"step-{step:08d}.pt"


def checkpoint_step(name: str) -> int | None:
    """The step of a checkpoint file named `name` (None: not a complete checkpoint's name)."""
    m = _NAME.match(name)
    return int(m.group(1)) if m else None


def list_checkpoints(folder: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints in `folder`, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(folder: str | os.PathLike[str]) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(folder: str | os.PathLike[str], step: int, state: dict[str, Any], keep_last: int) -> Path:
    """Write `state` as the checkpoint of `step` atomically, then delete all but the newest `keep_last`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(folder, step)
    tmp = folder / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(folder)
    for _, old in list_checkpoints(folder)[:-keep_last]:
        old.unlink(missing_ok=True)
    for stale in folder.glob(".step-*.tmp"):  # left by a crash mid-write
        stale.unlink(missing_ok=True)
    return final


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)


# ---- RNG states in a weights_only-friendly form ----------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and CUDA generator states as tensors and lists."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [np_name, torch.from_numpy(np.asarray(np_keys, dtype=np.int64)), int(np_pos),
                  int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py_version, py_state, py_gauss = state["python"]
    random.setstate((int(py_version), tuple(int(x) for x in py_state), py_gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), int(np_pos), int(np_has_gauss),
                         float(np_gauss)))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
