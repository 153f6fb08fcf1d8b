"""Text normalization applied to every document at ingestion.

ftfy repairs mojibake (UTF-8 decoded as cp1252 and the like), then Unicode NFC so that equal text
has equal code points (dedup and tokenization depend on it), then control characters go and
whitespace is tidied: line ends unified, trailing spaces dropped, runs of blank lines collapsed.
"""

from __future__ import annotations

import re
import unicodedata

import ftfy
from ftfy.badness import BADNESS_RE, is_bad
from ftfy.chardata import CONTROL_CHARS

# C0/C1 control characters except tab and newline; also U+FEFF (BOM), soft hyphen, zero-width space,
# word joiner and line/paragraph separators: invisible characters that only split words for
# tokenizers and dedup. (ZWNJ/ZWJ stay: Persian, Indic scripts and emoji spell with them.)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\ufeff\u200b\u2060\u2028\u2029]")
# Runs of these become one space; the others than " " first become " " each, then each run of two or
# more spaces becomes one (a pattern for runs of one or more would stop at every single space; this one
# starts with two literal spaces, which the regex engine finds fast, 2.5x faster than halving the runs
# with `str.replace` until none is left).
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")  # (the definition)
_OTHER_SPACES = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUN = re.compile("  +")

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
# holding another character can change.
_FTFY_NEEDED = re.compile(r"[^\t\n\x20-\x7e]")

# Of those, a line that is already NFC and holds none of the characters that ftfy's character fixers
# act on (C1 controls, the line breaks "\r" U+0085 U+2028 U+2029, surrogates, the escape starting a
# terminal code, the control characters ftfy removes) comes back from ftfy unchanged unless ftfy's
# mojibake test (`ftfy.badness.is_bad`) finds something in it: its encoding fix starts with that test
# and leaves text that passes it alone, and NFC is the last step. `_is_bad` is that test made cheap.
_FTFY_ACTS = re.compile(
    "[\r\x1b\x80-\x9f\u2028\u2029\ud800-\udfff"
    + "".join(re.escape(chr(c)) for c in sorted(CONTROL_CHARS))
    + "]"
)


def _badness_anchors() -> re.Pattern[str] | None:
    """Characters of which every match of ftfy's BADNESS_RE holds one among its first three.

    Each alternative of that pattern contains a class (or a literal) of non-ASCII characters only, at
    an offset of at most 2 from the start of the match; of those items of each alternative, the one
    least common in correct text is taken: the fewest letters and running-text punctuation, then the
    fewest characters (any choice is correct; this one halves the positions tried on European text,
    where accented small letters are everywhere). None (use `is_bad` itself) if the pattern is not of
    that form (another ftfy).
    """
    try:
        import re._constants as sre
        import re._parser as sre_parse

        tree = sre_parse.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
        if len(tree) != 1 or tree[0][0] is not sre.BRANCH:
            return None
        anchors: set[int] = set()
        for branch in tree[0][1][1]:
            best: set[int] | None = None
            offset = 0  # the largest offset the current item can have
            for op, av in branch:
                members: set[int] | None = None
                if op is sre.LITERAL:
                    members = {av}
                elif op is sre.IN and all(o in (sre.LITERAL, sre.RANGE) for o, _ in av):
                    members = set()
                    for o, a in av:
                        members.update({a} if o is sre.LITERAL else range(a[0], a[1] + 1))
                if (members and min(members) > 0x7F and offset <= _LOOK_BACK
                        and (best is None or _commonness(members) < _commonness(best))):
                    best = members
                if op is sre.MAX_REPEAT:
                    offset += av[1]
                elif op is not sre.AT:
                    offset += 1
            if best is None:
                return None
            anchors |= best
        return re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(anchors)) + "]")
    except Exception:  # noqa: BLE001 (another ftfy or Python: fall back to the test itself)
        return None


_RUNNING_TEXT_PUNCTUATION = frozenset(map(ord, "‘’‚“”„–—…«»·"))


def _commonness(members: set[int]) -> tuple[int, int]:
    common = sum(1 for c in members if c in _RUNNING_TEXT_PUNCTUATION or unicodedata.category(chr(c))[0] == "L")
    return common, len(members)


_LOOK_BACK = 2
_ANCHORS = _badness_anchors()


def _is_bad(line: str) -> bool:
    """`ftfy.badness.is_bad(line)`: the pattern is tried only where a match can start, up to two
    characters before each anchor character, instead of at every position of the line."""
    if _ANCHORS is None:
        return is_bad(line)
    match = BADNESS_RE.match
    tried = -1
    for m in _ANCHORS.finditer(line):
        p = m.start()
        for q in range(max(tried + 1, p - _LOOK_BACK), p + 1):
            if match(line, q):
                return True
        tried = p
    return False


def _ftfy_may_change(line: str) -> bool:
    return _FTFY_ACTS.search(line) is not None or not unicodedata.is_normalized("NFC", line) or _is_bad(line)


def fix_mojibake_lines(text: str) -> str:
    """`ftfy.fix_text(text, config=_FTFY_CONFIG)`, calling ftfy only on the lines it may change.

    Also for a text longer than `max_decode_length` (a whole book served as one page): ftfy's segments
    are still its lines, except that a line longer than that is cut into pieces of that length from
    the line's start. Such a line goes to `ftfy.fix_text` whole, which cuts it the same way; the
    shortcut's test is not applied to it (it reasons about whole segments, not pieces)."""
    limit = _FTFY_CONFIG.max_decode_length
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
        line = text[start:end]
        if len(line) > limit or _ftfy_may_change(line):
            line = ftfy.fix_text(line, config=_FTFY_CONFIG)
        out.append(line)
        pos = end
    return "".join(out)


def normalize_text(text: str, fix_mojibake: bool = True) -> str:
    if fix_mojibake and not text.isascii():
        text = fix_mojibake_lines(text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _OTHER_SPACES.sub(" ", text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    # Space runs are single spaces now: trailing white space is one space before a line end.
    text = text.replace(" \n", "\n")
    while "\n\n\n" in text:  # at most one blank line in a row
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
