"""Sampling from the latest checkpoint: temperature and top-k (Fan et al. 2018), decoded with the run's
SentencePiece model. The checkpoint must come from the same tokenizer (fingerprints are compared)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainer.checkpoint import latest_checkpoint, load_checkpoint
from trainer.config import ModelConfig
from trainer.model import Transformer
from trainer.train import CHECKPOINTS


@dataclass
class Loaded:
    model: Transformer
    tokenizer: dict[str, Any]  # the manifest's tokenizer section: fingerprint, vocab_size, eos_id...
    step: int
    path: Path


def load_model(train_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> Loaded:
    path = latest_checkpoint(Path(train_dir) / CHECKPOINTS)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {Path(train_dir) / CHECKPOINTS} (run `curate train` first)")
    ckpt = load_checkpoint(path, map_location="cpu")
    model_cfg = ModelConfig(**json.loads(ckpt["config"])["model"])
    model = Transformer(model_cfg, int(ckpt["meta"]["vocab_size"]))
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return Loaded(model, json.loads(ckpt["meta"]["tokenizer"]), int(ckpt["step"]), path)


@torch.no_grad()
def sample(
    model: Transformer,
    prompt: list[int],
    *,
    max_new_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 50,
    eos_id: int | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Continue `prompt` (token ids) by up to `max_new_tokens`, stopping after `eos_id`.
    temperature 0 is greedy. The context is cropped to the model's seq_len."""
    device = next(model.parameters()).device
    ids = torch.tensor([prompt or ([eos_id] if eos_id is not None else [0])], dtype=torch.long, device=device)
    out: list[int] = []
    for _ in range(max_new_tokens):
        logits = model(ids[:, -model.cfg.seq_len:])[0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            nxt = int(torch.multinomial(probs.cpu(), 1, generator=generator))
        out.append(nxt)
        if eos_id is not None and nxt == eos_id:
            break
        ids = torch.cat([ids, torch.tensor([[nxt]], device=device)], dim=1)
    return out


def generate_text(
    train_dir: str | os.PathLike[str],
    tokenizer_model: str | os.PathLike[str],
    prompt: str,
    *,
    tokenizer_fingerprint: str | None = None,
    max_new_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 50,
    seed: int = 0,
    num_samples: int = 1,
    device: str = "cpu",
) -> list[str]:
    """Samples continuing `prompt` from the latest checkpoint in `train_dir`, decoded with the SentencePiece
    `tokenizer_model`; a checkpoint trained with another tokenizer than `tokenizer_fingerprint` is refused."""
    import sentencepiece as spm

    loaded = load_model(Path(train_dir), device)
    tok = loaded.tokenizer
    model_file = Path(tokenizer_model)
    if not model_file.is_file():
        raise FileNotFoundError(f"{model_file}: no tokenizer model")
    fp = tokenizer_fingerprint
    if fp and tok.get("fingerprint") and fp != tok["fingerprint"]:
        raise ValueError(f"{loaded.path}: trained with tokenizer {tok['fingerprint']}, but {model_file} is {fp}")
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    prompt_ids = list(sp.encode(prompt))
    if tok.get("add_bos") and tok.get("bos_id") is not None:
        prompt_ids = [int(tok["bos_id"])] + prompt_ids
    gen = torch.Generator().manual_seed(seed)
    texts = []
    for _ in range(num_samples):
        ids = sample(loaded.model, prompt_ids, max_new_tokens=max_new_tokens, temperature=temperature,
                     top_k=top_k, eos_id=int(tok["eos_id"]), generator=gen)
        ids = [i for i in ids if i != int(tok["eos_id"])]
        texts.append(sp.decode(prompt_ids + ids) if prompt_ids else sp.decode(ids))
    return texts
