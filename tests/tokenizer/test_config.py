from __future__ import annotations

import pytest

from pipelines.config import load_config
from pipelines.configlib import ConfigError
from tokenizer.config import TokenizeConfig, TokenizerConfig


def test_defaults_are_valid_and_loadable():
    TokenizerConfig().validate()
    TokenizeConfig().validate()
    cfg = load_config(None, [
        "tokenizer.vocab_size=4096",
        "tokenizer.dataset_weights={web: 0.6, books: 0.4}",
        "tokenizer.user_defined_symbols=['<|sep|>']",
        "tokenize.mixture={web: 0.7, books: 0.3}",
        "tokenize.add_bos=true",
    ])
    assert cfg.tokenizer.vocab_size == 4096
    assert cfg.tokenizer.dataset_weights == {"web": 0.6, "books": 0.4}
    assert cfg.tokenizer.user_defined_symbols == ["<|sep|>"]
    assert cfg.tokenize.mixture == {"web": 0.7, "books": 0.3} and cfg.tokenize.add_bos


@pytest.mark.parametrize(("override", "message"), [
    ("tokenizer.vocab_size=100", "tokenizer.vocab_size"),
    ("tokenizer.heldout_fraction=1.5", "tokenizer.heldout_fraction"),
    ("tokenizer.dataset_weights={web: -1}", "tokenizer.dataset_weights.web"),
    ("tokenizer.user_defined_symbols=['<eos>']", "tokenizer.user_defined_symbols"),
    ("tokenize.val_fraction=1.0", "tokenize.val_fraction"),
    ("tokenize.mixture={}", "tokenize.mixture"),
    ("tokenize.mixture={web: 0}", "tokenize.mixture"),
    ("tokenize.shard_tokens=0", "tokenize.shard_tokens"),
])
def test_bad_values_name_their_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(None, [override])
