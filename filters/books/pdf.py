"""PDF -> book text: per-page text from the PDF's text layer, then a book's page furniture taken off.

Extraction is PDFium's (`pypdfium2`, Apache-2.0/BSD-3, the engine of Chrome's PDF viewer, in C++) by
default; pypdf (BSD-3, pure Python) is the other choice. `benchmarks/books.py` measured both side by side
on the same 2,029 typeset pages of six Gutenberg books: PDFium reads the text layer 4.2x faster (~1,600
vs ~380 pages/s/core; 3.5x with this module's cleaning included) and both recover the text equally well
(word F1 0.9996 against the .txt): PDFium is the default, pypdf an option (`ingest.pdf_library`).
PyMuPDF (not measured) was left out for its license: AGPL-3.0.

What the text layer of a typeset book holds besides the text, and what is done about it:

- running heads and folios: a line among the first or last `EDGE_LINES` of a page that recurs (digits
  ignored) among the edge lines of a page at most `NEIGHBOUR_PAGES` away is a running head or foot (it
  catches alternating verso/recto heads and per-chapter heads, which a "most pages" count misses); its
  first occurrence stays (a chapter heading the heads repeat) unless it is the book's title. A lone
  number ("12", "- 12 -", "Page 12", "xiv") at an edge is a page number. Both go.
- hyphenated line ends: "whale-" + "boat" becomes "whaleboat"; the hyphen stays when the document
  itself spells the word with a hyphen elsewhere and never without ("sea-" + "captain").
- paragraphs: lines are re-joined with spaces; a paragraph ends at a line the next line's first word
  would have fitted on (the typesetter broke it on purpose: a paragraph's last line, a heading), line
  widths measured per page so that a page set in two columns keeps its narrower measure. Paragraphs
  continue across page breaks.
- ligatures (U+FB00-FB06) are spelled out.

A page without a text layer (a scan) gives no text; a file where no page has one is `no_text_layer`
(OCR is out of scope). A file that needs a password is `encrypted`; one the library cannot parse
(truncated, damaged) is `unreadable_file`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Literal

from filters.books import BookError

Library = Literal["pypdfium2", "pypdf"]
LIBRARIES: tuple[str, ...] = ("pypdfium2", "pypdf")

EDGE_LINES = 3
NEIGHBOUR_PAGES = 2
# Paragraph ends (see `_ends_paragraph`). A page's full line length is the 90th percentile of its line
# lengths in characters; characters differ in width, hence the slack. The last line of a page (no next
# line to test) ends a paragraph when clearly short.
FIT_SHARE = 0.9
SHORT_LINE_SHARE = 0.75
# Fewer letters and digits than this in the whole file: no text layer (a scan with a stray OCR-less
# label or a blank page gives a handful).
MIN_TEXT_CHARS = 20

# PDFium is not thread-safe (pypdfium2's documentation): one document at a time per process, so that
# Beam's multi_threading mode cannot corrupt it. Processes (the default with several workers) run freely.
_PDFIUM_LOCK = threading.Lock()

_NEWLINES = re.compile(r"\r\n|\r|\n")
_PAGE_NUMBER = re.compile(r"^(?:[Pp]age\s+)?[-–—\s]*(?:\d{1,4}|[ivxlc]{1,6})[-–—\s]*(?:of\s+\d+)?$")
_DIGITS = re.compile(r"\d+")
_HAS_LIGATURE = re.compile("[\ufb00-\ufb06]")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
# A hyphen ending a line after a letter: "-", a soft hyphen, or PDFium's marker of a hyphen it judged a
# line-break one (U+FFFE; \x02 in older builds).
_LINE_END_HYPHEN = re.compile(r"(\w*[^\W\d_])[-\u00ad\x02\ufffe]$")
_HYPHENS = "-\u00ad\x02\ufffe"
_JOIN_WINDOW = 80  # characters at the end of a line searched for a hyphenated word
_STRAY_MARKERS = re.compile("[\x02\ufffe]")
_LINE_START_WORD = re.compile(r"^([^\W\d_]\w*)")
_WORDS = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass
class PdfText:
    """What a PDF holds for us: the raw text of every page, its top-level outline and its metadata."""

    pages: list[str]
    outline: list[tuple[str, int]] = field(default_factory=list)  # (title, 0-based page), page order
    meta: dict[str, str] = field(default_factory=dict)  # title, author when the file has them


# ---- extraction ------------------------------------------------------------------------------------------


def read_pdf(data: bytes, library: Library = "pypdfium2") -> PdfText:
    """The text layer of every page; raises BookError(`encrypted` / `unreadable_file` / `no_text_layer`)."""
    if library == "pypdfium2":
        with _PDFIUM_LOCK:
            text = _read_pdfium(data)
    elif library == "pypdf":
        text = _read_pypdf(data)
    else:
        raise ValueError(f"unknown PDF library {library!r} (expected one of {', '.join(LIBRARIES)})")
    if sum(ch.isalnum() for page in text.pages for ch in page) < MIN_TEXT_CHARS:
        raise BookError("no_text_layer", f"{len(text.pages)} pages without extractable text")
    return text


def _read_pdfium(data: bytes) -> PdfText:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD or "password" in str(e).lower():
            raise BookError("encrypted", "the file needs a password") from None
        raise BookError("unreadable_file", str(e)) from None
    try:
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        outline = []
        for item in pdf.get_toc():
            if item.level == 0:
                dest = item.get_dest()
                index = dest.get_index() if dest is not None else None
                if index is not None:
                    outline.append((item.get_title(), index))
        info = pdf.get_metadata_dict(skip_empty=True)
    except pdfium.PdfiumError as e:
        raise BookError("unreadable_file", str(e)) from None
    finally:
        pdf.close()
    meta = {k.lower(): v for k, v in info.items() if k in ("Title", "Author")}
    return PdfText(pages=pages, outline=sorted(outline, key=lambda t: t[1]), meta=meta)


def _read_pypdf(data: bytes) -> PdfText:
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BookError("encrypted", "the file needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        outline = []
        for item in reader.outline:
            if not isinstance(item, list):  # nested lists are sub-levels
                outline.append((str(item.title), reader.get_destination_page_number(item)))
        info = reader.metadata or {}
        meta = {k: str(info.get(f"/{k.title()}")) for k in ("title", "author") if info.get(f"/{k.title()}")}
    except BookError:
        raise
    except Exception as e:  # pypdf raises many types on damaged files; any of them: this file is unreadable
        raise BookError("unreadable_file", f"{type(e).__name__}: {e}") from None
    return PdfText(pages=pages, outline=sorted(outline, key=lambda t: t[1]), meta=meta)


# ---- page furniture ----------------------------------------------------------------------------------------


def page_lines(text: str) -> list[str]:
    """A page's text as stripped, non-empty lines."""
    # PDFium joins a line that ends in a hyphen it judged a line-break one to the next, leaving U+FFFE
    # where the hyphen was: put the line break back so that both libraries give the same lines.
    text = text.replace("\ufffe", "\ufffe\n")
    if _HAS_LIGATURE.search(text):
        text = text.translate(_LIGATURES)
    lines = (" ".join(line.split()) for line in _NEWLINES.split(text))
    return [line for line in lines if line]


