"""Books as people have them: EPUB and PDF files -> text, as pure functions (no Beam)."""

from __future__ import annotations


class BookError(Exception):
    """A book file that gives no text; `reason` is the rejection reason (`encrypted`, `unreadable_file`...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


#: Magic bytes. A PDF's header may follow up to 1024 bytes of junk (PDF 1.7, annex H.3 note 1);
#: an EPUB is a ZIP whose first entry is the uncompressed `mimetype` file (OCF 3.0, section 4.3).
PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
EPUB_MIMETYPE = b"mimetypeapplication/epub+zip"


def sniff_book_format(head: bytes) -> str | None:
    """`pdf`, `epub` or None from the first ~1 KB of a file."""
    if PDF_MAGIC in head[:1024]:
        return "pdf"
    if head.startswith(ZIP_MAGIC) and EPUB_MIMETYPE in head[:100]:
        return "epub"
    return None
