"""Books made for the tests and benchmarks/books.py: PDFs typeset with fpdf2, EPUBs written with zipfile.

The PDF layout does what a book printer does and a text extractor has to undo: lines filled and long
words hyphenated at the line end, a running head (the book title on even pages, the chapter on odd
ones), a page number at the foot, chapters on new pages with an outline entry each, optionally pages
set in two columns, a scanned page (an image of text, no text layer) and a password.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
SAMPLE_TEXT = HERE / "moby_dick_1_2.txt"  # Moby Dick chapters 1-2, Project Gutenberg (public domain)

Chapter = tuple[str, list[str]]  # (heading, paragraphs)


def sample_chapters() -> list[Chapter]:
    return text_to_chapters(SAMPLE_TEXT.read_text(encoding="utf-8"))


def text_to_chapters(text: str, heading: str = r"(?:CHAPTER|Chapter|LETTER|Letter)\b[^\n]*") -> list[Chapter]:
    """A plain-text book -> chapters of paragraphs (blank-line separated, lines joined)."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    chapters: list[Chapter] = []
    for p in paragraphs:
        if re.fullmatch(heading, p) or not chapters:
            chapters.append((p if re.fullmatch(heading, p) else "", [] if re.fullmatch(heading, p) else [p]))
        else:
            chapters[-1][1].append(p)
    return chapters


def font_file() -> str:
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSerif.ttf")


@dataclass
class PdfLayout:
    page_w: float = 420.0  # A5 in points
    page_h: float = 595.0
    margin: float = 48.0
    font_size: float = 10.5
    leading: float = 14.0
    column_gap: float = 18.0
    running_heads: bool = True
    page_numbers: bool = True
    two_column_chapters: set[int] = field(default_factory=set)
    hyphenate: bool = True


