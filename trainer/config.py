"""Configuration of the train stage (frozen dataclasses, loaded by pipelines.config).

The defaults train the demo model: small enough that `make demo` runs a few hundred steps on two CPU
cores in about two minutes on a few MB of text tokenized with a 4-8k vocabulary. The vocabulary size is
not configured here: it is read from the shards' manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ModelConfig:
    """A decoder-only transformer (RMSNorm, RoPE, SwiGLU, tied embeddings)."""

    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    seq_len: int = 128  # context length; the loader packs windows of seq_len + 1 tokens
    # SwiGLU hidden size; null: 8/3 * d_model rounded up to a multiple of 64, which keeps the MLP's
    # parameter count equal to a 4 * d_model GELU MLP (Shazeer 2020, "GLU Variants Improve Transformer").
    ffn_hidden: int | None = None
    rope_theta: float = 10000.0  # Su et al. 2021 (RoFormer)
    norm_eps: float = 1e-5
    dropout: float = 0.0
    init_std: float = 0.02  # GPT-2; residual projections get init_std / sqrt(2 * n_layers)

    def validate(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1")
        if self.d_model % self.n_heads:
            raise ValueError(f"n_heads: {self.n_heads} does not divide d_model {self.d_model}")
        if (self.d_model // self.n_heads) % 2:
            raise ValueError("n_heads: the head size d_model / n_heads must be even for rotary embeddings")
        if self.ffn_hidden is not None and self.ffn_hidden < 1:
            raise ValueError("ffn_hidden: must be >= 1 or null")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("dropout: must be in [0, 1)")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def hidden(self) -> int:
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        return -(-int(8 * self.d_model / 3) // 64) * 64


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    # Size the model (and, when max_steps is null, the number of steps) from the train token count by the
    # Chinchilla rule of ~20 tokens per parameter (Hoffmann et al. 2022); see trainer/plan.py.
    size_from_plan: bool = False

    # AdamW (Loshchilov & Hutter 2019); betas and weight decay as in GPT-3 / nanoGPT.
    lr: float = 3e-3  # peak learning rate; small models take a high one
    min_lr: float = 3e-4  # cosine floor, ~lr / 10 (Hoffmann et al. 2022 decay to 10%)
    warmup_steps: int = 30
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # global grad-norm clip; 0 disables

    batch_size: int = 16  # sequences per micro-batch per data-parallel rank
    grad_accum: int = 1  # micro-batches per optimizer step
    max_steps: int | None = 300  # null: one epoch of the train split (or the plan's steps)

    eval_interval: int = 100  # steps between validation losses (also at the last step); 0: only at the end
    eval_batches: int = 8  # validation micro-batches per rank (at most one pass over the val split)
    # Names of the job's `eval_sets` whose bits per byte is measured with each validation (logged in
    # metrics.jsonl as `eval_bpb`); empty: none. The pipeline tokenizes them and hands them to `train`.
    eval_sets: list[str] = field(default_factory=list)
    log_interval: int = 10
    checkpoint_interval: int = 100  # 0: only when the run ends
    keep_last: int = 2  # checkpoints kept on disk

    seed: int = 0
    device: str = "auto"  # auto: cuda if available, else cpu; or "cpu", "cuda", "cuda:1"
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 autocast on a GPU that has it
    compile: bool = True  # torch.compile the model when training on a GPU (never on CPU)
    num_workers: int = 0  # DataLoader worker processes per rank; 0 reads shards in the training process
    peak_tflops: float | None = None  # for MFU; null: looked up from the GPU's name

    def validate(self) -> None:
        positive = ("batch_size", "grad_accum", "log_interval", "keep_last", "eval_batches")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1")
        for name in ("warmup_steps", "eval_interval", "checkpoint_interval", "num_workers", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps: must be >= 1 or null")
        if self.lr <= 0:
            raise ValueError("lr: must be positive")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError("min_lr: must be between 0 and lr")
        if self.grad_clip < 0:
            raise ValueError("grad_clip: must be >= 0")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:")):
            raise ValueError(f"device: {self.device!r} is not auto, cpu, mps, cuda or cuda:N")
