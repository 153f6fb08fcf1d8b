"""Seeded synthetic prose for dedup tests (no corpus text in the repository)."""

from __future__ import annotations

import random

_VOCAB = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so no will more about can out up "
    "river mountain harbour lantern copper orchard signal winter market garden silver engine valley marble "
    "letter village thunder meadow castle anchor compass feather granite island journey kettle ladder mirror "
    "needle ocean pepper quarry ribbon saddle tunnel velvet wagon yellow zephyr basket candle dragon ember "
    "forest glacier hollow ivory jasmine kernel lemon maple nectar olive pillar quartz raven spruce timber"
)
WORDS = _VOCAB.split(" ")


def prose(rng: random.Random, n_words: int) -> str:
    """Sentences of random words with capitals and punctuation."""
    out: list[str] = []
    while len(out) < n_words:
        k = rng.randint(6, 14)
        sent = [rng.choice(WORDS) for _ in range(k)]
        sent[0] = sent[0].capitalize()
        out.extend(sent[:-1])
        out.append(sent[-1] + rng.choice(".!?;,"))
    return " ".join(out[:n_words])


def edit(rng: random.Random, text: str, n_changes: int) -> str:
    """Replace n words at random positions by other words."""
    words = text.split()
    for _ in range(n_changes):
        words[rng.randrange(len(words))] = rng.choice(WORDS) + "x"
    return " ".join(words)
