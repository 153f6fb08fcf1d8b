"""PII redaction: e-mail addresses, IPv4 / IPv6 addresses and phone numbers become placeholders.

A modifier, not a filter: it never drops a document, it rewrites the text and counts what it
replaced per kind. Patterns favour precision over recall: a phone number needs the shape of one
(an international `+` prefix, an area code in parentheses, or the North-American 3-3-4 grouping)
and 7 to 15 digits, so dates, years, prices and ISBN-like numbers are left alone; an IP address must
parse as one, so version numbers like 1.2.3 and times like 12:30:45 are not addresses.

Speed: Python's regex engine is fast only when a pattern starts with a literal it can jump to. So
each kind first runs a cheap hint (a literal "@", ".", ":" or a run of digits); the full pattern runs
only on the few documents the hint finds, and the checks on the character before a match ("not glued
to a longer token") run in Python on matches only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from filters.config import PiiConfig

_EMAIL_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_EMAIL_DOMAIN_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_HINT = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")
IPV4_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_IPV4_FULL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")

# Either a "::" or three colon-separated hex groups in a row.
_IPV6_HINT = re.compile(r"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:")
IPV6_RE = re.compile(r"[0-9A-Fa-f:](?:[0-9A-Fa-f]{0,4}:){1,7}(?:[0-9A-Fa-f]{1,4}|:)(?![\w:])")

_PHONE_HINT = re.compile(r"\d[ .-]?\d[ .)-]{0,2}\d[ .-]?\d[ .-]?\d[ .-]?\d[ .-]?\d")
PHONE_RE = re.compile(
    r"(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]?\d{2,5}){1,4}"  # +49 30 1234567
    r"|\(\d{2,5}\)[ .-]?\d{2,5}(?:[ .-]?\d{2,5}){0,3}"  # (030) 1234567, (555) 123-4567
    r"|\d{3}[ .-]\d{3}[ .-]\d{4}"  # 555-123-4567, 555 123 4567
    r")(?!\w)"
)


def _glued(text: str, start: int, chars: str) -> bool:
    """Whether the match at `start` continues a longer token (a word character or one of `chars`)."""
    if start == 0:
        return False
    c = text[start - 1]
    return c.isalnum() or c == "_" or c in chars


def email_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each e-mail address: found from its "@", the local part read backwards."""
    spans = []
    at = text.find("@")
    while at != -1:
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        too_long = start > 0 and text[start - 1] in _EMAIL_LOCAL_CHARS  # over 64 characters
        while start < at and not text[start].isalnum():  # no leading dot or plus
            start += 1
        m = _EMAIL_DOMAIN_RE.match(text, at + 1)
        if m and start < at and not too_long:
            spans.append((start, m.end()))
            at = text.find("@", m.end())
        else:
            at = text.find("@", at + 1)
    return spans


def _spans(pattern: re.Pattern[str], valid: Callable[[re.Match[str]], bool]) -> Callable[[str], list[tuple[int, int]]]:
    def find(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in pattern.finditer(text) if valid(m)]

    return find


def _ipv4(m: re.Match[str]) -> bool:
    return not _glued(m.string, m.start(), ".") and _IPV4_FULL.fullmatch(m.group(0)) is not None


def _ipv6(m: re.Match[str]) -> bool:
    s = m.group(0)
    if _glued(m.string, m.start(), ":.") or sum(1 for part in s.split(":") if part) < 2:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _phone(m: re.Match[str]) -> bool:
    digits = sum(c.isdigit() for c in m.group(0))
    return not _glued(m.string, m.start(), "+") and 7 <= digits <= 15


def _replace(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(placeholder)
        last = end
    parts.append(text[last:])
    return "".join(parts)


class PiiRedactor:
    def __init__(self, cfg: PiiConfig):
        # (kind, hint, finder, placeholder); e-mail first: its domain may look like other kinds.
        steps: list[tuple[str, Callable[[str], bool], Callable[[str], list[tuple[int, int]]], str | None]] = [
            ("email", lambda t: "@" in t, email_spans, cfg.email),
            ("ip", lambda t: _IPV4_HINT.search(t) is not None, _spans(IPV4_RE, _ipv4), cfg.ip),
            ("ip", lambda t: _IPV6_HINT.search(t) is not None, _spans(IPV6_RE, _ipv6), cfg.ip),
            ("phone", lambda t: _PHONE_HINT.search(t) is not None, _spans(PHONE_RE, _phone), cfg.phone),
        ]
        self.steps = [s for s in steps if s[3] is not None]
        self.kinds = sorted({s[0] for s in self.steps})

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with PII replaced, and the number of replacements per kind."""
        counts = dict.fromkeys(self.kinds, 0)
        for kind, hint, find, placeholder in self.steps:
            if not hint(text):
                continue
            spans = find(text)
            if spans:
                text = _replace(text, spans, placeholder)
                counts[kind] += len(spans)
        return text, counts