def _edge_key(line: str) -> str:
    return _DIGITS.sub("#", line.lower())


def _edges(lines: list[str]) -> list[str]:
    return lines if len(lines) <= 2 * EDGE_LINES else lines[:EDGE_LINES] + lines[-EDGE_LINES:]


def strip_running_lines(pages: list[list[str]], title: str | None = None) -> list[list[str]]:
    """Each page's lines without page numbers and running heads/feet (see the module docstring).

    The first occurrence of a repeated edge line is kept unless it is the book's title: it is the chapter
    heading that the running heads of the chapter's pages then repeat. (A running head that is not the
    title leaks once per document that way; taking the heading with the heads would lose every chapter
    title.)
    """
    edge_keys = [{_edge_key(line) for line in _edges(lines)} for lines in pages]
    title_key = _edge_key(" ".join(title.split())) if title else None
    seen: set[str] = set()
    out = []
    for i, lines in enumerate(pages):
        near = [edge_keys[j] for j in range(max(0, i - NEIGHBOUR_PAGES), min(len(pages), i + NEIGHBOUR_PAGES + 1))
                if j != i]
        n = len(lines)
        kept = []
        for k, line in enumerate(lines):
            if k < EDGE_LINES or k >= n - EDGE_LINES:
                if _PAGE_NUMBER.match(line):
                    continue
                key = _edge_key(line)
                if key == title_key or (any(key in keys for keys in near) and key in seen):
                    continue
                seen.add(key)
            kept.append(line)
        out.append(kept)
    return out


