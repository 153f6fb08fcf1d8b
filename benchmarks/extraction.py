"""Main-text extraction benchmark: quality against the gold segments, and speed, side by side.

    python benchmarks/extraction.py [--corpus ../shared/corpus/web] [--repeat 1] [--json PATH]
    python benchmarks/extraction.py --errors dev      # list the missed / leaked segments of one half
    python benchmarks/extraction.py --ablate          # what each pruning rule of `default` buys (dev half)

Pages: the `response` records of `CORPUS/*.warc.gz` whose payload is HTML (Content-Type text/html or
application/xhtml+xml), read with warcio, decoded once with `filters.extract.decode_html` (the HTTP
charset, else detection) outside the timed part. Only pages whose URL is in `extraction-gold.json` are
scored; a gold URL is matched after stripping surrounding white space and writing spaces as `%20`
(warcio percent-encodes spaces in WARC-Target-URI). Gold URLs missing from the WARCs are counted.

Scoring (per segment, micro-averaged like trafilatura's own evaluation): a `with` segment is a true
positive when it is contained in the extracted text, else a false negative; a `without` segment
contained in the text is a false positive. Containment is tested after normalizing both sides the same
way: Unicode NFC, invisible characters removed (soft hyphen U+00AD, zero-width space / joiners, word
joiner), every run of white space (any Unicode space, tab, newline) collapsed to one space, ends
stripped. Case and punctuation are compared as they are. P = TP / (TP + FP), R = TP / (TP + FN).

Held-out check: pages are split in two halves by the first byte of sha1(url) (even: `dev`, odd:
`held-out`). The rules of `default` were developed looking at the dev half only; both halves and the
total are reported so that overfitting would show as a gap between them.

Speed: each page is extracted by every method in turn (order rotated per page), so that all methods see
the same load of a shared machine; docs/s = pages / summed extraction time, and the ratio to
trafilatura is the figure to compare across runs. `--repeat N` repeats the timing pass.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from warcio.archiveiterator import ArchiveIterator  # noqa: E402

from filters import extract as ex  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "web"
METHODS = ("default", "resiliparse", "trafilatura")
HTML_TYPES = ("text/html", "application/xhtml+xml")

_WS = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060]")


def normalize(text: str) -> str:
    return _WS.sub(" ", _INVISIBLE.sub("", unicodedata.normalize("NFC", text))).strip()


def gold_key(url: str) -> str:
    return url.strip().replace(" ", "%20")


def half_of(url: str) -> str:
    return "dev" if hashlib.sha1(url.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


@dataclass
class Page:
    url: str
    html: str
    with_: list[str]
    without: list[str]
    half: str


def load_pages(corpus: Path) -> tuple[list[Page], dict[str, Any]]:
    gold_raw = json.loads((corpus / "extraction-gold.json").read_text(encoding="utf-8"))
    gold = {gold_key(u): v for u, v in gold_raw.items()}
    pages: list[Page] = []
    seen: set[str] = set()
    html_records = 0
    decode_s = 0.0
    for path in sorted(glob.glob(str(corpus / "*.warc.gz")) + glob.glob(str(corpus / "*.warc"))):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                ctype = record.http_headers.get_header("Content-Type") or ""
                mime = ctype.split(";")[0].strip().lower()
                if mime not in HTML_TYPES:
                    continue
                html_records += 1
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                key = gold_key(url)
                if key not in gold or key in seen:
                    continue
                seen.add(key)
                charset = None
                for part in ctype.split(";")[1:]:
                    name, _, value = part.strip().partition("=")
                    if name.lower() == "charset":
                        charset = value.strip("\"' ") or None
                payload = record.content_stream().read()
                t = time.perf_counter()
                html = ex.decode_html(payload, charset)
                decode_s += time.perf_counter() - t
                g = gold[key]
                pages.append(Page(key, html, list(g.get("with", [])), list(g.get("without", [])), half_of(key)))
    info = {
        "gold_urls": len(gold),
        "gold_urls_missing_from_warcs": len(gold) - len(seen),
        "html_records": html_records,
        "pages_scored": len(pages),
        "decode_ms_per_page": round(1000 * decode_s / max(1, len(pages)), 3),
        "html_mb": round(sum(len(p.html.encode("utf-8", "surrogatepass")) for p in pages) / 1e6, 1),
    }
    return pages, info


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    pages: int = 0

    def add(self, page: Page, text: str) -> tuple[list[str], list[str]]:
        norm = normalize(text)
        missed = [s for s in page.with_ if normalize(s) not in norm]
        leaked = [s for s in page.without if normalize(s) in norm]
        self.tp += len(page.with_) - len(missed)
        self.fn += len(missed)
        self.fp += len(leaked)
        self.pages += 1
        return missed, leaked

    def prf(self) -> dict[str, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


@dataclass
class MethodResult:
    seconds: float = 0.0
    by_half: dict[str, Counts] = field(default_factory=lambda: {"dev": Counts(), "held-out": Counts()})
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # (half, kind, segment, url)

    def total(self) -> Counts:
        t = Counts()
        for c in self.by_half.values():
            t.tp, t.fp, t.fn, t.pages = t.tp + c.tp, t.fp + c.fp, t.fn + c.fn, t.pages + c.pages
        return t


def run_methods(pages: list[Page], methods: tuple[str, ...], repeat: int) -> dict[str, MethodResult]:
    results = {m: MethodResult() for m in methods}
    for m in methods:  # warm-up: imports (trafilatura loads lazily) and first-call set-up stay untimed
        ex.extract_main_text(pages[0].html, m)
        ex.extract_trafilatura(pages[0].html, fast=True)
    for rep in range(repeat):
        for i, page in enumerate(pages):
            order = methods[i % len(methods):] + methods[: i % len(methods)]
            for m in order:
                t = time.perf_counter()
                text = ex.extract_main_text(page.html, m)
                results[m].seconds += time.perf_counter() - t
                if rep == 0:
                    missed, leaked = results[m].by_half[page.half].add(page, text)
                    results[m].errors += [(page.half, "missed", s, page.url) for s in missed]
                    results[m].errors += [(page.half, "leaked", s, page.url) for s in leaked]
    return results


def fallback_rate(pages: list[Page]) -> float:
    """Share of pages on which `default` hands over to trafilatura (computed untimed)."""
    n = sum(ex.needs_fallback(ex.extract_fast(p.html), p.html) for p in pages)
    return n / max(1, len(pages))


def report(results: dict[str, MethodResult], pages: list[Page], repeat: int, info: dict[str, Any]) -> dict[str, Any]:
    n = len(pages)
    print(
        f"{info['pages_scored']} gold pages scored ({info['html_mb']} MB of HTML; "
        f"{info['gold_urls_missing_from_warcs']} of {info['gold_urls']} gold URLs are not in the WARCs), "
        f"halves: dev {sum(p.half == 'dev' for p in pages)}, held-out {sum(p.half == 'held-out' for p in pages)}"
    )
    print()
    print(f"{'method':<12} {'half':<9} {'pages':>5} {'P':>6} {'R':>6} {'F1':>6} {'TP':>5} {'FP':>5} {'FN':>5}")
    out: dict[str, Any] = {"info": info, "methods": {}}
    for m, res in results.items():
        rows = {**res.by_half, "all": res.total()}
        out["methods"][m] = {}
        for half, c in rows.items():
            prf = c.prf()
            out["methods"][m][half] = {**prf, "tp": c.tp, "fp": c.fp, "fn": c.fn, "pages": c.pages}
            print(
                f"{m:<12} {half:<9} {c.pages:>5} {prf['precision']:>6.3f} {prf['recall']:>6.3f} "
                f"{prf['f1']:>6.3f} {c.tp:>5} {c.fp:>5} {c.fn:>5}"
            )
    print()
    traf = results.get("trafilatura")
    print(f"{'method':<12} {'docs/s':>8} {'ms/doc':>8} {'x trafilatura':>14}")
    for m, res in results.items():
        dps = repeat * n / res.seconds if res.seconds else 0.0
        ratio = traf.seconds / res.seconds if traf and res.seconds else float("nan")
        out["methods"][m]["docs_per_s"] = round(dps, 1)
        out["methods"][m]["speedup_vs_trafilatura"] = round(ratio, 2)
        print(f"{m:<12} {dps:>8.1f} {1000 / dps if dps else 0:>8.2f} {ratio:>14.2f}")
    return out


# ---- ablation: what each pruning rule of `default` buys -------------------------------------------------


def ablate(pages: list[Page]) -> None:
    """Remove each class/id name (and each dropped tag) from `default`'s pruning in turn and report the
    change of true and false positives on the dev half: a rule earns its place by removing leaked
    boilerplate without removing main text. trafilatura's fallback output is cached per page."""
    dev = [p for p in pages if p.half == "dev"]
    cache: dict[str, str] = {}
    real_traf = ex.extract_trafilatura

    def cached_traf(html: str, fast: bool = False) -> str:
        key = hashlib.sha1(html.encode("utf-8", "surrogatepass")).hexdigest() + str(fast)
        if key not in cache:
            cache[key] = real_traf(html, fast=fast)
        return cache[key]

    def counts() -> Counts:
        c = Counts()
        for p in dev:
            c.add(p, ex.extract_default(p.html))
        return c

    ex.extract_trafilatura = cached_traf
    original = ex._PRUNE_SELECTOR
    try:
        base = counts()
        print(f"dev half, all rules: TP {base.tp} FP {base.fp} FN {base.fn} {base.prf()}")
        print(f"{'without rule':<22} {'dTP':>5} {'dFP':>5}   (a good rule: dTP >= 0, dFP > 0)")
        variants = [(f"tag {t}", tuple(x for x in ex._DROP_TAGS if x != t), ex._BOILERPLATE_NAMES) for t in ex._DROP_TAGS]
        variants += [
            (f"name {n}", ex._DROP_TAGS, tuple(x for x in ex._BOILERPLATE_NAMES if x != n)) for n in ex._BOILERPLATE_NAMES
        ]
        for label, tags, names in variants:
            ex._PRUNE_SELECTOR = ex._selector(tags, names)
            c = counts()
            print(f"{label:<22} {c.tp - base.tp:>5} {c.fp - base.fp:>5}")
    finally:
        ex._PRUNE_SELECTOR = original
        ex.extract_trafilatura = real_traf


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with *.warc.gz and extraction-gold.json")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ", ".join(METHODS))
    ap.add_argument("--repeat", type=int, default=1, help="timing passes (scores come from the first)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N gold pages (quick look)")
    ap.add_argument("--json", type=Path, default=REPO / "benchmarks" / "out" / "extraction.json")
    ap.add_argument("--errors", choices=["dev", "held-out", "all"], help="list missed and leaked segments")
    ap.add_argument("--ablate", action="store_true", help="per-rule effect of default's pruning (dev half)")
    args = ap.parse_args()

    if not (args.corpus / "extraction-gold.json").is_file():
        print(f"no extraction-gold.json in {args.corpus}", file=sys.stderr)
        return 2
    pages, info = load_pages(args.corpus)
    if args.limit:
        pages = pages[: args.limit]
    if args.ablate:
        ablate(pages)
        return 0
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    for m in methods:
        if m not in METHODS:
            ap.error(f"unknown method {m!r}")
    results = run_methods(pages, methods, max(1, args.repeat))
    out = report(results, pages, max(1, args.repeat), info)
    if "default" in methods:
        rate = fallback_rate(pages)
        out["default_fallback_rate"] = round(rate, 4)
        print(f"\ndefault handed {rate:.1%} of the pages to trafilatura (its cascade fallback)")
    if args.errors:
        for m, res in results.items():
            errs = [e for e in res.errors if args.errors == "all" or e[0] == args.errors]
            print(f"\n{m}: {len(errs)} errors on {args.errors}")
            for half, kind, seg, url in errs:
                print(f"  {kind:<6} {half:<8} {seg[:70]!r}  {url[:80]}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    out["settings"] = {"repeat": args.repeat, "corpus": str(args.corpus), "cpu_count": os.cpu_count()}
    args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
