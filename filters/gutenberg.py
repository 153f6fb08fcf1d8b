"""Remove the Project Gutenberg license header and footer from a book's text.

Modern files mark the body with `*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***` and
`*** END OF ... ***`; older "Etext" editions end their header with the "small print"
(`*END*THE SMALL PRINT! ...*END*`) and close with `End of (The) Project Gutenberg Etext of ...`.
"""

from __future__ import annotations

import re

_HEADER_END = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*"
    r"|\*+[ \t]*END[ \t*]*THE SMALL PRINT[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_FOOTER_START = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*END OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*"
    r"|End of (?:the |this )?Project Gutenberg[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)


def looks_like_gutenberg(text: str) -> bool:
    head = text[:20_000]
    return "Project Gutenberg" in head or "PROJECT GUTENBERG" in head


def strip_gutenberg(text: str) -> str:
    """The book between the license header and footer; the text unchanged when it has no markers."""
    if not looks_like_gutenberg(text):
        return text
    start = 0
    # The header ends at the last header marker in the first half (old editions have two).
    half = len(text) // 2
    for m in _HEADER_END.finditer(text):
        if m.start() > half:
            break
        start = m.end()
    end = len(text)
    m = _FOOTER_START.search(text, start)
    if m:
        end = m.start()
    return text[start:end].strip()
