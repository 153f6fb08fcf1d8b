"""Books benchmark: the corpus's Gutenberg books as EPUB and PDF, ingested and compared with the .txt ingest.

    nice python benchmarks/books.py [--books '../shared/corpus/books/pg*.txt'] [--repeat 3] [--out DIR]

1. Each `.txt` book (license header and footer included, as Project Gutenberg ships it) is turned into
   an EPUB 3 (zipfile, as OCF lays it out: the license header and footer as their own spine items, a contents page, one
   XHTML file per chapter, `<p>` per paragraph) and a typeset PDF (fpdf2: A5, DejaVu Serif 10.5pt,
   hyphenated line ends, running heads, page numbers, an outline entry per chapter), with the helpers
   of `tests/filters/books/bookfixtures.py`.
2. `curate ingest` reads the three formats of every book in one run (detection by content: the PDF and
   EPUB files are written without extension too, as `NAME.pdf.bin`, to exercise the magic bytes).
   Word-level F1 (bags of lower-cased words) of each EPUB/PDF document against the `.txt` document of
   the same book, and the book-quality signals of each.
3. `curate dedup` on that run: each book's three formats must fall into one near-duplicate cluster.
4. Speed of the two PDF libraries side by side: read + clean every generated PDF with pypdfium2 and
   with pypdf, CPU seconds of this process (one core), median of `--repeat` runs, pages/s/core, and
   each library's F1 against the .txt text.

Older editions (`*-older-edition.txt`) are left out by default: their text nearly equals the current
edition, so they would join its duplicate cluster and blur the per-book check.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from filters.book_quality import book_signals  # noqa: E402
from filters.books.pdf import LIBRARIES, pdf_documents, read_pdf  # noqa: E402
from filters.gutenberg import strip_gutenberg  # noqa: E402
from tests.filters.books.bookfixtures import make_epub, make_pdf, text_to_chapters, word_f1  # noqa: E402


def split_license(text: str) -> tuple[str, str, str]:
    """(header, body, footer) of a Project Gutenberg .txt, cut where `filters.gutenberg` cuts."""
    body = strip_gutenberg(text)
    start = text.index(body)
    return text[:start], body, text[start + len(body) :]


def paragraphs(text: str) -> list[str]:
    return [p for _, ps in text_to_chapters(text, heading=r"\A\Z") for p in ps]


def make_formats(txt: Path, out: Path) -> dict[str, Path]:
    text = txt.read_text(encoding="utf-8-sig")
    header, body, footer = split_license(text)
    chapters = text_to_chapters(body)
    title = next((line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("Title:")),
                 txt.stem)
    author = next((line.split(":", 1)[1].strip() for line in header.splitlines() if line.startswith("Author:")),
                  "")
    # As a reader gets them: the EPUB with the license pages, the PDF as a printed book (title page, no
    # license: Project Gutenberg's own files are the EPUB and the .txt).
    epub = make_epub(chapters, title=title, author=author, front=paragraphs(header), back=paragraphs(footer))
    pdf = make_pdf([(title, [f"by {author}"]), *chapters], title=title, author=author)
    paths = {"txt": out / txt.name, "epub": out / f"{txt.stem}.epub.bin", "pdf": out / f"{txt.stem}.pdf.bin"}
    paths["txt"].write_text(text, encoding="utf-8")
    paths["epub"].write_bytes(epub)
    paths["pdf"].write_bytes(pdf)
    return paths


def curate(*args: str) -> None:
    cmd = [sys.executable, "-m", "pipelines.cli", *args]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--books", default=str(ROOT.parent / "shared/corpus/books/pg*.txt"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    books = [Path(p) for p in sorted(glob.glob(args.books)) if "older-edition" not in p]
    if not books:
        print(f"no books at {args.books}", file=sys.stderr)
        return 2
    import pyarrow.parquet as pq

    work = Path(args.out or tempfile.mkdtemp(prefix="curate-books-"))
    src = work / "books"
    src.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    formats = {b.stem: make_formats(b, src) for b in books}
    print(f"generated EPUB and PDF of {len(books)} books in {time.perf_counter() - t0:.1f}s -> {src}")

    run = work / "run"
    curate("ingest", "--run", str(run), "--input", f"books={src}/*", "--workers", "1")
    docs = {Path(r["source"]).name: r for r in pq.read_table(run / "ingest").to_pylist()}
    rejected = pq.read_table(run / "rejected" / "ingest").to_pylist() if (run / "rejected" / "ingest").exists() else []
    figures: dict = {"books": {}, "rejected": [r["reason"] for r in rejected]}
    print(f"\ningest: {len(docs)} documents, {len(rejected)} rejected")
    print(f"{'book':<10} {'pages':>5} {'F1 epub':>8} {'F1 pdf':>8}  {'alpha/line len/garbage (txt | epub | pdf)'}")
    for name, paths in formats.items():
        txt = docs[paths["txt"].name]
        row = {"kind": {f: docs[p.name]["kind"] for f, p in paths.items()}}
        sig = []
        for fmt in ("txt", "epub", "pdf"):
            d = docs[paths[fmt].name]
            if fmt != "txt":
                row[f"f1_{fmt}"] = word_f1(txt["text"], d["text"])
            s = book_signals(d["text"])
            row[f"signals_{fmt}"] = s
            sig.append(f"{s['book_alpha_share']:.3f}/{s['book_mean_line_length']:.0f}/{s['book_garbage_line_share']:.3f}")
        row["pages"] = json.loads(docs[paths["pdf"].name]["meta"])["pages"]
        row["pdf_meta"] = json.loads(docs[paths["pdf"].name]["meta"])
        figures["books"][name] = row
        print(f"{name:<10} {row['pages']:>5} {row['f1_epub']:>8.4f} {row['f1_pdf']:>8.4f}  {' | '.join(sig)}")

    # --- dedup: the three formats of each book are one cluster
    curate("dedup", "--run", str(run), "--workers", "1")
    dups = pq.read_table(run / "rejected" / "dedup").to_pylist()
    kept = pq.read_table(run / "dedup").to_pylist()
    id_to_name = {d["id"]: Path(d["source"]).name for d in docs.values()}
    cluster_of = {id_to_name[r["id"]]: id_to_name.get(r["duplicate_of"], r["duplicate_of"]) for r in dups}
    dedup_ok = True
    print(f"\ndedup: {len(kept)} kept, {len(dups)} duplicates ({sorted({r['reason'] for r in dups})})")
    for name, paths in formats.items():
        members = {p.name for p in paths.values()}
        keepers = {cluster_of.get(m, m) for m in members}
        ok = len(keepers) == 1 and sum(m not in cluster_of for m in members) == 1
        dedup_ok &= ok
        print(f"  {name}: {'one cluster' if ok else 'NOT one cluster'} (kept {sorted(keepers)})")
    figures["dedup_three_formats_one_cluster"] = dedup_ok

    # --- PDF libraries side by side: CPU seconds in this process, median of --repeat runs
    pdfs = {name: paths["pdf"].read_bytes() for name, paths in formats.items()}
    reference = {name: docs[paths["txt"].name]["text"] for name, paths in formats.items()}
    total_pages = sum(figures["books"][n]["pages"] for n in formats)
    speed: dict = {}
    for lib in LIBRARIES:
        times, extract_times, f1s = [], [], {}
        for _ in range(args.repeat):
            c0 = time.process_time()
            raw = {n: read_pdf(data, lib) for n, data in pdfs.items()}
            c1 = time.process_time()
            texts = {n: pdf_documents(pdf)[0].text for n, pdf in raw.items()}
            times.append(time.process_time() - c0)
            extract_times.append(c1 - c0)
        for n, text in texts.items():
            f1s[n] = word_f1(reference[n], strip_gutenberg(text))
        cpu, extract_cpu = statistics.median(times), statistics.median(extract_times)
        speed[lib] = {"cpu_s": cpu, "extract_cpu_s": extract_cpu, "pages": total_pages,
                      "pages_per_s_core": total_pages / cpu, "extract_pages_per_s_core": total_pages / extract_cpu,
                      "f1_mean": statistics.mean(f1s.values()), "f1_min": min(f1s.values())}
    figures["pdf_libraries"] = speed
    a, b = LIBRARIES
    print(f"\nPDF libraries, {total_pages} pages, CPU seconds (median of {args.repeat}; machine shared and loaded):")
    for lib, s in speed.items():
        print(f"  {lib:<10} text layer {s['extract_pages_per_s_core']:7.1f} pages/s/core; with cleaning "
              f"{s['pages_per_s_core']:7.1f} pages/s/core ({s['cpu_s']:.2f} cpu-s)   "
              f"F1 mean {s['f1_mean']:.4f} min {s['f1_min']:.4f}")
    print(f"  {a} / {b} speed ratio: text layer "
          f"{speed[a]['extract_pages_per_s_core'] / speed[b]['extract_pages_per_s_core']:.1f}x, with cleaning "
          f"{speed[a]['pages_per_s_core'] / speed[b]['pages_per_s_core']:.1f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
    print(f"\nwork folder: {work}  ({os.cpu_count()} cores)")
    return 0 if dedup_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
