"""Text normalization applied to every document at ingestion.

ftfy repairs mojibake (UTF-8 decoded as cp1252 and the like), then Unicode NFC so that equal text
has equal code points (dedup and tokenization depend on it), then control characters go and
whitespace is tidied: line ends unified, trailing spaces dropped, runs of blank lines collapsed.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy

# C0/C1 control characters except tab and newline; also U+FEFF (BOM), soft hyphen, zero-width space,
# word joiner and line/paragraph separators: invisible characters that only split words for
# tokenizers and dedup. (ZWNJ/ZWJ stay: Persian, Indic scripts and emoji spell with them.)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\ufeff\u200b\u2060\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")

_FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,  # text from HTML is already unescaped; plain text may show entities on purpose
    fix_line_breaks=True,
    uncurl_quotes=False,  # curly quotes are correct text, not damage
    fix_character_width=False,  # full-width forms are correct in CJK text
    fix_latin_ligatures=False,
    normalization="NFC",
    max_decode_length=1_000_000,
)


# ftfy fixes a text in segments, each a line with its "\n", each on its own, and every fixer configured
# above leaves a line of printable ASCII and tabs as it is (mojibake needs a non-ASCII character; line
# breaks, terminal escapes and control characters are the other ASCII characters). So only the lines
# holding another character go through ftfy: the same result at a fraction of the cost, as most lines
# of most pages are plain ASCII.
_FTFY_NEEDED = re.compile(r"[^\t\n\x20-\x7e]")


def fix_mojibake_lines(text: str) -> str:
    """`ftfy.fix_text(text, config=_FTFY_CONFIG)`, calling ftfy only on the lines it may change."""
    if len(text) > _FTFY_CONFIG.max_decode_length:  # ftfy also cuts lines this long: let it do all
        return ftfy.fix_text(text, config=_FTFY_CONFIG)
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _FTFY_NEEDED.search(text, pos)
        if m is None:
            out.append(text[pos:])
            break
        start = text.rfind("\n", pos, m.start()) + 1 or pos  # the start of the line holding it
        end = text.find("\n", m.end()) + 1 or n
        out.append(text[pos:start])
        out.append(ftfy.fix_text(text[start:end], config=_FTFY_CONFIG))
        pos = end
    return "".join(out)


def normalize_text(text: str, fix_mojibake: bool = True) -> str:
    if fix_mojibake and not text.isascii():
        text = fix_mojibake_lines(text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()
