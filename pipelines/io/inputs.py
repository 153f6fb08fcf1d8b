"""Input specs -> a sorted listing of files, each with its format, kind and dataset name."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from filters.books import sniff_book_format
from filters.document import Document, Rejected
from pipelines import storage
from pipelines.config import IngestConfig, InputSpec
from pipelines.io.books import read_epub_file, read_pdf_file
from pipelines.io.jsonl import read_jsonl
from pipelines.io.records import FileContext
from pipelines.io.text import read_parquet_file, read_text_file
from pipelines.io.warc import read_warc

_DEFAULT_KIND = {"warc": "web", "jsonl": "article", "parquet": "article", "text": "auto", "epub": "book", "pdf": "book"}


def detect_format(path: str) -> str:
    name = path.lower()
    for suffix in (".gz", ".zst", ".zstd"):
        if name.endswith(suffix) and not name.endswith(".warc.gz") and not name.endswith(".arc.gz"):
            name = name[: -len(suffix)]
    if name.endswith((".warc", ".warc.gz", ".arc", ".arc.gz")):
        return "warc"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".pdf", ".epub")):
        return name.rsplit(".", 1)[1]
    if storage.is_remote(path):
        return "text"  # no request per object at listing time: remote books need their extension
    try:  # by content: books often come without (or with a wrong) extension
        with open(path, "rb") as f:
            return sniff_book_format(f.read(1024)) or "text"
    except OSError:
        return "text"  # the reader reports it


def _glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: ids are made relative to it."""
    return storage.glob_base(pattern)


@dataclass(frozen=True)
class InputFile:
    ctx: FileContext
    format: str
    size: int


def list_input_files(specs: list[InputSpec]) -> list[InputFile]:
    """Every file of every input, sorted per input, directories expanded recursively; a path list's
    files in list order."""
    files: list[InputFile] = []
    seen: set[str] = set()
    for spec in specs:
        listed = _listed_files(spec) if spec.path_list else _matched_files(spec.path)
        for path, relname, fetch, size in listed:
            if path in seen:
                continue
            seen.add(path)
            fmt = detect_format(path) if spec.format == "auto" else spec.format
            kind = _DEFAULT_KIND[fmt] if spec.kind == "auto" else spec.kind
            dataset = spec.name or (kind if kind != "auto" else "text")
            ctx = FileContext(
                path=path,
                relname=relname,
                dataset=dataset,
                kind=kind,
                text_field=spec.text_field,
                url_field=spec.url_field,
                fetch=fetch,
            )
            files.append(InputFile(ctx=ctx, format=fmt, size=size))
    return files


def _matched_files(pattern: str) -> list[tuple[str, str, str, int]]:
    """(path, relname, fetch, size) of a path, glob or URL; relname is relative to the glob's folder."""
    matches = storage.glob_entries(pattern)
    base = _glob_base(pattern)
    entries: list[storage.Entry] = []
    for m in matches:
        if m.size < 0:  # a folder (or an object-store prefix)
            entries.extend(storage.walk_files(m.path))
            base = m.path if len(matches) == 1 else base
        else:
            entries.append(m)
    return [(e.path, storage.relative(e.path, base) if base else e.path, "", e.size) for e in entries]


def read_path_list(path_list: str) -> list[str]:
    """The paths of a path list (Common Crawl's warc.paths.gz: one path per line, gzip or plain)."""
    raw = storage.read_bytes(path_list)
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read()
    lines = (line.strip() for line in raw.decode("utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def listed_locations(spec: InputSpec) -> list[tuple[str, str]]:
    """A path list's entries in list order: (the listed path, where it is read: under `base`)."""
    return [(p, storage.join(spec.base, p) if spec.base else p) for p in read_path_list(spec.path_list)]


def _listed_files(spec: InputSpec) -> list[tuple[str, str, str, int]]:
    """A path list's entries in list order, each named by its listed path and read under `base`."""
    locations = listed_locations(spec)
    fetch = [location for _, location in locations]

    def size_of(url: str) -> int:
        try:
            return storage.size(url)
        except storage.StorageError as e:
            if isinstance(e.cause, PermissionError):
                raise  # systemic: every file behind this base will say the same
            return 0  # missing or unreachable: its reader rejects it `unreadable_file`, naming the URL

    with ThreadPoolExecutor(max_workers=16) as pool:  # one HEAD each: in parallel for long lists
        sizes = list(pool.map(size_of, fetch))
    return [(p, p, f if f != p else "", n) for (p, f), n in zip(locations, sizes, strict=True)]


_READERS = {"warc": read_warc, "jsonl": read_jsonl, "parquet": read_parquet_file, "text": read_text_file,
            "epub": read_epub_file, "pdf": read_pdf_file}


def read_input_file(f: InputFile, cfg: IngestConfig) -> Iterator[Document | Rejected]:
    return _READERS[f.format](f.ctx, cfg)
