"""URL rules: domain and URL blocklists in the UT1 format, and banned words in the URL.

UT1 (the Université Toulouse 1 Capitole blocklists, which FineWeb's URL filter also uses) ships one
folder per category holding `domains` (one domain a line) and `urls` (one `host/path` prefix a line).
A blocklist entry here is such a folder or a single file of either kind of line. A listed domain
blocks itself and every subdomain; a listed URL blocks every URL under that prefix. Banned words
block a URL in which one appears as a whole token (split on non-alphanumerics), banned sub-words
where one appears anywhere (as FineWeb's `banned_subwords`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from filters.config import UrlConfig
from filters.resources import read_list, resolve
from filters.verdict import Drop

NAME = "url"

_TOKEN_SPLIT_RE = re.compile(r"[^0-9a-z]+")


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def load_blocklist(path: Path) -> tuple[set[str], dict[str, list[str]]]:
    """(domains, {host: [path prefixes]}) from a UT1 category folder or a single list file."""
    files = [p for p in (path / "domains", path / "urls") if p.is_file()] if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no UT1 `domains` or `urls` file in {path}")
    domains: set[str] = set()
    urls: dict[str, list[str]] = {}
    for f in files:
        for entry in read_list(f):
            entry = entry.lower()
            entry = re.sub(r"^[a-z]+://", "", entry)
            host, _, rest = entry.partition("/")
            host = _strip_www(host.split(":", 1)[0].rstrip("."))
            if rest.strip("/"):
                urls.setdefault(host, []).append("/" + rest.rstrip("/"))
            elif host:
                domains.add(host)
    return domains, urls


class UrlFilter:
    def __init__(self, cfg: UrlConfig):
        self.domains: set[str] = set()
        self.urls: dict[str, list[str]] = {}
        for item in cfg.blocklists:
            d, u = load_blocklist(resolve(item, "blocklists"))
            self.domains |= d
            for host, prefixes in u.items():
                self.urls.setdefault(host, []).extend(prefixes)
        self.banned_words = {w.lower() for item in cfg.banned_words for w in read_list(resolve(item))}
        self.banned_subwords = sorted({w.lower() for item in cfg.banned_subwords for w in read_list(resolve(item))})

    def check(self, url: str | None) -> Drop | None:
        if not url:
            return None
        try:
            parts = urlsplit(url.strip())
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            return None
        host = _strip_www(host)
        if host:
            suffixes = [host] + [host[i + 1 :] for i, c in enumerate(host) if c == "."]
            if self.domains and any(s in self.domains for s in suffixes):
                return Drop(f"{NAME}:blocked_domain")
            if self.urls:
                path = parts.path or "/"
                for s in suffixes:
                    for prefix in self.urls.get(s, ()):
                        if path == prefix or path.startswith(prefix + "/"):
                            return Drop(f"{NAME}:blocked_url")
        lower = url.lower()
        if self.banned_words and not self.banned_words.isdisjoint(_TOKEN_SPLIT_RE.split(lower)):
            return Drop(f"{NAME}:banned_word")
        if self.banned_subwords:
            target = lower.split("://", 1)[-1]
            if any(w in target for w in self.banned_subwords):
                return Drop(f"{NAME}:banned_subword")
        return None