# ---- lines -> paragraphs ---------------------------------------------------------------------------------


def _full_length(lines: list[str]) -> int:
    if not lines:
        return 0
    lengths = sorted(len(line) for line in lines)
    return lengths[(len(lengths) * 9) // 10]


def _ends_paragraph(line: str, following: str | None, full: int) -> bool:
    """A line ends its paragraph when the next line's first word would have fitted on it: the typesetter
    broke the line on purpose (Knuth-Plass and greedy fillers alike only break early at a paragraph end)."""
    if following is None:
        return len(line) < SHORT_LINE_SHARE * full
    first_word = following.split(" ", 1)[0]
    return len(line) + 1 + len(first_word) < FIT_SHARE * full


def vocabulary(pages: list[list[str]]) -> set[str]:
    """Lower-cased words as the document spells them (hyphenated compounds whole) for de-hyphenation.

    The halves of words cut at a line end come in too ("noth" of "noth-/ing"); they never equal a whole
    word or compound looked up in `_join`, so they do no harm."""
    return set(_WORDS.findall("\n".join(line for lines in pages for line in lines).lower()))


def _join(left: str, right: str, vocab: set[str]) -> str:
    # Only the end of `left` (a growing paragraph) is searched: a search over all of it is quadratic.
    if left[-1] not in _HYPHENS or not right[0].islower():
        return f"{left} {right}"
    end = left[-_JOIN_WINDOW:]
    m, n = _LINE_END_HYPHEN.search(end), _LINE_START_WORD.match(right)
    if m and n:
        head, tail = m.group(1), n.group(1)
        joined, hyphenated = (head + tail).lower(), f"{head}-{tail}".lower()
        keep_hyphen = hyphenated in vocab and joined not in vocab
        return left[: len(left) - len(end) + m.end(1)] + ("-" if keep_hyphen else "") + right
    return f"{left} {right}"


def pages_to_text(pages: list[list[str]], vocab: set[str]) -> str:
    """Cleaned page lines -> paragraphs separated by blank lines, joined across lines and page breaks."""
    paragraphs: list[str] = []
    current = ""
    for p, lines in enumerate(pages):
        full = _full_length(lines)
        for k, line in enumerate(lines):
            current = _join(current, line, vocab) if current else line
            following = lines[k + 1] if k + 1 < len(lines) else next(iter(pages[p + 1]), None) if p + 1 < len(
                pages) else None
            if _ends_paragraph(line, following, full):
                paragraphs.append(current)
                current = ""
    if current:
        paragraphs.append(current)
    return _STRAY_MARKERS.sub("", "\n\n".join(paragraphs))


# ---- a file -> documents -------------------------------------------------------------------------------------


@dataclass
class BookPart:
    """One document of a book: where it starts (1-based page), its text and what the file says of it."""

    page: int
    text: str
    meta: dict[str, str | int]


def pdf_documents(pdf: PdfText, split: Literal["file", "chapter"] = "file") -> list[BookPart]:
    """The book as one document, or one per top-level outline entry (`chapter`) when it has an outline."""
    pages = strip_running_lines([page_lines(p) for p in pdf.pages], pdf.meta.get("title"))
    vocab = vocabulary(pages)
    meta: dict[str, str | int] = {**pdf.meta, "pages": len(pages)}
    empty = sum(1 for lines in pages if not lines)  # scanned pages (a running head at most), blank pages
    if empty:
        meta["pages_without_text"] = empty
    starts = sorted({page for _, page in pdf.outline if 0 <= page < len(pages)}) if split == "chapter" else []
    if not starts:
        return [BookPart(page=1, text=pages_to_text(pages, vocab), meta=meta)]
    titles = {}
    for title, page in pdf.outline:
        titles.setdefault(page, title)
    if starts[0] != 0:  # front matter before the first chapter is a part of its own
        starts.insert(0, 0)
    bounds = [*starts, len(pages)]
    parts = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        part_meta = dict(meta)
        if start in titles:
            part_meta["chapter"] = titles[start]
        parts.append(BookPart(page=start + 1, text=pages_to_text(pages[start:end], vocab), meta=part_meta))
    return parts
