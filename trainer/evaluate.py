"""Bits per byte of a model on held-out text: the metric that compares data recipes across tokenizers.

A language model's loss in nats per token depends on the tokenizer (a bigger vocabulary has fewer, harder
tokens); the total negative log-likelihood of a text does not, so dividing it by the text's UTF-8 bytes
gives a figure that compares any two models on the same text (Gao et al. 2020, "The Pile", section 4;
DataDecide, Magnusson et al. 2025, found such continuous metrics rank recipes at small scale far better than
accuracy):

    bits per byte = sum over the text's tokens of -ln p(token | context) / ln 2 / UTF-8 bytes of the text

Each item is scored as the model saw documents in training: `<eos>` (which ends the document before it in
the packed stream) then the item's tokens; only the item's own tokens are scored (not a closing `<eos>`,
which has no bytes). An item longer than the context is scored in consecutive windows of `seq_len` targets,
each window's context starting at its first token.

Pure torch + numpy: the caller tokenizes (pipelines/stages/eval.py uses the run's SentencePiece model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainer.model import IGNORE_INDEX


@dataclass(frozen=True)
class TokenizedEvalSet:
    """One eval set as the model sees it: token ids of each item (no special tokens) and its size."""

    name: str
    docs: Sequence[np.ndarray]
    n_bytes: int  # UTF-8 bytes of the items' texts

    @property
    def tokens(self) -> int:
        return int(sum(len(d) for d in self.docs))


@dataclass(frozen=True)
class EvalResult:
    name: str
    bits_per_byte: float
    nll_nats: float  # summed over every scored token
    tokens: int
    bytes: int
    items: int

    @property
    def nats_per_token(self) -> float:
        return self.nll_nats / self.tokens if self.tokens else math.nan

    def to_dict(self) -> dict[str, float | int | str]:
        return {"name": self.name, "bits_per_byte": self.bits_per_byte, "nll_nats": self.nll_nats,
                "nats_per_token": self.nats_per_token, "tokens": self.tokens, "bytes": self.bytes,
                "items": self.items}


def eval_windows(docs: Sequence[np.ndarray], eos_id: int, seq_len: int) -> np.ndarray:
    """(n, seq_len + 1) int64 windows: inputs `w[:-1]`, targets `w[1:]`, padding IGNORE_INDEX.

    Every token of every doc is a target exactly once; the first window of a doc starts with `<eos>`."""
    rows: list[np.ndarray] = []
    for ids in docs:
        seq = np.concatenate([np.array([eos_id], dtype=np.int64), np.asarray(ids, dtype=np.int64)])
        for start in range(0, len(ids), seq_len):
            chunk = seq[start : start + seq_len + 1]
            row = np.full(seq_len + 1, IGNORE_INDEX, dtype=np.int64)
            row[: len(chunk)] = chunk
            rows.append(row)
    if not rows:
        return np.zeros((0, seq_len + 1), dtype=np.int64)
    return np.stack(rows)


@torch.no_grad()
def summed_nll(model: nn.Module, windows: np.ndarray, *, batch_size: int, device: torch.device | str = "cpu",
               amp_dtype: torch.dtype | None = None) -> tuple[float, int]:
    """(summed next-token NLL in nats over the non-padding targets, number of targets)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for i in range(0, len(windows), batch_size):
            batch = torch.from_numpy(windows[i : i + batch_size]).to(device)
            x, y = batch[:, :-1].clamp_min(0), batch[:, 1:]
            if amp_dtype is not None:
                with torch.autocast(torch.device(device).type, dtype=amp_dtype):
                    loss = model(x, y)
            else:
                loss = model(x, y)
            total += float(loss.double())
            count += int((y != IGNORE_INDEX).sum())
    finally:
        model.train(was_training)
    return total, count


def bits_per_byte(model: nn.Module, data: TokenizedEvalSet, *, eos_id: int, seq_len: int, batch_size: int = 16,
                  device: torch.device | str = "cpu", amp_dtype: torch.dtype | None = None) -> EvalResult:
    """Bits per byte of `model` (whose forward(x, y) returns the summed loss) on `data`."""
    windows = eval_windows(data.docs, eos_id, seq_len)
    nll, tokens = summed_nll(model, windows, batch_size=batch_size, device=device, amp_dtype=amp_dtype)
    bpb = nll / math.log(2) / data.n_bytes if data.n_bytes else math.nan
    return EvalResult(data.name, bpb, nll, tokens, data.n_bytes, len(data.docs))
