"""Configuration of the tokenizer and tokenize stages (frozen dataclasses, loaded by pipelines.config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenizerConfig:
    pass


@dataclass(frozen=True)
class TokenizeConfig:
    pass
