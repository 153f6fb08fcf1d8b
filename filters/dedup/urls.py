"""URL normalization: two URLs that name the same page map to the same key.

Follows RFC 3986 section 6 (syntax-based normalization: case of scheme and host, default ports,
percent-encoding of unreserved characters, dot segments) plus the usual crawl-dedup rules: http and
https are the same page, `www.` is dropped, fragments never reach the server, and tracking parameters
(Google Analytics `utm_*`, click ids such as `fbclid` / `gclid`, mail campaign ids) are removed; the
remaining query parameters are sorted.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import xxhash

# Query parameters that only track the visit, never select content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "wickedid", "ref_src", "s_cid", "spm",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_MULTI_SLASH = re.compile(r"/{2,}")
# RFC 3986 unreserved characters never need percent-encoding; everything else keeps its encoding.
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def normalize_url(url: str | None) -> str | None:
    """Canonical form `host[:port]/path[?query]` of an http(s) URL; None for empty or non-web URLs."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        port = parts.port
    except ValueError:
        return None
    netloc = host if port is None or str(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    path = _MULTI_SLASH.sub("/", path)
    path = posixpath.normpath(path) if path != "/" else path  # resolves "." and ".." segments
    if path.startswith("//"):
        path = path[1:]
    path = path.rstrip("/") or "/"
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    query = urlencode(sorted(params), doseq=False)
    return f"{netloc}{path}" + (f"?{query}" if query else "")


def url_key(url: str | None) -> int:
    """Nonzero 64-bit key of the normalized URL; 0 when there is no usable URL."""
    norm = normalize_url(url)
    if norm is None:
        return 0
    return xxhash.xxh3_64_intdigest(norm.encode("utf-8", "surrogatepass")) or 1
