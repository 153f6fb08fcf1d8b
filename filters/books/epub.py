"""EPUB -> book text: the spine's XHTML documents in reading order, title and author from the package.

An EPUB (OCF 3.0) is a ZIP: `META-INF/container.xml` names the package document (OPF), whose
`<metadata>` has the Dublin Core title/creator/language, `<manifest>` lists the files and `<spine>`
gives the reading order. Each linear spine item goes through the same HTML-to-text renderer as web
pages (`filters.extract.extract_full_text`) but keeps all body text: a book has no site navigation.

Front and back matter that is not the book: the EPUB 3 navigation document and the EPUB 2 NCX are not
in the text, nor is any spine item that is mostly links (a table of contents page); the Project Gutenberg
license header and footer come off afterwards, as for `.txt` books (`filters.gutenberg`, applied at
ingestion to every document that carries the markers).
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from urllib.parse import unquote
from xml.etree import ElementTree

from resiliparse.parse.html import HTMLTree

from filters.books import BookError
from filters.extract import decode_html, extract_full_text

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
}
_XHTML_TYPES = ("application/xhtml+xml", "text/html")
# A spine item whose text is more than this share link text (with at least TOC_MIN_LINKS links) is a
# table of contents.
TOC_LINK_SHARE = 0.5
TOC_MIN_LINKS = 2
# Decompressed size limit of one member: a ZIP bomb must not exhaust a worker.
MAX_MEMBER_BYTES = 64 * 1024 * 1024


@dataclass
class EpubText:
    sections: list[str]  # text of each kept spine item, in reading order
    meta: dict[str, str] = field(default_factory=dict)  # title, author, language
    skipped: int = 0  # spine items left out (navigation, tables of contents, empty)

    @property
    def text(self) -> str:
        return "\n\n".join(s for s in self.sections if s)


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise BookError("too_large", f"{name}: {info.file_size} bytes uncompressed")
    return zf.read(info)


def _parse_xml(data: bytes, name: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise BookError("unreadable_file", f"{name}: {e}") from None


def is_table_of_contents(html: str) -> bool:
    tree = HTMLTree.parse(html)
    body = tree.body
    if body is None:
        return False
    total = len("".join(body.text.split()))
    links = body.get_elements_by_tag_name("a")
    if total == 0 or len(links) < TOC_MIN_LINKS:
        return False
    return sum(len("".join(a.text.split())) for a in links) / total > TOC_LINK_SHARE


def read_epub(data: bytes) -> EpubText:
    """The text of an EPUB; raises BookError (`unreadable_file`, `encrypted` for DRM, `too_large`)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        raise BookError("unreadable_file", str(e)) from None
    try:
        with zf:
            return _read_package(zf)
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError, OSError) as e:  # truncated or missing members
        raise BookError("unreadable_file", str(e)) from None


def _read_package(zf: zipfile.ZipFile) -> EpubText:
    names = set(zf.namelist())
    if "META-INF/encryption.xml" in names and b"EncryptedData" in _read_member(zf, "META-INF/encryption.xml"):
        # Font obfuscation also uses encryption.xml; DRM encrypts the content documents themselves.
        enc = _read_member(zf, "META-INF/encryption.xml")
        if b".xhtml" in enc or b".html" in enc:
            raise BookError("encrypted", "content documents are encrypted (DRM)")
    container = _parse_xml(_read_member(zf, "META-INF/container.xml"), "META-INF/container.xml")
    rootfile = container.find(".//c:rootfile", _NS)
    if rootfile is None or not rootfile.get("full-path"):
        raise BookError("unreadable_file", "container.xml names no package document")
    opf_path = rootfile.get("full-path", "")
    opf = _parse_xml(_read_member(zf, opf_path), opf_path)
    base = posixpath.dirname(opf_path)

    meta: dict[str, str] = {}
    title = opf.find(".//opf:metadata/dc:title", _NS)
    if title is not None and title.text:
        meta["title"] = " ".join(title.text.split())
    creators = [" ".join(c.text.split()) for c in opf.findall(".//opf:metadata/dc:creator", _NS) if c.text]
    if creators:
        meta["author"] = "; ".join(creators)
    language = opf.find(".//opf:metadata/dc:language", _NS)
    if language is not None and language.text:
        meta["language"] = language.text.strip()

    manifest = {}
    for item in opf.findall(".//opf:manifest/opf:item", _NS):
        manifest[item.get("id")] = item
    spine = opf.find(".//opf:spine", _NS)
    if spine is None:
        raise BookError("unreadable_file", f"{opf_path}: no spine")
    sections: list[str] = []
    skipped = 0
    for ref in spine.findall("opf:itemref", _NS):
        item = manifest.get(ref.get("idref"))
        if item is None or ref.get("linear", "yes") == "no":
            skipped += 1
            continue
        properties = (item.get("properties") or "").split()
        if "nav" in properties or item.get("media-type") not in _XHTML_TYPES:
            skipped += 1
            continue
        path = posixpath.normpath(posixpath.join(base, unquote(item.get("href", ""))))
        if path not in names:
            raise BookError("unreadable_file", f"spine item {path} is missing")
        html = decode_html(_read_member(zf, path), "utf-8")
        if is_table_of_contents(html):
            skipped += 1
            continue
        text = extract_full_text(html)
        if text.strip():
            sections.append(text.strip())
        else:
            skipped += 1
    return EpubText(sections=sections, meta=meta, skipped=skipped)
