from __future__ import annotations

import io
import zipfile

import pytest

from filters.books import BookError, sniff_book_format
from filters.books.epub import is_table_of_contents, read_epub
from tests.filters.books.bookfixtures import chapters_text, make_epub, sample_chapters, word_f1

CHAPTERS = sample_chapters()
FRONT = ["The Project Gutenberg eBook of Moby Dick", "*** START OF THE PROJECT GUTENBERG EBOOK MOBY DICK ***"]
BACK = ["*** END OF THE PROJECT GUTENBERG EBOOK MOBY DICK ***", "Section 1. General Terms of Use"]


@pytest.fixture(scope="module")
def book() -> bytes:
    return make_epub(CHAPTERS, front=FRONT, back=BACK)


def test_magic_bytes(book):
    assert sniff_book_format(book[:1024]) == "epub"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "not a book")
    assert sniff_book_format(buf.getvalue()[:1024]) is None


def test_spine_text_metadata_and_no_navigation(book):
    epub = read_epub(book)
    assert epub.meta == {"title": "Moby Dick", "author": "Herman Melville", "language": "en"}
    # front matter, two chapters, back matter; the nav document and the contents page are left out
    assert len(epub.sections) == 4
    assert epub.skipped == 2
    assert "Contents" not in epub.text
    assert epub.text.count("CHAPTER 1. Loomings.") == 1
    assert word_f1(chapters_text(CHAPTERS), epub.text.split(FRONT[1])[1].split(BACK[0])[0]) >= 0.99
    # reading order: chapter 1 before chapter 2, paragraphs kept apart
    assert epub.text.index("Call me Ishmael") < epub.text.index("I stuffed a shirt")
    assert "\n\nThere now is your insular city" in epub.text


def test_table_of_contents_page():
    toc = "<html><body><h2>Contents</h2>" + "".join(
        f'<p><a href="c{i}.xhtml">Chapter {i}</a></p>' for i in range(5)) + "</body></html>"
    chapter = "<html><body><p>" + "Call me Ishmael. " * 30 + '<a href="#n1">1</a> and <a href="#n2">2</a></p></body></html>'
    assert is_table_of_contents(toc)
    assert not is_table_of_contents(chapter)


def test_broken_files(book):
    for data in (book[: len(book) // 2], b"PK\x03\x04 not really a zip", b""):
        with pytest.raises(BookError) as e:
            read_epub(data)
        assert e.value.reason == "unreadable_file"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    with pytest.raises(BookError, match="container.xml"):
        read_epub(buf.getvalue())


def test_drm_encrypted_content_is_rejected(book):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as src, zipfile.ZipFile(buf, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("META-INF/encryption.xml", '<encryption><EncryptedData><CipherData><CipherReference '
                     'URI="EPUB/chapter000.xhtml"/></CipherData></EncryptedData></encryption>')
    with pytest.raises(BookError) as e:
        read_epub(buf.getvalue())
    assert e.value.reason == "encrypted"
