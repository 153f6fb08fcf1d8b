"""Dedup: exact, URL and MinHash-LSH near-duplicate removal, as one Beam pipeline.

Modules, in pipeline order: `plan` (what every step shares), `sketch` (passes 1-2), `buckets` (star
edges and candidate pairs), `verify` (exact Jaccard), `components` (connected components, keep / drop
decisions), `output` (the written files), `transform` (the PTransform: wiring only), `stage` (`run`
and the `curate dedup` command). The pure algorithms they call live in `filters/dedup/`.

    RUN/<filter|ingest>/part-*.parquet
      -> Sketch (per file, numpy batches): exact key, URL key, MinHash signature, LSH band keys,
         saved to the stage's work folder; only the keys go on
      -> GroupByKey on (kind, band, key partition): the keys that occur at least twice
      -> Members (per file, second look at its saved sketches): full entries for those documents only
      -> GroupByKey on (kind, band, key partition), each group sorted in numpy: exact and URL groups
         give star edges to their best document; LSH buckets give candidate pairs (capped buckets)
      -> candidate pairs -> exact Jaccard of the two shingle sets (text re-read for those docs only)
      -> verified edges + exact / URL star edges -> connected components by min-label propagation
         with pointer jumping, unrolled `cc_rounds` times; any edge still joining two labels after
         that is merged by a union-find over labels (normally none; counted)
      -> keeper per component (previous run's documents first, then highest score, then smallest id)
      -> RUN/dedup/part-*.parquet (kept, + dup_cluster, dup_count), RUN/rejected/dedup (reason,
         duplicate_of), RUN/dedup/_signatures/part-*.parquet (row-aligned with the kept documents,
         reused by `--against`), RUN/dedup/_edges/part-00000.parquet (every duplicate edge). The
         "_" keeps both out of `pq.read_table(RUN/dedup)` (pyarrow skips "_" and "." entries).

Why the band-key GroupByKey groups (kind, band, key partition) rather than each key: most keys are
unique, so one element per (document, band) would make the shuffle 10x the documents for nothing.
Each file instead sends one numpy array per group and the group sorts its keys: the same grouping,
with the per-key work done in numpy (as datatrove's bucket files do). Sending keys alone first and
full entries only for repeated keys keeps the shuffle at 8 bytes per document and band.

A document is addressed by `ref = file_key << 32 | row` (its row in its input file), so documents are
never shuffled: decisions go back to the file that holds them and the final pass reads each file
once more and writes its kept rows, in order, to the output file of the same name (the input's
sharding and id order carry over). `--against PRIOR` adds the prior run's kept documents (file keys
with bit 30 set) from their stored signatures; they are always the keepers and never written.
"""

from __future__ import annotations

from pipelines.stages.dedup.components import ConnectedComponents
from pipelines.stages.dedup.plan import NAME, exact_words
from pipelines.stages.dedup.stage import add_arguments, main, overrides, run

__all__ = ["NAME", "ConnectedComponents", "add_arguments", "exact_words", "main", "overrides", "run"]
