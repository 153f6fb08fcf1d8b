"""Chinchilla sizing: ~20 tokens per parameter, 6 N D FLOPs."""

from __future__ import annotations

from trainer.config import ModelConfig
from trainer.model import count_params
from trainer.plan import format_plan, make_plan


def test_large_data_gets_about_d_over_20_params():
    tokens = 2_000_000_000
    plan = make_plan(tokens, vocab_size=32000, tokens_per_step=500_000)
    assert 0.85 < plan.params / (tokens / 20) < 1.15
    assert plan.params == count_params(plan.model, 32000)
    assert plan.flops == 6 * plan.params * tokens
    assert plan.steps == 4000 and not plan.data_limited
    assert 32 <= plan.model.d_model / plan.model.n_layers <= 128
    assert plan.model.d_model // plan.model.n_heads == 64


def test_small_data_gets_the_smallest_model_and_a_note():
    plan = make_plan(1_000_000, vocab_size=8192, tokens_per_step=2048, base=ModelConfig(seq_len=128))
    assert plan.data_limited and plan.model.n_layers == 1 and plan.model.seq_len == 128
    text = format_plan(plan, current=ModelConfig(), vocab_size=8192)
    assert "Chinchilla would want" in text and "configured model" in text
