"""Configuration of this stage (frozen dataclass, loaded by pipelines.config)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DedupConfig:
    pass
