"""Configuration of the dedup stage (frozen dataclass, loaded by pipelines.config)."""

from __future__ import annotations

from dataclasses import dataclass

from filters.dedup.shingles import MAX_SHINGLE_SIZE


@dataclass(frozen=True)
class DedupConfig:
    # Which duplicate kinds are removed. exact: same normalized text (xxh3-128); url: same normalized
    # URL (scheme, www., default port, tracking parameters, fragment ignored); near: MinHash LSH
    # candidates whose real Jaccard similarity of shingle sets reaches `threshold`.
    exact: bool = True
    url: bool = True
    near: bool = True
    # Jaccard similarity of word-shingle sets above which two documents are near duplicates. 0.8 on
    # word 5-grams is the common setting (Lee et al. 2022 use 0.8; datatrove / FineWeb ~0.75-0.8).
    threshold: float = 0.8
    shingle_size: int = 5  # words per shingle
    # MinHash permutations. 112 = datatrove's default (14 bands x 8 rows), and what the speed figures use.
    num_perm: int = 112
    # LSH banding; null: chosen by datasketch's optimal-parameter routine for `threshold`, weighing
    # false positives and false negatives as below. Every candidate pair is verified by its real
    # Jaccard similarity, so a false positive only costs one check while a false negative loses a
    # duplicate: hence the weight on false negatives (0.1 / 0.9 gives b=12, r=9 at 0.8 with 112
    # permutations: P(candidate | J=0.85) = 0.96 instead of 0.75 with equal weights).
    bands: int | None = None
    rows: int | None = None
    false_positive_weight: float = 0.1
    false_negative_weight: float = 0.9
    seed: int = 1  # permutations of the MinHash (datasketch's default seed)
    # Buckets with more documents than this give all pairs among their first `max_bucket_size`
    # members and pair the others with the first member only (counted as oversized).
    max_bucket_size: int = 50
    # The keeper of a cluster has the highest value of this column when the input has it (e.g. the
    # quality classifier's score), then the smallest id.
    score_column: str = "quality_score"
    # Rounds of min-label propagation with pointer jumping unrolled in the pipeline; labels that have
    # not converged after them are merged exactly from the few remaining edges (counted).
    cc_rounds: int = 4
    # Partitions per band for the band-key GroupByKey (each group is sorted in numpy).
    partitions: int = 16
    batch_size: int = 1024  # documents read and sketched per batch
    # A previous run folder: documents duplicating its kept documents are removed too (its stored
    # signatures are reused; its documents always stay the keepers). `curate dedup --against` sets it.
    against: str | None = None

    def validate(self) -> None:
        if not (self.exact or self.url or self.near):
            raise ValueError("exact: at least one of exact, url, near must be on")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("threshold: must be in (0, 1]")
        if not 1 <= self.shingle_size <= MAX_SHINGLE_SIZE:
            raise ValueError(f"shingle_size: must be in [1, {MAX_SHINGLE_SIZE}]")
        if self.num_perm < 2:
            raise ValueError("num_perm: must be >= 2")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("bands: give both bands and rows, or neither")
        if self.bands is not None and self.rows is not None:
            if self.bands < 1 or self.rows < 1:
                raise ValueError("bands: bands and rows must be >= 1")
            if self.bands * self.rows > self.num_perm:
                raise ValueError(f"bands: bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.false_positive_weight < 0 or self.false_negative_weight < 0:
            raise ValueError("false_positive_weight: weights must be >= 0")
        if self.false_positive_weight + self.false_negative_weight <= 0:
            raise ValueError("false_positive_weight: the two weights must not both be 0")
        if self.max_bucket_size < 2:
            raise ValueError("max_bucket_size: must be >= 2")
        if self.cc_rounds < 0:
            raise ValueError("cc_rounds: must be >= 0")
        if self.partitions < 1:
            raise ValueError("partitions: must be >= 1")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")

    def banding(self) -> tuple[int, int]:
        """(bands, rows): the configured ones, or datasketch's optimum for the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        from filters.dedup.lsh import optimal_params

        return optimal_params(self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight)
