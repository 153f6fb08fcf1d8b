from __future__ import annotations

from pathlib import Path

from filters.document import Document, Rejected
from pipelines.config import IngestConfig
from pipelines.io.records import FileContext
from pipelines.io.warc import read_warc
from tests.pipelines.io.warcfixtures import html_page, write_warc


def ctx(path: Path) -> FileContext:
    return FileContext(path=str(path), relname=path.name, dataset="web", kind="web")


def read(path: Path, **cfg) -> tuple[list[Document], list[Rejected]]:
    items = list(read_warc(ctx(path), IngestConfig(**cfg)))
    return [i for i in items if isinstance(i, Document)], [i for i in items if isinstance(i, Rejected)]


def test_html_responses_become_documents_with_url_and_meta(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", [
        ("https://example.org/a", html_page("First", "Whales are large marine mammals."), "text/html; charset=utf-8"),
        ("https://example.org/b", html_page("Second", "Ships sail across the ocean."), "text/html"),
    ])
    docs, rejected = read(path)
    assert rejected == []
    assert [d.url for d in docs] == ["https://example.org/a", "https://example.org/b"]
    assert "Whales are large marine mammals." in docs[0].text
    assert "Home" not in docs[0].text.split("\n")  # navigation is not main text
    assert docs[0].kind == "web" and docs[0].location.startswith("offset=")
    meta = docs[0].meta_dict()
    assert meta["warc_record_id"].startswith("<urn:uuid:")
    assert meta["warc_date"] == "2024-01-01T00:00:00Z"
    assert len({d.id for d in docs}) == 2


def test_ids_are_stable_across_reads(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", [("https://e.org/", html_page("T", "Stable words here."), "text/html")])
    assert read(path)[0][0].id == read(path)[0][0].id


def test_binary_payloads_are_rejected_with_their_mime_type(tmp_path):
    path = write_warc(tmp_path / "b.warc.gz", [
        ("https://e.org/x.pdf", b"%PDF-1.4 binary", "application/pdf"),
        ("https://e.org/x.jpg", b"\xff\xd8\xff\xe0JFIF", "image/jpeg"),
        ("https://e.org/ok", html_page("Fine", "A real page with words."), "text/html"),
    ])
    docs, rejected = read(path)
    assert len(docs) == 1
    assert sorted(r.reason for r in rejected) == ["non_text_payload:application/pdf", "non_text_payload:image/jpeg"]
    assert all(r.location.startswith("offset=") for r in rejected)


def test_non_2xx_responses_are_rejected(tmp_path):
    path = write_warc(tmp_path / "c.warc.gz", [("https://e.org/", b"moved", "text/html")], status="301 Moved")
    docs, rejected = read(path)
    assert docs == [] and [r.reason for r in rejected] == ["http_status:301"]


def test_truncated_file_keeps_complete_records_and_reports_the_cut(tmp_path):
    pages = [(f"https://e.org/{i}", html_page(f"Page {i}", f"Body number {i} of the test. " * 50), "text/html")
             for i in range(6)]
    full = write_warc(tmp_path / "full.warc.gz", pages)
    whole_docs, _ = read(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * 0.75)])
    docs, rejected = read(cut)
    assert 0 < len(docs) < len(whole_docs)
    assert [d.url for d in docs] == [d.url for d in whole_docs[: len(docs)]]
    assert [d.text for d in docs] == [d.text for d in whole_docs[: len(docs)]]
    assert [r.reason for r in rejected] == ["truncated_file"]


def test_uncompressed_warc_reads_too(tmp_path):
    path = write_warc(tmp_path / "plain.warc", [("https://e.org/", html_page("T", "Plain words."), "text/html")],
                      gzip=False)
    docs, rejected = read(path)
    assert len(docs) == 1 and rejected == []


def test_a_file_that_is_not_a_warc_is_unreadable(tmp_path):
    path = tmp_path / "junk.warc.gz"
    path.write_bytes(b"this is not gzip data\n" * 10)
    docs, rejected = read(path)
    assert docs == [] and [r.reason for r in rejected] == ["unreadable_file"]


def test_too_large_html_is_rejected(tmp_path):
    path = write_warc(tmp_path / "big.warc.gz", [("https://e.org/", html_page("T", "word " * 5000), "text/html")])
    docs, rejected = read(path, max_html_bytes=1000)
    assert docs == [] and [r.reason for r in rejected] == ["too_large"]


def test_isal_inflate_reads_what_warcios_zlib_reads(tmp_path, monkeypatch):
    """WARC.gz members are inflated with ISA-L (a dependency): the same documents, ids and rejections as
    with warcio's own zlib, for a whole file, one cut short and one with a damaged member."""
    from isal.isal_zlib import decompressobj

    import pipelines.io.warc as warc

    assert warc._inflate is decompressobj
    pages = [(f"https://e.org/{i}", html_page(f"Page {i}", f"Body number {i} of the test. " * 50), "text/html")
             for i in range(6)]
    full = write_warc(tmp_path / "full.warc.gz", pages)
    data = full.read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: int(len(data) * 0.75)])
    middle = len(data) // 2
    (tmp_path / "damaged.warc.gz").write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    paths = [tmp_path / name for name in ("full.warc.gz", "cut.warc.gz", "damaged.warc.gz")]
    inflaters = []
    monkeypatch.setattr(warc, "_inflate", lambda wbits: inflaters.append(wbits) or decompressobj(wbits))
    with_isal = [read(p) for p in paths]
    assert inflaters  # the readers took their gzip decompressors from ISA-L
    assert len(with_isal[0][0]) == 6 and with_isal[1][1] and with_isal[2][1]  # the faults are seen
    monkeypatch.setattr(warc, "_fast_inflate", lambda it: None)  # warcio's own zlib decompressor
    assert [read(p) for p in paths] == with_isal
