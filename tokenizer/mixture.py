"""Mixture weights: how many copies of each document reach the train split.

Given the train tokens of each dataset and the target share of each, a dataset with natural tokens T
and target D gets `rate = D / T`: every document `floor(rate)` times (whole repeats), plus one more copy
for the documents of the lowest hash buckets, cut where their tokens add up to D - floor(rate) * T.

Hash buckets make the cut exact without sorting a dataset: the pipeline sums tokens per
(dataset, bucket) in a fixed-size histogram; the cut lands on a bucket boundary, so the error is at
most one bucket's tokens (1/4096 of the dataset on average) or one document, whichever is larger.
Every decision depends only on the document's id and the seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from tokenizer.sample import hash64, unit

NUM_BUCKETS = 4096


def is_val(doc_id: str, fraction: float, seed: int) -> bool:
    """The val split: a seeded hash of the document id (so all copies of a document share a split)."""
    return fraction > 0 and unit("split", doc_id, seed) < fraction


def placement(key: str, num_shards: int, seed: int) -> tuple[int, int]:
    """(shard, order inside the shard) of a row: independent seeded hashes of its key."""
    return hash64("shard", key, seed) % num_shards, hash64("order", key, seed)


def bucket_of(doc_id: str, seed: int) -> int:
    return hash64("mixture", doc_id, seed) % NUM_BUCKETS


def copy_key(doc_id: str, copy: int) -> str:
    """The id of the `copy`-th repeat of a document (copy 0 is the document itself)."""
    return doc_id if copy == 0 else f"{doc_id}#{copy}"


@dataclass(frozen=True)
class DatasetRate:
    dataset: str
    natural_tokens: int
    target_fraction: float
    target_tokens: int
    whole: int  # copies every document gets
    cut: int  # documents in buckets < cut get one more
    planned_tokens: int

    @property
    def rate(self) -> float:
        return self.planned_tokens / self.natural_tokens if self.natural_tokens else 0.0

    def copies(self, bucket: int) -> int:
        return self.whole + (1 if bucket < self.cut else 0)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "rate": round(self.rate, 6)}


class MixtureError(ValueError):
    """The mixture cannot be reached (a dataset with a positive weight has no tokens)."""


def plan_mixture(
    histograms: Mapping[str, np.ndarray],
    weights: Mapping[str, float] | None,
    total_tokens: int | None = None,
    iterations: int = 8,
) -> dict[str, DatasetRate]:
    """Per dataset, the copies that bring its train tokens to its share of the total.

    `histograms[d][b]` holds the train tokens of dataset d's documents in hash bucket b. `weights` null:
    natural proportions (every document once). Datasets without a weight get none (dropped).
    `total_tokens` null: the natural tokens of the weighted datasets.

    Proportions come first: a dataset of a few long documents (books) can only take whole documents, so
    its tokens miss its target by up to one document; the total is then re-aimed so that this dataset's
    tokens are its exact share, and the fine-grained datasets follow (a few fixed-point steps; the plan
    with the smallest largest proportion error wins). The planned total may differ from `total_tokens`
    by about one long document.
    """
    natural = {d: int(np.asarray(h).sum()) for d, h in histograms.items()}
    if weights is None:
        total = sum(natural.values())
        return {
            d: DatasetRate(d, t, t / total if total else 0.0, t, 1, 0, t) for d, t in sorted(natural.items())
        }
    missing = sorted(d for d, w in weights.items() if w > 0 and natural.get(d, 0) == 0)
    if missing:
        raise MixtureError(
            f"mixture: datasets {missing} have a weight but no train tokens "
            f"(datasets present: {sorted(d for d, t in natural.items() if t)})"
        )
    wsum = sum(w for w in weights.values() if w > 0)
    fracs = {d: max(0.0, weights.get(d, 0.0)) / wsum for d in sorted(set(natural) | set(weights))}
    cums = {d: np.concatenate([[0], np.cumsum(np.asarray(h, dtype=np.int64))]) for d, h in histograms.items()}
    target = total_tokens if total_tokens is not None else sum(natural[d] for d, f in fracs.items() if f > 0)
    best: dict[str, DatasetRate] | None = None
    best_err = math.inf
    for _ in range(max(1, iterations)):
        plan = _plan_at(target, natural, fracs, cums)
        err = proportion_error(plan)
        if err < best_err:
            best, best_err = plan, err
        weighted = [d for d, f in fracs.items() if f > 0]
        worst = max(weighted, key=lambda d: abs(plan[d].planned_tokens / plan[d].target_tokens - 1)
                    if plan[d].target_tokens else 0.0)
        nxt = round(plan[worst].planned_tokens / fracs[worst])
        if best_err == 0 or nxt <= 0 or nxt == target:
            break
        target = nxt
    assert best is not None
    return best


def _plan_at(total: int, natural: Mapping[str, int], fracs: Mapping[str, float],
             cums: Mapping[str, np.ndarray]) -> dict[str, DatasetRate]:
    plan = {}
    for d, frac in fracs.items():
        t = natural.get(d, 0)
        target = int(round(frac * total))
        if t == 0 or target == 0:
            plan[d] = DatasetRate(d, t, frac, target, 0, 0, 0)
            continue
        whole, rest = divmod(target, t)
        cum = cums[d]
        cut = int(np.argmin(np.abs(cum - rest)))
        plan[d] = DatasetRate(d, t, frac, target, whole, cut, whole * t + int(cum[cut]))
    return plan


def proportion_error(plan: Mapping[str, DatasetRate]) -> float:
    """The largest |reached share - target share| over the datasets of a plan."""
    total = sum(r.planned_tokens for r in plan.values())
    if total == 0:
        return math.inf
    return max(abs(r.planned_tokens / total - r.target_fraction) for r in plan.values())


def num_shards(tokens: int, shard_tokens: int) -> int:
    return max(1, math.ceil(tokens / shard_tokens)) if tokens > 0 else 0
