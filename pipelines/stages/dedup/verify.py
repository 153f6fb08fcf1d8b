"""Pass 4: candidate pairs -> near-duplicate edges whose exact Jaccard reaches the threshold."""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa

from filters.dedup.components import Node
from filters.dedup.normalize import normalize_bytes
from filters.dedup.shingles import shingle_normalized
from filters.dedup.verify import jaccard, verify_values
from pipelines.io import arrays as arrays_io
from pipelines.io.parquet import read_table
from pipelines.stages.base import counter
from pipelines.stages.dedup.plan import NAME, ROW_BITS, Plan, SourceFile, read_nodes, shingles_path, work_path


class VerifyPairs(beam.DoFn):
    """(partition, candidate pair arrays) -> near-duplicate edges whose exact Jaccard reaches the threshold.

    The shingles of this run's documents are read from the work folder (memory-mapped, written by the
    sketch pass), so no shingle set is shuffled; a previous run's documents (--against) are shingled
    again from their stored text. Ids and scores come from the files' id / score columns."""

    def __init__(self, plan: Plan, files: list[SourceFile]):
        self.plan = plan
        self.files = {f.key: f for f in files}

    def process(self, element: tuple[int, Iterable[np.ndarray]]):
        _, arrays = element
        pairs = np.unique(np.concatenate(list(arrays)), axis=0)
        counter(NAME, "candidate_pairs").inc(len(pairs))
        info = self._load(np.unique(pairs.ravel()))
        threshold = self.plan.cfg.threshold
        for a_ref, b_ref in pairs.tolist():
            node_a, set_a = info[a_ref]
            node_b, set_b = info[b_ref]
            j = jaccard(set_a, set_b)
            if j >= threshold:
                counter(NAME, "verified_pairs").inc()
                yield (node_a, node_b, "near", j) if node_a < node_b else (node_b, node_a, "near", j)
            else:
                counter(NAME, "rejected_pairs").inc()

    def _load(self, refs: np.ndarray) -> dict[int, tuple[Node, np.ndarray]]:
        """ref -> (its Node, its sorted unique shingle values) for every document of the pairs."""
        out: dict[int, tuple[Node, np.ndarray]] = {}
        keys = refs >> ROW_BITS
        for key in np.unique(keys).tolist():
            sf = self.files[key]
            rows = refs[keys == key] & ((1 << ROW_BITS) - 1)
            with arrays_io.load(work_path(self.plan, sf)) as sk:
                exact, url, num_shingles = sk["exact"][rows], sk["url"][rows], sk["num_shingles"]
            nodes = read_nodes(self.plan, sf, rows, exact, url)
            sets = self._shingle_sets(sf, rows, num_shingles)
            for i in range(len(rows)):
                node = nodes.node(i)
                out[node.ref] = (node, sets[i])
        return out

    def _shingle_sets(self, sf: SourceFile, rows: np.ndarray, num_shingles: np.ndarray) -> list[np.ndarray]:
        if sf.prior:  # a previous run's documents: shingled again from their text
            texts = read_table(sf.path, columns=["text"]).take(pa.array(rows)).column("text").to_pylist()
            sh = shingle_normalized([normalize_bytes(x) for x in texts], self.plan.cfg.shingle_size).shingles
            return [np.unique(verify_values(sh.of(i))) for i in range(len(rows))]
        shingles = arrays_io.load(shingles_path(self.plan, sf), mmap_mode="r")
        offsets = np.concatenate([[0], np.cumsum(num_shingles)])
        return [np.unique(shingles[offsets[r] : offsets[r + 1]]) for r in rows.tolist()]
