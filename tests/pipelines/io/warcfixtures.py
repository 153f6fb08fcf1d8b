"""Small WARC files written with warcio for reader tests."""

from __future__ import annotations

import io
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ARTICLE = (
    "<html><head><title>t</title></head><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav>"
    "<main><article><h1>{title}</h1><p>{body}</p><p>The second paragraph has more words in it, "
    "enough to count as prose that a reader would want to keep.</p></article></main>"
    "<footer>Copyright 2024 Example. All rights reserved.</footer></body></html>"
)


def html_page(title: str, body: str) -> bytes:
    return ARTICLE.format(title=title, body=body).encode()


def write_warc(path: Path, records: list[tuple[str, bytes, str]], status: str = "200 OK", gzip: bool = True) -> Path:
    """records: (url, payload, content type). Adds a warcinfo and a request record like crawlers do."""
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gzip)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test"}))
        for url, payload, ctype in records:
            req = w.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
            w.write_record(req)
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = w.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=http,
                warc_headers_dict={"WARC-Date": "2024-01-01T00:00:00Z"},
            )
            w.write_record(rec)
    return path
