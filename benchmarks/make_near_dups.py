"""Generate a dedup benchmark: real sentences, planted near-duplicate clusters, exact ground truth.

Documents are built from real text of the shared corpus (Gutenberg books and BBC articles, split into
sentences and grouped into paragraphs), ~2.4 KB each on average. A fraction of them are planted
clusters: a base document plus variants made by one operation each, with an intensity drawn so that
the variants' Jaccard similarities spread over roughly [0.5, 1]:

    exact     the same text (J = 1)
    cosmetic  case, punctuation and spacing changed (the same normalized text: an exact duplicate)
    edit      a fraction of the words replaced by other words
    insert    new sentences inserted at one or more places
    delete    spans of words deleted
    shuffle   paragraphs reordered
    boiler    boilerplate (navigation, share buttons, copyright) added before and after

The ground truth is the exact Jaccard similarity of the word 5-gram sets (the same normalization as the
dedup stage, computed on the shingle strings, not hashes) of every pair inside a cluster. Background
documents are random sentence mixes; two of them share a 5-gram only where they share a sentence
(expected J ~0.02), so pairs across clusters are taken as non-duplicates.

Writes a run folder that `curate dedup --run OUT` reads directly:

    OUT/ingest/part-*.parquet, _SUCCESS    documents (the ingest schema, sharded and sorted like ingest)
    OUT/truth/pairs.parquet                 cluster, id_a, id_b, op_a, op_b, jaccard
    OUT/truth/docs.parquet                  id, cluster (-1: background), op, base_id

Usage: python benchmarks/make_near_dups.py --docs 100000 --out /tmp/nd-100k [--dup-fraction 0.1]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import sys
import time
from itertools import combinations
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from filters.dedup.shingles import shingle_words  # noqa: E402
from filters.document import make_id  # noqa: E402
from pipelines.document import DOCUMENT_SCHEMA  # noqa: E402
from pipelines.io.parquet import shard_of, write_table  # noqa: E402
from pipelines.runlayout import write_json_atomic  # noqa: E402

CORPUS = Path(os.environ.get("CURATE_CORPUS", Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"))
OPS = ("exact", "cosmetic", "edit", "insert", "delete", "shuffle", "boiler")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'‘“])")


def sentence_pool(corpus: Path) -> list[str]:
    """Unique real sentences of 5-60 words from the Gutenberg books and the BBC articles."""
    paragraphs: list[str] = []
    for book in sorted(glob.glob(str(corpus / "books" / "*.txt"))):
        text = Path(book).read_text(encoding="utf-8", errors="replace")
        body = text[len(text) // 20 : -len(text) // 20]  # skip the Gutenberg header and footer
        paragraphs += [" ".join(p.split()) for p in re.split(r"\n\s*\n", body)]
    bbc = corpus / "articles" / "bbc-news.jsonl"
    if bbc.is_file():
        with open(bbc, encoding="utf-8") as f:
            for line in f:
                paragraphs += [" ".join(p.split()) for p in json.loads(line)["text"].split("\n")]
    seen: set[str] = set()
    pool = []
    for p in paragraphs:
        for s in _SENT_SPLIT.split(p):
            n = len(s.split())
            if 5 <= n <= 60 and s not in seen:
                seen.add(s)
                pool.append(s)
    if len(pool) < 1000:
        raise SystemExit(f"only {len(pool)} sentences found under {corpus}: is the shared corpus there?")
    return pool


class Generator:
    def __init__(self, pool: list[str], seed: int):
        self.pool = pool
        self.seed = seed

    def document(self, rng: random.Random, mean_bytes: int = 2100) -> str:
        """Paragraphs of 2-6 random sentences until 0.6-1.4 x mean_bytes (the last paragraph overshoots:
        2100 gives ~2.4 KB documents on average)."""
        target = rng.uniform(0.6, 1.4) * mean_bytes
        paras, size = [], 0
        while size < target:
            para = " ".join(rng.choices(self.pool, k=rng.randint(2, 6)))
            paras.append(para)
            size += len(para) + 2
        return "\n\n".join(paras)

    def boilerplate(self, rng: random.Random) -> str:
        site = rng.choice(["Daily Ledger", "Northern Post", "City Herald", "The Review"])
        items = rng.sample(["Home", "News", "Sport", "Business", "Culture", "Opinion", "Travel", "Weather"], 5)
        return (
            f"{site} | {' | '.join(items)}\nShare this article on Facebook, Twitter and WhatsApp. "
            f"Sign up for our newsletter to get the best stories every morning. "
            + " ".join(rng.choices(self.pool, k=rng.randint(1, 4)))
        )

    def variant(self, rng: random.Random, base: str, op: str) -> str:
        if op == "exact":
            return base
        if op == "cosmetic":
            t = base.upper() if rng.random() < 0.5 else base.lower()
            return t.replace(",", " ,").replace(".", "!").replace("\n\n", "\n \n")
        words = base.split(" ")
        n = len(words)
        if op == "edit":
            frac = rng.uniform(0.0, 0.06)
            for i in rng.sample(range(n), max(1, int(frac * n))):
                words[i] = rng.choice(rng.choice(self.pool).split())
            return " ".join(words)
        if op == "insert":
            frac = rng.uniform(0.02, 0.8)
            for _ in range(rng.randint(1, 3)):
                extra = " ".join(rng.choices(self.pool, k=max(1, int(frac * n / 20 / 2) + 1)))
                pos = rng.randrange(n + 1)
                words[pos:pos] = extra.split(" ")
            return " ".join(words)
        if op == "delete":
            frac = rng.uniform(0.02, 0.45)
            spans = rng.randint(1, 3)
            for _ in range(spans):
                length = max(1, int(frac * n / spans))
                if len(words) <= length + 10:
                    break
                pos = rng.randrange(len(words) - length)
                del words[pos : pos + length]
            return " ".join(words)
        if op == "shuffle":
            paras = base.split("\n\n")
            rng.shuffle(paras)
            return "\n\n".join(paras)
        if op == "boiler":
            head = self.boilerplate(rng)
            tail = f"Copyright {rng.randint(1999, 2024)} {self.boilerplate(rng)}"
            return f"{head}\n\n{base}\n\n{tail}" if rng.random() < 0.7 else f"{base}\n\n{tail}"
        raise ValueError(op)


def jaccard_of(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dup-fraction", type=float, default=0.1, help="fraction of documents in planted clusters")
    ap.add_argument("--max-cluster", type=int, default=8, help="largest planted cluster (base + variants)")
    ap.add_argument("--shards", type=int, default=0, help="0: one shard per 12,500 documents (at least 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default=str(CORPUS))
    args = ap.parse_args(argv)

    start = time.time()
    out = Path(args.out)
    if (out / "ingest").exists():
        raise SystemExit(f"{out}/ingest exists: choose another --out")
    pool = sentence_pool(Path(args.corpus))
    gen = Generator(pool, args.seed)
    rng = random.Random(args.seed)
    n = args.docs
    shards = args.shards or max(2, n // 12_500)
    ids = [make_id("near-dups", str(args.seed), str(i)) for i in range(n)]

    # Planted clusters take the first documents (their position says nothing: ids are hashes).
    planted: dict[int, tuple[str, int, str, int]] = {}  # index -> (text, cluster, op, base index)
    truth_rows = []
    i, cluster = 0, 0
    target = int(args.dup_fraction * n)
    while i < target:
        size = min(rng.randint(2, args.max_cluster), n - i)
        if size < 2:
            break
        base = gen.document(rng)
        members = [(i, base, "base")]
        for k in range(1, size):
            op = rng.choice(OPS)
            members.append((i + k, gen.variant(rng, base, op), op))
        shingles = {idx: set(shingle_words(text)) for idx, text, _ in members}
        for idx, text, op in members:
            planted[idx] = (text, cluster, op, i)
        for (ia, _, _oa), (ib, _, _ob) in combinations(members, 2):
            a, b = (ia, ib) if ids[ia] < ids[ib] else (ib, ia)
            truth_rows.append({
                "cluster": cluster, "id_a": ids[a], "id_b": ids[b],
                "op_a": planted[a][2], "op_b": planted[b][2],
                "jaccard": jaccard_of(shingles[ia], shingles[ib]),
            })
        i += size
        cluster += 1

    (out / "ingest").mkdir(parents=True)
    (out / "truth").mkdir()
    by_shard: list[list[int]] = [[] for _ in range(shards)]
    for idx, id_ in enumerate(ids):
        by_shard[shard_of(id_, shards)].append(idx)
    total_bytes = 0
    doc_rows = []
    for s, members in enumerate(by_shard):
        rows = []
        for idx in sorted(members, key=lambda j: ids[j]):
            if idx in planted:
                text, cl, op, base = planted[idx]
            else:
                text, cl, op, base = gen.document(random.Random(f"{args.seed}:{idx}")), -1, "background", idx
            total_bytes += len(text.encode())
            rows.append({
                "id": ids[idx], "text": text, "source": "near-dups", "kind": "article", "dataset": "near-dups",
                "location": f"doc={idx}", "url": None, "meta": "{}",
            })
            doc_rows.append({"id": ids[idx], "cluster": cl, "op": op, "base_id": ids[base]})
        write_table(rows, DOCUMENT_SCHEMA, out / "ingest" / f"part-{s:05d}.parquet")
    write_json_atomic(out / "ingest" / "_SUCCESS", {
        "stage": "ingest", "fingerprint": f"near-dups-{n}-{args.seed}-{args.dup_fraction}",
        "counts": {"in": n, "out": n, "rejected": 0}, "generator": vars(args),
    })
    truth_schema = pa.schema([("cluster", pa.int64()), ("id_a", pa.string()), ("id_b", pa.string()),
                              ("op_a", pa.string()), ("op_b", pa.string()), ("jaccard", pa.float64())])
    write_table(truth_rows, truth_schema, out / "truth" / "pairs.parquet")
    docs_schema = pa.schema([("id", pa.string()), ("cluster", pa.int64()), ("op", pa.string()),
                             ("base_id", pa.string())])
    write_table(doc_rows, docs_schema, out / "truth" / "docs.parquet")
    print(json.dumps({
        "docs": n, "shards": shards, "mean_bytes": round(total_bytes / n), "sentence_pool": len(pool),
        "clusters": cluster, "planted_docs": len(planted), "truth_pairs": len(truth_rows),
        "pairs_j_ge_0.85": sum(r["jaccard"] >= 0.85 for r in truth_rows),
        "pairs_j_ge_0.8": sum(r["jaccard"] >= 0.8 for r in truth_rows),
        "seconds": round(time.time() - start, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
