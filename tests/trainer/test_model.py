"""The transformer: causal, tied, sized as counted, padding ignored."""

from __future__ import annotations

import pytest
import torch

from trainer.config import ModelConfig
from trainer.model import IGNORE_INDEX, Transformer, count_params

CFG = ModelConfig(d_model=32, n_layers=2, n_heads=4, seq_len=16)


def test_future_tokens_do_not_change_past_logits():
    torch.manual_seed(0)
    model = Transformer(CFG, 50).eval()
    x = torch.randint(0, 50, (2, 16))
    y = x.clone()
    y[:, 9:] = torch.randint(0, 50, (2, 7))
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :9], b[:, :9])
    assert not torch.allclose(a[:, 9:], b[:, 9:])


def test_embeddings_are_tied_and_params_counted():
    model = Transformer(CFG, 50)
    assert model.lm_head.weight is model.embed.weight
    assert model.num_params() == count_params(CFG, 50)
    assert CFG.hidden == 128  # 8/3 * 32 rounded up to a multiple of 64


def test_ignored_targets_contribute_nothing():
    torch.manual_seed(0)
    model = Transformer(CFG, 50)
    x = torch.randint(0, 50, (1, 16))
    t = torch.randint(0, 50, (1, 16))
    masked = t.clone()
    masked[:, 10:] = IGNORE_INDEX
    full = torch.nn.functional.cross_entropy(model(x)[0, :10], t[0, :10], reduction="sum")
    torch.testing.assert_close(model(x, masked), full)


def test_longer_than_seq_len_is_refused():
    with pytest.raises(ValueError, match="longer than the model's seq_len"):
        Transformer(CFG, 50)(torch.zeros(1, 17, dtype=torch.long))


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^n_heads:"):
        ModelConfig(d_model=30, n_heads=4).validate()