class _Typesetter:
    def __init__(self, title: str, author: str, layout: PdfLayout):
        from fpdf import FPDF

        self.pdf = FPDF(unit="pt", format=(layout.page_w, layout.page_h))
        self.pdf.set_auto_page_break(False)
        self.pdf.add_font("serif", fname=font_file())
        self.pdf.set_title(title)
        self.pdf.set_author(author)
        self.title, self.layout = title, layout
        self.chapter = ""
        self.columns = 1
        self.hyphenated_words = 0

    # --- pages and columns
    def new_page(self) -> None:
        lay, pdf = self.layout, self.pdf
        pdf.add_page()
        pdf.set_font("serif", size=lay.font_size)
        n = pdf.page_no()
        if lay.running_heads:
            head = self.title if n % 2 == 0 else (self.chapter or self.title)
            pdf.set_font("serif", size=lay.font_size - 2)
            pdf.text(lay.margin, lay.margin - 16, head)
            pdf.set_font("serif", size=lay.font_size)
        self.col = 0
        self.y = lay.margin + lay.leading

    def col_width(self) -> float:
        lay = self.layout
        body = lay.page_w - 2 * lay.margin
        return body if self.columns == 1 else (body - lay.column_gap) / 2

    def col_x(self) -> float:
        return self.layout.margin + self.col * (self.col_width() + self.layout.column_gap)

    def finish_page(self) -> None:
        lay, pdf = self.layout, self.pdf
        if lay.page_numbers:
            pdf.set_font("serif", size=lay.font_size - 1)
            label = str(pdf.page_no())
            pdf.text((lay.page_w - pdf.get_string_width(label)) / 2, lay.page_h - lay.margin + 20, label)
            pdf.set_font("serif", size=lay.font_size)

    def advance(self) -> None:
        self.y += self.layout.leading
        if self.y > self.layout.page_h - self.layout.margin:
            if self.col + 1 < self.columns:
                self.col += 1
                self.y = self.layout.margin + self.layout.leading
            else:
                self.finish_page()
                self.new_page()

    # --- text
    def line(self, text: str, indent: float = 0.0) -> None:
        self.pdf.text(self.col_x() + indent, self.y, text)
        self.advance()

    def paragraph(self, text: str, indent: float = 12.0) -> None:
        width = self.pdf.get_string_width
        words = text.split()
        line, first = "", True
        i = 0
        while i < len(words):
            word = words[i]
            room = self.col_width() - (indent if first else 0)
            candidate = f"{line} {word}" if line else word
            if width(candidate) <= room:
                line, i = candidate, i + 1
                continue
            # Hyphenate a long plain word at the last split point that fits (3+ letters each side).
            if self.layout.hyphenate and word.isalpha() and len(word) >= 7:
                for k in range(len(word) - 3, 2, -1):
                    piece = f"{line} {word[:k]}-" if line else f"{word[:k]}-"
                    if width(piece) <= room:
                        self.line(piece, indent if first else 0)
                        self.hyphenated_words += 1
                        words[i] = word[k:]
                        line, first = "", False
                        break
                else:
                    k = 0
                if k:
                    continue
            if not line:  # a single word wider than the column
                line, i = word, i + 1
            self.line(line, indent if first else 0)
            line, first = "", False
        if line:
            self.line(line, indent if first else 0)

    def chapter_start(self, heading: str, columns: int) -> None:
        if self.pdf.page_no() > 0:
            self.finish_page()
        self.chapter, self.columns = heading, 1
        self.new_page()
        if heading:
            self.pdf.start_section(heading)
            self.line(heading)
            self.advance()
        self.columns = columns

    def scanned_page(self, text: str) -> None:
        """A page that is only a picture of text, as a scanner makes it."""
        from PIL import Image, ImageDraw, ImageFont

        self.finish_page()
        self.new_page()
        img = Image.new("L", (600, 800), 255)
        draw = ImageDraw.Draw(img)
        font = ImageFont.truetype(font_file(), 18)
        y = 30
        for line in re.findall(r".{1,50}(?:\s|$)", text)[:30]:
            draw.text((30, y), line, fill=0, font=font)
            y += 24
        lay = self.layout
        self.pdf.image(img, x=lay.margin, y=lay.margin, w=lay.page_w - 2 * lay.margin)


def make_pdf(
    chapters: list[Chapter],
    *,
    title: str = "Moby Dick",
    author: str = "Herman Melville",
    layout: PdfLayout | None = None,
    scanned_page: str | None = None,
    user_password: str | None = None,
) -> bytes:
    """A typeset book; `scanned_page` adds a last page with that text as an image only."""
    t = _Typesetter(title, author, layout or PdfLayout())
    for i, (heading, paragraphs) in enumerate(chapters):
        t.chapter_start(heading, 2 if i in t.layout.two_column_chapters else 1)
        for p in paragraphs:
            t.paragraph(p)
    if scanned_page is not None:
        t.scanned_page(scanned_page)
    t.finish_page()
    if user_password is not None:
        t.pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    return bytes(t.pdf.output())


