"""Checkpoints: atomic, keep the last K, loadable with weights_only=True, RNG states round-trip."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_keeps_the_last_k_and_leaves_no_temporary_files(tmp_path: Path):
    for step in (10, 20, 30, 40):
        save_checkpoint(tmp_path, step, {"step": step, "w": torch.ones(3) * step}, keep_last=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [30, 40]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000030.pt", "step-00000040.pt"]
    assert latest_checkpoint(tmp_path).name == "step-00000040.pt"


def test_a_torn_write_is_never_taken_for_a_checkpoint(tmp_path: Path):
    save_checkpoint(tmp_path, 1, {"step": 1}, keep_last=3)
    (tmp_path / ".step-00000002.pt.abcd1234.tmp").write_bytes(b"half a checkpoint")
    assert latest_checkpoint(tmp_path).name == "step-00000001.pt"


def test_rng_states_round_trip_through_a_weights_only_load(tmp_path: Path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint(tmp_path, 5, {"rng": rng_state(), "opt": {"betas": (0.9, 0.95), "n": None}}, keep_last=1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    state = load_checkpoint(latest_checkpoint(tmp_path))  # torch.load(weights_only=True)
    set_rng_state(state["rng"])
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])
