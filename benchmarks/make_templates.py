"""Generate a line-dedup benchmark: real sentences, planted site templates, exact ground truth.

Sibling of make_near_dups.py (same sentence pool and content generator). Documents are web pages of
"sites": each page holds 2-6 paragraphs of real sentences (one paragraph a line, ~2.4 KB), framed by
its site's template: header lines (navigation, banner) and footer lines (newsletter, cookie notice,
copyright with a year, related-articles list). Each template line appears in a page with probability
0.9, with cosmetic variations the normalization must absorb (case, punctuation, the year's digits).
A few lines are shared by many sites (a common cookie-consent widget). Site sizes follow a Zipf-like
law, and one site in ten is tiny (1-9 pages expected), so its template sits below the threshold and
must stay; 15% of the pages belong to no site. Real quotes (a content sentence pair pasted into 2-4 other pages) are planted as negatives:
content repeated in a few pages that must stay.

Ground truth, by the very unit hash the stage uses (`filters.dedup.lines.hash_units`):

    OUT/ingest/part-*.parquet, _SUCCESS     documents (kind web, dataset web), sharded like ingest
    OUT/truth/units.parquet                 hash, kind (template / quote), text, doc_count

Usage: python benchmarks/make_templates.py --out /tmp/tpl-100k [--docs 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_near_dups import CORPUS, Generator, sentence_pool  # noqa: E402

from filters.dedup.lines import hash_units  # noqa: E402
from filters.document import make_id  # noqa: E402
from pipelines.document import DOCUMENT_SCHEMA  # noqa: E402
from pipelines.io.parquet import shard_of, write_table  # noqa: E402
from pipelines.runlayout import write_json_atomic  # noqa: E402

SECTIONS = ["Home", "News", "Sport", "Business", "Culture", "Opinion", "Travel", "Weather", "Science", "Health",
            "Money", "Style", "Food", "Video", "Podcasts", "Jobs", "Events", "Shop"]
SHARED = [  # the same widget on every site
    "This website uses cookies to improve your experience. By continuing to browse you accept our cookie policy.",
    "Your browser is out of date. Update your browser for more security, speed and the best experience on this site.",
]


def _vary(rng: random.Random, line: str) -> str:
    """A cosmetic variant: the same unit after normalization."""
    r = rng.random()
    if r < 0.15:
        line = line.upper()
    elif r < 0.3:
        line = line.replace(".", "!").replace(",", " ;")
    elif r < 0.4:
        line = "  " + line.replace(" ", "  ") + " "
    return line.replace("2024", str(rng.randint(1999, 2030)))


class Site:
    def __init__(self, rng: random.Random, pool: list[str], idx: int):
        name = " ".join(w.strip(".,;:!?\"'").capitalize() for w in rng.choice(pool).split()[:2]) + f" {idx}"
        self.name = name
        nav = rng.sample(SECTIONS, 7)
        header = [f"{name} | " + " | ".join(nav), f"Skip to main content of {name}. Search {name} archives"]
        footer = [
            f"Sign up for the {name} newsletter to get the best stories every morning.",
            f"Copyright 2024 {name}. All rights reserved. Privacy policy | Terms of use | Contact us",
            "Related articles: " + " ".join(rng.choice(pool).split()[:8]),
            f"Follow {name} on Facebook, Twitter and Instagram for more " + rng.choice(nav).lower() + " news.",
        ]
        self.header = header[: rng.randint(1, 2)]
        self.footer = rng.sample(footer, rng.randint(2, 4))
        self.shared = [s for s in SHARED if rng.random() < 0.5]

    def lines(self) -> list[str]:
        return self.header + self.footer + self.shared


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages-per-site", type=float, default=100.0, help="mean site size")
    ap.add_argument("--no-site", type=float, default=0.15, help="fraction of pages without a template")
    ap.add_argument("--quotes", type=float, default=0.02, help="quotes pasted into 2-4 other pages, per page")
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

    # Site sizes: Zipf-like (size ~ rank^-0.8) around the mean, and one site in ten tiny (1-9 pages
    # expected): their template lines sit under a threshold of 10 documents and must stay.
    n_sites = max(1, round(n * (1 - args.no_site) / args.pages_per_site))
    weights = [1.0 / (r + 1) ** 0.8 for r in range(n_sites)]
    mean_w = sum(weights) / n_sites
    for r in range(0, n_sites, 10):
        weights[r] = mean_w * rng.uniform(1, 9) / args.pages_per_site
    sites = [Site(rng, pool, i) for i in range(n_sites)]
    site_of = rng.choices(range(n_sites), weights=weights, k=n)
    for i in range(n):
        if rng.random() < args.no_site:
            site_of[i] = -1

    quotes: dict[int, list[str]] = {}  # page -> quotes pasted into it
    for _ in range(int(args.quotes * n)):
        text = " ".join(rng.sample(pool, 2))
        for page in rng.sample(range(n), rng.randint(2, 4)):
            quotes.setdefault(page, []).append(text)

    truth: dict[int, dict] = {}

    def note(line: str, kind: str) -> None:
        u = hash_units(line, "line", 1)
        h = int(u.hashes[0])
        t = truth.setdefault(h, {"hash": h, "kind": kind, "text": line, "doc_count": 0})
        t["doc_count"] += 1

    ids = [make_id("templates", str(args.seed), str(i)) for i in range(n)]
    by_shard: list[list[int]] = [[] for _ in range(shards)]
    for idx, id_ in enumerate(ids):
        by_shard[shard_of(id_, shards)].append(idx)
    (out / "ingest").mkdir(parents=True)
    (out / "truth").mkdir()
    total_bytes = 0
    for s, members in enumerate(by_shard):
        rows = []
        for idx in sorted(members, key=lambda j: ids[j]):
            prng = random.Random(f"{args.seed}:{idx}")
            body = gen.document(prng).split("\n\n")
            for qt in quotes.get(idx, []):
                body.insert(prng.randrange(len(body) + 1), qt)
                note(qt, "quote")
            head: list[str] = []
            foot: list[str] = []
            if site_of[idx] >= 0:
                site = sites[site_of[idx]]
                for line in site.lines():
                    if prng.random() < 0.9:
                        (head if line in site.header else foot).append(_vary(prng, line))
                        note(line, "template")
            text = "\n".join(head + body + foot)
            total_bytes += len(text.encode())
            rows.append({"id": ids[idx], "text": text, "source": "templates", "kind": "web", "dataset": "web",
                         "location": f"doc={idx}", "url": None, "meta": "{}"})
        write_table(rows, DOCUMENT_SCHEMA, out / "ingest" / f"part-{s:05d}.parquet")
    write_json_atomic(out / "ingest" / "_SUCCESS", {
        "stage": "ingest", "fingerprint": f"templates-{n}-{args.seed}",
        "counts": {"in": n, "out": n, "rejected": 0}, "generator": vars(args),
    })
    schema = pa.schema([("hash", pa.uint64()), ("kind", pa.string()), ("text", pa.string()), ("doc_count", pa.int64())])
    write_table(sorted(truth.values(), key=lambda t: t["hash"]), schema, out / "truth" / "units.parquet")
    tpl = [t for t in truth.values() if t["kind"] == "template"]
    print(json.dumps({
        "docs": n, "shards": shards, "mean_bytes": round(total_bytes / n), "sites": n_sites,
        "template_units": len(tpl), "template_units_in_ge_10_docs": sum(t["doc_count"] >= 10 for t in tpl),
        "quote_units": len(truth) - len(tpl), "seconds": round(time.time() - start, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