def make_scanned_pdf(text: str) -> bytes:
    """A PDF where no page has a text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    pdf = FPDF(unit="pt", format=(420, 595))
    for _ in range(2):
        pdf.add_page()
        img = Image.new("L", (600, 800), 255)
        ImageDraw.Draw(img).text((30, 30), text[:60], fill=0, font=ImageFont.truetype(font_file(), 18))
        pdf.image(img, x=40, y=40, w=340)
    return bytes(pdf.output())


def make_epub(
    chapters: list[Chapter],
    *,
    title: str = "Moby Dick",
    author: str = "Herman Melville",
    front: list[str] | None = None,
    back: list[str] | None = None,
    contents_page: bool = True,
) -> bytes:
    """An EPUB 3 as the OCF spec lays it out (written with zipfile): the nav document in the spine, an NCX,
    an optional contents page and front/back matter items (e.g. a Project Gutenberg license header and
    footer), one XHTML file per chapter.

    (ebooklib wrote these at first; in the full test run its use made fastText training in a later test
    hit NaN, so the few lines of OCF are written here.)"""
    import html
    import zipfile

    esc = html.escape

    def xhtml(heading: str, body: str) -> str:
        return ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
                '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en">'
                f"<head><title>{esc(heading or title)}</title></head><body>{body}</body></html>")

    def page(heading: str, paragraphs: list[str]) -> str:
        body = f"<h2>{esc(heading)}</h2>" if heading else ""
        return xhtml(heading, body + "".join(f"<p>{esc(p)}</p>" for p in paragraphs))

    items: list[tuple[str, str, str]] = []  # (id, file name, content), in spine order after nav
    if front:
        items.append(("front", "front.xhtml", page("", front)))
    names = [f"chapter{i:03d}.xhtml" for i in range(len(chapters))]
    if contents_page:
        links = "".join(f'<p><a href="{n}">{esc(h or "Part")}</a></p>' for n, (h, _) in zip(names, chapters, strict=True))
        items.append(("contents", "contents.xhtml", xhtml("Contents", f"<h2>Contents</h2>{links}")))
    items += [(n.removesuffix(".xhtml"), n, page(h, ps)) for n, (h, ps) in zip(names, chapters, strict=True)]
    if back:
        items.append(("back", "back.xhtml", page("", back)))
    nav_links = "".join(f'<li><a href="{n}">{esc(h or "Part")}</a></li>' for n, (h, _) in zip(names, chapters, strict=True))
    nav = xhtml("Contents", f'<nav epub:type="toc" id="toc"><h2>Contents</h2><ol>{nav_links}</ol></nav>')
    ncx_points = "".join(
        f'<navPoint id="np{i}" playOrder="{i + 1}"><navLabel><text>{esc(h or "Part")}</text></navLabel>'
        f'<content src="{n}"/></navPoint>' for i, (n, (h, _)) in enumerate(zip(names, chapters, strict=True)))
    ncx = ('<?xml version="1.0" encoding="utf-8"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
           f"<head/><docTitle><text>{esc(title)}</text></docTitle><navMap>{ncx_points}</navMap></ncx>")
    manifest = ('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
                '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
                + "".join(f'<item id="{i}" href="{n}" media-type="application/xhtml+xml"/>' for i, n, _ in items))
    spine = '<itemref idref="nav"/>' + "".join(f'<itemref idref="{i}"/>' for i, _, _ in items)
    opf = ('<?xml version="1.0" encoding="utf-8"?>'
           '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
           '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
           f'<dc:identifier id="id">curate-test-{re.sub(r"[^a-z0-9]+", "-", title.lower())}</dc:identifier>'
           f"<dc:title>{esc(title)}</dc:title><dc:creator>{esc(author)}</dc:creator><dc:language>en</dc:language>"
           f'</metadata><manifest>{manifest}</manifest><spine toc="ncx">{spine}</spine></package>')
    container = ('<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                 '<rootfiles><rootfile full-path="EPUB/content.opf" media-type="application/oebps-package+xml"/>'
                 "</rootfiles></container>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr("EPUB/content.opf", opf)
        z.writestr("EPUB/nav.xhtml", nav)
        z.writestr("EPUB/toc.ncx", ncx)
        for _, name, content in items:
            z.writestr(f"EPUB/{name}", content)
    return buf.getvalue()


# ---- scoring ------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def word_f1(reference: str, candidate: str) -> float:
    """Word-level F1 over bags of lower-cased words (multiset overlap)."""
    from collections import Counter

    ref, cand = Counter(_WORD.findall(reference.lower())), Counter(_WORD.findall(candidate.lower()))
    overlap = sum((ref & cand).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(cand.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def chapters_text(chapters: list[Chapter]) -> str:
    return "\n\n".join("\n\n".join(([h] if h else []) + ps) for h, ps in chapters)


def bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
