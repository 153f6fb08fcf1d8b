"""Compute-optimal sizing by the Chinchilla rule (Hoffmann et al. 2022, "Training Compute-Optimal Large
Language Models").

Hoffmann et al. find that for a compute budget C the loss-minimizing model has N parameters and sees D
tokens with D ~ 20 N (their Table 3: 20.2 tokens per parameter at every scale they fit), where training
costs C ~ 6 N D FLOPs (forward + backward matmuls; Kaplan et al. 2020). So with D tokens of data, the
compute-optimal model has about D / 20 parameters and costs 6 * (D / 20) * D = 0.3 D^2 FLOPs for one epoch.
Parameters are counted in total, embeddings included, as Hoffmann et al. count them.

We choose the shape from a ladder of head size 64 and width/depth ratio 32..128 (the range where Kaplan
et al. 2020 find loss nearly independent of shape) whose parameter count, with the run's vocabulary, is
closest to D / 20 in log scale. Small corpora get the smallest model of the ladder and a note: a model
with an 8k vocabulary has hundreds of thousands of embedding parameters alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from trainer.config import ModelConfig
from trainer.model import count_params

TOKENS_PER_PARAM = 20.0  # Hoffmann et al. 2022, Table 3
HEAD_DIM = 64
MIN_ASPECT, MAX_ASPECT = 32, 128  # d_model / n_layers, Kaplan et al. 2020 fig. 5


@dataclass(frozen=True)
class Plan:
    tokens: int  # train tokens available (one epoch)
    optimal_params: float  # tokens / 20
    model: ModelConfig
    params: int
    steps: int  # optimizer steps for one epoch at tokens_per_step
    tokens_per_step: int
    flops: float  # 6 * params * tokens
    data_limited: bool  # the smallest model is still larger than the data supports


def ladder(seq_len: int) -> list[ModelConfig]:
    shapes = []
    for n_layers in range(1, 97):
        for d_model in range(HEAD_DIM, 128 * n_layers + 1, HEAD_DIM):
            if MIN_ASPECT * n_layers <= d_model <= MAX_ASPECT * n_layers:
                shapes.append(ModelConfig(d_model=d_model, n_layers=n_layers, n_heads=d_model // HEAD_DIM,
                                          seq_len=seq_len))
    return shapes


def make_plan(tokens: int, vocab_size: int, tokens_per_step: int, base: ModelConfig | None = None) -> Plan:
    """The Chinchilla-optimal model for `tokens` training tokens; non-shape fields come from `base`."""
    base = base or ModelConfig()
    target = max(tokens, 1) / TOKENS_PER_PARAM
    best = min(ladder(base.seq_len), key=lambda m: (abs(math.log(count_params(m, vocab_size) / target)),
                                                     -m.d_model))
    model = replace(base, d_model=best.d_model, n_layers=best.n_layers, n_heads=best.n_heads, ffn_hidden=None)
    params = count_params(model, vocab_size)
    return Plan(
        tokens=tokens, optimal_params=target, model=model, params=params,
        steps=max(1, math.ceil(tokens / tokens_per_step)), tokens_per_step=tokens_per_step,
        flops=6.0 * params * tokens, data_limited=params > 2 * target,
    )


def _si(x: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_plan(plan: Plan, current: ModelConfig | None = None, vocab_size: int | None = None) -> str:
    m = plan.model
    lines = [
        f"train tokens D:               {_si(plan.tokens)} ({plan.tokens:,})",
        f"compute-optimal params D/20:  {_si(plan.optimal_params)} (Chinchilla, Hoffmann et al. 2022)",
        f"chosen model:                 d_model={m.d_model} n_layers={m.n_layers} n_heads={m.n_heads} "
        f"seq_len={m.seq_len} -> {_si(plan.params)} params",
        f"steps for one epoch:          {plan.steps:,} at {plan.tokens_per_step:,} tokens/step",
        f"training FLOPs 6*N*D:         {plan.flops:.3g}",
    ]
    if plan.data_limited:
        lines.append(
            f"note: the smallest model has {plan.params / plan.optimal_params:.1f}x the optimal parameters "
            f"(its embedding alone is {_si(m.d_model * (vocab_size or 0))}); Chinchilla would want "
            f"{_si(TOKENS_PER_PARAM * plan.params)} tokens for it"
        )
    if current is not None and vocab_size:
        n = count_params(current, vocab_size)
        lines.append(
            f"configured model:             {_si(n)} params, wants {_si(TOKENS_PER_PARAM * n)} tokens "
            f"({TOKENS_PER_PARAM * n / max(plan.tokens, 1):.2g}x the data); 6*N*D = {6.0 * n * plan.tokens:.3g} FLOPs"
        )
    return "\n".join(lines)
