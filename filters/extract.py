"""HTML -> main text.

`resiliparse`: Resiliparse's main-content extraction (fast, C++; keeps some boilerplate).
`trafilatura`: trafilatura's extractor (precise, several times slower).
`default`: Resiliparse main content followed by boilerplate-line rules (see `clean_boilerplate`).
"""

from __future__ import annotations

import re
from typing import Literal

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

Method = Literal["default", "resiliparse", "trafilatura"]


def decode_html(payload: bytes, declared_charset: str | None = None) -> str:
    """Bytes to str: the HTTP-declared charset when it decodes cleanly, else detection (resiliparse)."""
    if declared_charset:
        try:
            return payload.decode(declared_charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return bytes_to_str(payload, detect_encoding(payload))


def extract_resiliparse(html: str) -> str:
    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree,
        main_content=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        list_bullets=True,
        preserve_formatting=True,
    )


def extract_trafilatura(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=False) or ""


_MIN_WORDS_SHORT_LINE = 3
_BOILERPLATE_LINE = re.compile(
    r"(?i)^(?:"
    r"(?:share|tweet|print|email|e-mail)(?: this)?(?: (?:article|page|story))?"
    r"|(?:read|see) (?:more|also)\b.*"
    r"|(?:all rights reserved|copyright|©).*"
    r"|(?:cookie|cookies|privacy policy|terms of (?:use|service)|imprint|impressum|datenschutz).{0,60}"
    r"|(?:sign in|log in|login|register|subscribe|newsletter|menu|search|skip to (?:main )?content).{0,30}"
    r"|(?:home|startseite)(?:\s*[>»/|›].*)?"
    r")$"
)


def clean_boilerplate(text: str) -> str:
    """Drop lines that are navigation, sharing, legal or cookie boilerplate rather than content."""
    kept = []
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            kept.append("")
            continue
        if _BOILERPLATE_LINE.match(s):
            continue
        kept.append(line)
    return "\n".join(kept)


def extract_main_text(html: str, method: Method = "default") -> str:
    if method == "trafilatura":
        return extract_trafilatura(html)
    text = extract_resiliparse(html)
    if method == "resiliparse":
        return text
    return clean_boilerplate(text)
