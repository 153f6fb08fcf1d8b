from __future__ import annotations

import re

import pytest

from filters.books import BookError, sniff_book_format
from filters.books.pdf import (
    LIBRARIES,
    PdfText,
    _join,
    pdf_documents,
    read_pdf,
    strip_running_lines,
)
from tests.filters.books.bookfixtures import (
    PdfLayout,
    chapters_text,
    make_pdf,
    make_scanned_pdf,
    sample_chapters,
    word_f1,
)

CHAPTERS = sample_chapters()  # Moby Dick ch. 1 and 2; ch. 2 is set in two columns
SCANNED = "This page was scanned and has no text layer at all."


@pytest.fixture(scope="module")
def book_pdf() -> bytes:
    return make_pdf(CHAPTERS, layout=PdfLayout(two_column_chapters={1}), scanned_page=SCANNED)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _ngram_recall(reference: str, candidate: str, n: int = 4) -> float:
    """Share of the reference's word 4-grams found in the candidate: low when the reading order is wrong."""
    grams = lambda w: {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}  # noqa: E731
    ref = grams(_words(reference))
    return len(ref & grams(_words(candidate))) / len(ref)


def test_magic_bytes(book_pdf):
    assert sniff_book_format(book_pdf[:1024]) == "pdf"
    assert sniff_book_format(b"plain text") is None


@pytest.mark.parametrize("library", LIBRARIES)
def test_single_column_chapter_is_recovered(book_pdf, library):
    parts = pdf_documents(read_pdf(book_pdf, library), "chapter")
    reference = chapters_text(CHAPTERS[:1])
    assert word_f1(reference, parts[0].text) >= 0.98
    assert _ngram_recall(reference, parts[0].text) >= 0.98


@pytest.mark.parametrize("library", LIBRARIES)
def test_two_column_chapter_reads_in_column_order(book_pdf, library):
    parts = pdf_documents(read_pdf(book_pdf, library), "chapter")
    reference = chapters_text(CHAPTERS[1:])
    assert word_f1(reference, parts[1].text) >= 0.98
    assert _ngram_recall(reference, parts[1].text) >= 0.98


@pytest.mark.parametrize("library", LIBRARIES)
def test_page_furniture_and_hyphens_are_gone(book_pdf, library):
    text = pdf_documents(read_pdf(book_pdf, library))[0].text
    reference = set(_words(chapters_text(CHAPTERS)))
    # Every word is a word of the book: no running head ("Moby Dick"), no page number, no "noth" + "ing".
    extra = set(_words(text)) - reference
    assert not extra, sorted(extra)[:20]
    assert "moby" not in text.lower()
    for heading, _ in CHAPTERS:  # chapter headings are text, though the running heads repeat them
        assert heading in text
    # The page numbers 1..13 are gone: only numbers of the book remain.
    assert {w for w in _words(text) if w.isdigit()} <= {w for w in reference if w.isdigit()}
    # Paragraphs are re-joined: a blank line between paragraphs only, not after every line.
    assert 0.5 * len(CHAPTERS[0][1] + CHAPTERS[1][1]) <= text.count("\n\n") + 1 <= 2 * sum(
        len(ps) + 1 for _, ps in CHAPTERS)


def test_layout_hyphenated_words_so_the_test_means_something():
    from tests.filters.books.bookfixtures import _Typesetter

    t = _Typesetter("T", "A", PdfLayout())
    t.new_page()
    for p in CHAPTERS[0][1]:
        t.paragraph(p)
    assert t.hyphenated_words >= 10


def test_dehyphenation_keeps_hyphens_the_book_spells():
    assert _join("a whale-", "boat came", set()) == "a whaleboat came"
    assert _join("the sea-", "captain came", {"sea-captain"}) == "the sea-captain came"
    assert _join("the sea-", "captain came", {"sea-captain", "seacaptain"}) == "the seacaptain came"
    assert _join("in 1850-", "1851 it", set()) == "in 1850- 1851 it"  # not a word break
    assert _join("said—", "Ishmael", set()) == "said— Ishmael"
    assert _join("a well-", "Known name", set()) == "a well- Known name"  # capital: not a continuation


def test_running_heads_alternating_and_per_chapter():
    body = [["Call me Ishmael.", "Some years ago"], ["never mind how long", "precisely, having"],
            ["little or no money", "in my purse"], ["and nothing particular", "to interest me"],
            ["on shore, I thought", "I would sail"], ["about a little", "and see the watery part"]]
    pages = [[("Moby Dick" if i % 2 else "Loomings"), *lines, f"- {i + 1} -"] for i, lines in enumerate(body)]
    # The chapter's heads repeat its heading (kept once); the book's title is never text.
    assert strip_running_lines(pages, "Moby  Dick") == [["Loomings", *body[0]], *body[1:]]
    # A lone first line is kept: it repeats on no page nearby.
    assert strip_running_lines([["Preface", "text"]]) == [["Preface", "text"]]


def test_locations_chapters_and_metadata(book_pdf):
    pdf = read_pdf(book_pdf)
    assert pdf.meta == {"title": "Moby Dick", "author": "Herman Melville"}
    whole = pdf_documents(pdf)
    assert [p.page for p in whole] == [1]
    assert whole[0].meta["pages"] == len(pdf.pages)
    assert whole[0].meta["pages_without_text"] == 1  # the scanned page
    parts = pdf_documents(pdf, "chapter")
    assert [p.page for p in parts] == [1, pdf.outline[1][1] + 1]
    assert [p.meta["chapter"] for p in parts] == [h for h, _ in CHAPTERS]
    assert "scanned" not in whole[0].text


def test_chapter_split_without_outline_is_one_document():
    pdf = PdfText(pages=["Some text of a page that is long enough."] * 2)
    assert len(pdf_documents(pdf, "chapter")) == 1


@pytest.mark.parametrize("library", LIBRARIES)
def test_rejections(book_pdf, library):
    with pytest.raises(BookError) as e:
        read_pdf(make_scanned_pdf(SCANNED), library)
    assert e.value.reason == "no_text_layer"
    with pytest.raises(BookError) as e:
        read_pdf(make_pdf(CHAPTERS[:1], user_password="secret"), library)
    assert e.value.reason == "encrypted"
    with pytest.raises(BookError) as e:
        read_pdf(book_pdf[: len(book_pdf) // 2], library)
    assert e.value.reason == "unreadable_file"


def test_page_lines_ligatures_and_pdfium_hyphen_marker():
    from filters.books.pdf import page_lines

    # PDFium joins a line ending in a break hyphen to the next with U+FFFE: the break is put back.
    assert page_lines("a \ufb01ne  day\r\nnoth\ufffeing more\n\n") == ["a fine day", "noth\ufffe", "ing more"]
