from filters.gutenberg import strip_gutenberg

OLD = """The Project Gutenberg Etext of Something by Someone

**Welcome To The World of Free Plain Vanilla Electronic Texts**

*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*

The real first line.

The real last line.

End of The Project Gutenberg Etext of Something by Someone
"""


def test_old_etext_markers():
    assert strip_gutenberg(OLD) == "The real first line.\n\nThe real last line."


def test_modern_markers_with_this_and_no_spaces():
    text = (
        "Project Gutenberg header\n***START OF THE PROJECT GUTENBERG EBOOK X***\nBody.\n"
        "***END OF THE PROJECT GUTENBERG EBOOK X***\nlicense"
    )
    assert strip_gutenberg(text) == "Body."


def test_text_without_markers_is_unchanged():
    assert strip_gutenberg("Just a text that mentions nothing.") == "Just a text that mentions nothing."


def test_shared_corpus_books_lose_their_license(corpus_dir):
    for path in sorted((corpus_dir / "books").glob("*.txt")):
        body = strip_gutenberg(path.read_text(encoding="utf-8"))
        assert "START OF TH" not in body and "END OF TH" not in body, path.name
        assert "SMALL PRINT" not in body.upper(), path.name
        assert "Project Gutenberg Literary Archive Foundation" not in body, path.name
        assert len(body) > 100_000, path.name
