"""Build the bundled public-domain sample corpus in examples/sample/ from ../shared/corpus.

Only public-domain material goes in: Project Gutenberg books and the UDHR. The small WARC wraps
chapters of a Gutenberg book in HTML pages with navigation, footer and cookie boilerplate (as real
sites have), serves a few pages twice under a second URL, adds a few low-quality pages made of the
same public-domain words, and a PDF and a JPEG record, as real crawls carry.

    python examples/build_sample.py [--corpus ../shared/corpus] [--out examples/sample]
"""

from __future__ import annotations

import argparse
import html
import io
import json
import random
import re
import shutil
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

BOOKS = ["pg11.txt", "pg84.txt", "pg1342.txt", "pg972.txt", "pg972-older-edition.txt"]
WARC_BOOK = "pg2701.txt"  # Moby Dick, split into chapter pages
UDHR_LANGS = [
    "eng", "deu", "fra", "spa", "por", "ita", "nld", "pol", "ces", "swe", "fin", "hun", "tur", "rus",
    "ukr", "ell", "arb", "heb", "hin", "ben", "jpn", "kor", "cmn_hans", "vie", "ind", "swh", "yor",
    "zul", "cat", "eus", "glg", "ron", "dan", "nob", "isl", "lit", "lav", "est", "slk", "slv",
]
DATE = "2024-01-15T12:00:00Z"


def page(title: str, paragraphs: list[str], site: str) -> str:
    nav = "".join(f'<li><a href="/{w.lower()}">{w}</a></li>' for w in ["Home", "Books", "Authors", "About", "Contact"])
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | {site}</title>
<script>window.analytics = {{}};</script><style>body {{ font-family: serif; }}</style></head>
<body>
<header><div class="logo">{site}</div><nav class="main-nav"><ul>{nav}</ul></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. <a href="/privacy">Privacy policy</a></div>
<main><article><h1>{html.escape(title)}</h1>
{body}
</article></main>
<aside class="sidebar"><h3>Popular</h3><ul><li><a href="/a">Top ten whales</a></li><li><a href="/b">Ships</a></li></ul></aside>
<footer><p>Copyright 2024 {site}. All rights reserved.</p><a href="/terms">Terms of use</a> | <a href="/imprint">Imprint</a></footer>
</body></html>"""


def low_quality_page(rng: random.Random, words: list[str], i: int) -> str:
    kind = i % 4
    if kind == 0:  # keyword list
        items = "".join(f"<li>{' '.join(rng.sample(words, 2))}</li>" for _ in range(40))
        return f"<html><body><ul>{items}</ul></body></html>"
    if kind == 1:  # repeated lines
        line = " ".join(rng.sample(words, 8)) + "."
        return "<html><body>" + "".join(f"<p>{line}</p>" for _ in range(30)) + "</body></html>"
    if kind == 2:  # placeholder text
        return ("<html><body><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit. {{placeholder}} "
                + " ".join(rng.sample(words, 30)) + "</p></body></html>")
    shouts = "".join(f"<p>{' '.join(rng.sample(words, 3)).upper()}!!! #{w} #{w}</p>" for w in rng.sample(words, 20))
    return f"<html><body>{shouts}</body></html>"


def chapters(text: str) -> list[tuple[str, list[str]]]:
    parts = re.split(r"\n(CHAPTER \d+\.[^\n]*)\n", text)
    out = []
    for i in range(1, len(parts) - 1, 2):
        paras = [" ".join(p.split()) for p in parts[i + 1].split("\n\n") if p.strip()]
        if len(paras) >= 3:  # the table of contents lists every heading with nothing under it
            out.append((parts[i].strip(), paras))
    return out


def write_record(writer: WARCWriter, url: str, payload: bytes, content_type: str) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(payload)))],
                            protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http,
                                    warc_headers_dict={"WARC-Date": DATE})
    writer.write_record(rec)


def build_warc(corpus: Path, out: Path) -> int:
    rng = random.Random(1851)
    text = (corpus / "books" / WARC_BOOK).read_text(encoding="utf-8")
    chaps = chapters(text)[:60]
    words = sorted({w for w in re.findall(r"[a-z]{4,}", text.lower())})[:3000]
    n = 0
    with open(out, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        writer.write_record(writer.create_warcinfo_record("sample.warc.gz", {"software": "curate sample builder"}))
        for i, (title, paras) in enumerate(chaps):
            url = f"https://whales.example.org/moby-dick/chapter-{i + 1}"
            body = page(title, paras, "Whales Reading Room").encode()
            write_record(writer, url, body, "text/html; charset=utf-8")
            n += 1
            if i % 15 == 3:  # served twice, as crawls see mirrors and tracking-parameter variants
                write_record(writer, f"http://www.whales.example.org/moby-dick/chapter-{i + 1}?utm_source=feed",
                             body, "text/html; charset=utf-8")
                n += 1
        for i in range(16):
            write_record(writer, f"https://spam.example.net/page-{i}", low_quality_page(rng, words, i).encode(),
                         "text/html")
            n += 1
        write_record(writer, "https://whales.example.org/moby-dick.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n",
                     "application/pdf")
        write_record(writer, "https://whales.example.org/whale.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64),
                     "image/jpeg")
        n += 2
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "sample"))
    args = ap.parse_args()
    corpus, out = Path(args.corpus), Path(args.out)
    for sub in ("books", "web", "udhr"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    for name in BOOKS:
        shutil.copyfile(corpus / "books" / name, out / "books" / name)
    rows = {}
    with open(corpus / "multilingual" / "udhr.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows[r["lang_iso639_3"]] = r
    with open(out / "udhr" / "udhr-sample.jsonl", "w", encoding="utf-8") as f:
        for lang in UDHR_LANGS:
            if lang in rows:
                f.write(json.dumps(rows[lang], ensure_ascii=False) + "\n")
    n = build_warc(corpus, out / "web" / "sample.warc.gz")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(BOOKS)} books, {len(UDHR_LANGS)} UDHR texts, {n} WARC records, {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
