"""Choosing the tokenizer's training sample: deterministic, bounded in bytes, balanced by weights.

Pure functions; the Beam stage (`pipelines/stages/tokenizer.py`) wires them:

1. every document gets a group `(dataset, language)` and a number `u` in [0, 1) from a seeded hash of
   its id; a fixed slice of the hash space (`is_heldout`) is held out for `curate tokenizer-eval`;
2. `plan_budgets` turns the bytes available per group into a byte budget per group: each group's share
   of `sample_bytes` follows the configured weights, and what a small group cannot fill goes to the
   others ("water filling"), so the sample is as large as the bound allows;
3. the pipeline keeps the chunks with `u < threshold(group)` (a little above the budget, so that hash
   noise rarely leaves a group short), and `trim_to_budgets` then keeps, per group, the chunks in
   increasing `u` while they fit: the byte bound holds exactly and the choice depends only on ids.

The unit of sampling is a chunk: a document of n bytes is `num_chunks(n, chunk_bytes)` line-aligned
chunks of about equal size (`chunk`), each with its own key `id#k` and rank. Web pages and articles are
one chunk; a book is dozens, so a dataset of a few long books still gives a sample of the right size,
drawn from all over the books. The number of chunks depends on the size only, so the pipeline ranks
the chunks of a document before it cuts the text, and cuts only the documents it keeps.

SentencePiece learns from lines: `sentences` cuts each kept chunk into its non-empty lines, and splits
lines longer than SentencePiece's `max_sentence_length` at spaces.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import xxhash

UNKNOWN_LANGUAGE = "unknown"
_TWO_64 = float(1 << 64)
# The pipeline keeps ~10% more than each budget (see `thresholds`) before the exact trim.
OVERSAMPLE = 1.10


def hash64(purpose: str, key: str, seed: int) -> int:
    """A 64-bit hash of `key` for one `purpose` (independent decisions use different purposes)."""
    return xxhash.xxh3_64_intdigest(f"{purpose}\x1f{key}".encode("utf-8", "surrogatepass"), seed=seed)


def unit(purpose: str, key: str, seed: int) -> float:
    """`hash64` mapped to [0, 1)."""
    return hash64(purpose, key, seed) / _TWO_64


def is_heldout(doc_id: str, fraction: float, seed: int) -> bool:
    """Documents held out of the tokenizer sample (and scored by `tokenizer-eval`)."""
    return fraction > 0 and unit("heldout", doc_id, seed) < fraction


def sample_unit(doc_id: str, seed: int) -> float:
    """The rank of a document inside its group: smaller `u` are chosen first."""
    return unit("sample", doc_id, seed)


def language_of(signals: Mapping[str, object], field: str) -> str:
    value = signals.get(field)
    return str(value) if value not in (None, "") else UNKNOWN_LANGUAGE


Group = tuple[str, str]  # (dataset, language)


def _normalized(keys: Iterable[str], weights: Mapping[str, float] | None, default: float,
                natural: Mapping[str, int]) -> dict[str, float]:
    """Shares over `keys`: the configured weights (missing keys get `default`), or the natural ones."""
    keys = list(keys)
    if not weights:
        raw = {k: float(natural[k]) for k in keys}
    else:
        raw = {k: float(weights.get(k, default)) for k in keys}
    total = sum(raw.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in raw.items()}


def target_shares(
    group_bytes: Mapping[Group, int],
    dataset_weights: Mapping[str, float] | None = None,
    language_weights: Mapping[str, float] | None = None,
    default_weight: float = 1.0,
) -> dict[Group, float]:
    """The share of the sample each (dataset, language) group should get.

    share(d, l) = share(d) * share(l | d): datasets get their configured weights (natural byte shares when
    none are set), and inside each dataset languages get theirs (natural shares when none are set).
    """
    by_dataset: dict[str, int] = {}
    for (d, _), b in group_bytes.items():
        by_dataset[d] = by_dataset.get(d, 0) + b
    ds_share = _normalized(sorted(by_dataset), dataset_weights, default_weight, by_dataset)
    shares: dict[Group, float] = {}
    for d in sorted(by_dataset):
        langs = {lang: b for (dd, lang), b in group_bytes.items() if dd == d}
        lang_share = _normalized(sorted(langs), language_weights, default_weight, langs)
        for lang, s in lang_share.items():
            shares[(d, lang)] = ds_share[d] * s
    return shares


def water_fill(capacity: Mapping[Group, int], shares: Mapping[Group, float], total: int) -> dict[Group, int]:
    """Split `total` bytes over groups in proportion to `shares`, no group above its `capacity`; what a
    full group cannot take is shared among the others in the same proportions."""
    budgets = {g: 0 for g in capacity}
    active = {g for g in capacity if shares.get(g, 0.0) > 0 and capacity[g] > 0}
    remaining = min(total, sum(capacity[g] for g in active))
    while active and remaining > 0:
        if sum(capacity[g] for g in active) <= remaining:  # everything left fits
            for g in active:
                budgets[g] = capacity[g]
            break
        weight = sum(shares[g] for g in active)
        full = {g for g in active if capacity[g] - budgets[g] <= remaining * shares[g] / weight}
        if not full:
            for g in active:
                budgets[g] += int(remaining * shares[g] / weight)
            break
        for g in full:
            remaining -= capacity[g] - budgets[g]
            budgets[g] = capacity[g]
        active -= full
    return budgets


def plan_budgets(
    group_bytes: Mapping[Group, int],
    sample_bytes: int,
    dataset_weights: Mapping[str, float] | None = None,
    language_weights: Mapping[str, float] | None = None,
    default_weight: float = 1.0,
) -> dict[Group, int]:
    """Bytes to sample from each group (their sum is at most `sample_bytes`)."""
    shares = target_shares(group_bytes, dataset_weights, language_weights, default_weight)
    return water_fill(group_bytes, shares, sample_bytes)


def thresholds(group_bytes: Mapping[Group, int], budgets: Mapping[Group, int],
               group_chunks: Mapping[Group, int] | None = None) -> dict[Group, float]:
    """Per group, the `u` below which the pipeline keeps a chunk: enough that the candidates cover the
    budget despite hash noise. A group of n chunks whose budget needs k of them on average keeps each
    with probability (1.1 k + 3 sqrt(k) + 2) / n: 10% more, plus three standard deviations of the
    binomial count (so small groups are oversampled more, large ones by about 10%)."""
    out = {}
    for g, b in group_bytes.items():
        budget = budgets.get(g, 0)
        n = (group_chunks or {}).get(g) or max(1, b // 4096)
        if budget <= 0 or b <= 0:
            out[g] = 0.0
            continue
        k = budget * n / b
        out[g] = min(1.0, (OVERSAMPLE * k + 3 * math.sqrt(k) + 2) / n)
    return out


def num_chunks(nbytes: int, chunk_bytes: int) -> int:
    return max(1, -(-nbytes // chunk_bytes))


def chunk_key(doc_id: str, k: int) -> str:
    return f"{doc_id}#{k}"


def chunk(text: str, k: int, n: int) -> str:
    """The k-th of n pieces of `text`, cut at the line breaks nearest to k/n of the way (a piece can be
    empty when a line is longer than a piece)."""
    if n == 1:
        return text
    return text[_cut(text, k, n) : _cut(text, k + 1, n)]


def _cut(text: str, k: int, n: int) -> int:
    if k <= 0:
        return 0
    if k >= n:
        return len(text)
    at = len(text) * k // n
    nl = text.find("\n", at)
    return len(text) if nl < 0 else nl + 1


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    dataset: str
    language: str
    u: float
    nbytes: int


def trim_to_budgets(candidates: Iterable[Candidate], budgets: Mapping[Group, int]) -> set[str]:
    """Ids to keep: per group, candidates in increasing `u` while they fit in the group's budget.

    A document larger than what is left is skipped and smaller later ones still fit, so a big book does
    not stop a group short; the result depends only on the ids, sizes and budgets.
    """
    by_group: dict[Group, list[Candidate]] = {}
    for c in candidates:
        by_group.setdefault((c.dataset, c.language), []).append(c)
    keep: set[str] = set()
    for g, items in by_group.items():
        left = budgets.get(g, 0)
        for c in sorted(items, key=lambda c: (c.u, c.id)):
            if c.nbytes <= left:
                keep.add(c.id)
                left -= c.nbytes
    return keep


def sentences(text: str, max_bytes: int) -> Iterator[str]:
    """The lines SentencePiece trains on: non-empty lines of `text`, long ones cut at a space (or hard)."""
    for line in text.split("\n"):
        if not line.strip():
            continue
        if len(line) * 4 <= max_bytes or len(line.encode("utf-8")) <= max_bytes:
            yield line
            continue
        yield from _split_long(line, max_bytes)


def _split_long(line: str, max_bytes: int) -> Iterator[str]:
    # Cut on characters: max_bytes // 4 characters always fit in max_bytes bytes of UTF-8.
    step = max(1, max_bytes // 4)
    start = 0
    while start < len(line):
        end = min(len(line), start + step)
        if end < len(line):
            cut = line.rfind(" ", start + step // 2, end)
            if cut > start:
                end = cut
        piece = line[start:end]
        if piece.strip():
            yield piece
        start = end


__all__ = [
    "Candidate",
    "chunk",
    "chunk_key",
    "num_chunks",
    "UNKNOWN_LANGUAGE",
    "hash64",
    "is_heldout",
    "language_of",
    "plan_budgets",
    "sample_unit",
    "sentences",
    "target_shares",
    "thresholds",
    "trim_to_budgets",
    "unit",
    "water_fill",
]
