"""Shared fixtures. Tests that need the shared corpus skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "examples" / "sample"


def _find_corpus() -> Path | None:
    env = os.environ.get("CURATE_CORPUS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "corpus")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    path = _find_corpus()
    if path is None:
        pytest.skip("shared corpus not found (set CURATE_CORPUS or place it at ../shared/corpus)")
    return path


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR
