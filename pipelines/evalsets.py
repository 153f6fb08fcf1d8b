"""Eval sets: held-out text named in the job (`eval_sets:`) or on the command line (`--eval NAME=PATH`).

The same sets serve the decontaminate stage (keep them out of the training data), `curate eval` and
`train.eval_sets` (bits per byte of the model on them). Nothing is downloaded: users bring MMLU, HellaSwag
or their own held-out text as JSONL, Parquet or plain text files.

    eval_sets:
      bbc: {path: data/bbc-test.jsonl}                         # the `text` field of each line
      mmlu: {path: "mmlu/*.parquet", fields: [question, choices], id_field: id}
      udhr: {path: udhr-eng.txt}                               # a text file is one item

Fields holding lists (answer choices) are joined with newlines; several fields are joined with newlines.
An item whose text fields are all missing or empty is skipped and counted. A file that cannot be read at
all fails with its name (a systemic problem).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pipelines.configlib import ConfigError

EvalFormat = Literal["auto", "jsonl", "parquet", "text"]


@dataclass(frozen=True)
class EvalSetSpec:
    path: str  # a file or a glob (sorted)
    format: EvalFormat = "auto"  # auto: from the extension (.jsonl/.json, .parquet, anything else text)
    fields: list[str] = field(default_factory=lambda: ["text"])  # JSONL keys / Parquet columns with text
    id_field: str | None = "id"  # null or missing in a record: FILE:LINE (JSONL) or FILE:ROW (Parquet)
    max_items: int | None = None  # the first N items only (in file order)

    def validate(self) -> None:
        if not self.path:
            raise ValueError("path: must not be empty")
        if not self.fields:
            raise ValueError("fields: name at least one text field")
        if self.max_items is not None and self.max_items < 1:
            raise ValueError("max_items: must be >= 1 or null")


@dataclass(frozen=True)
class EvalItem:
    id: str
    text: str


@dataclass(frozen=True)
class EvalSet:
    name: str
    items: list[EvalItem]
    files: list[str]
    skipped: int  # records without text

    @property
    def n_bytes(self) -> int:
        return sum(len(it.text.encode("utf-8")) for it in self.items)

    def digest(self) -> str:
        """sha256 of the items (ids and texts): what an index or a score was computed from."""
        h = hashlib.sha256()
        for it in self.items:
            h.update(it.id.encode("utf-8", "surrogatepass") + b"\x1f")
            h.update(it.text.encode("utf-8", "surrogatepass") + b"\x1e")
        return h.hexdigest()


def parse_eval_arg(arg: str) -> tuple[str, EvalSetSpec]:
    """`NAME=PATH_OR_GLOB` (the `--eval` flag) -> (name, spec with default fields)."""
    name, sep, path = arg.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"--eval {arg!r}: expected NAME=PATH_OR_GLOB")
    return name, EvalSetSpec(path=path)


def _format(path: str, fmt: EvalFormat) -> str:
    if fmt != "auto":
        return fmt
    lower = path.lower()
    if lower.endswith((".jsonl", ".json", ".jsonl.gz")):
        return "jsonl"
    if lower.endswith(".parquet"):
        return "parquet"
    return "text"


def _text_of(record: dict[str, Any], fields: list[str]) -> str:
    parts = []
    for f in fields:
        v = record.get(f)
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            parts.extend(str(x) for x in v if x is not None)
        else:
            parts.append(str(v))
    return "\n".join(p for p in parts if p.strip())


def _records(path: str, fmt: str) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(location, record or None when the line is not a JSON object)."""
    base = os.path.basename(path)
    if fmt == "jsonl":
        import gzip

        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    yield f"{base}:{i}", None
                    continue
                yield f"{base}:{i}", rec if isinstance(rec, dict) else None
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(path).to_pylist()):
            yield f"{base}:{i}", rec
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield base, {"text": f.read()}


def load_eval_set(name: str, spec: EvalSetSpec) -> EvalSet:
    files = sorted(glob.glob(spec.path, recursive=True))
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise ConfigError(f"eval_sets.{name}.path: nothing matches {spec.path!r}")
    items: list[EvalItem] = []
    skipped = 0
    for path in files:
        fmt = _format(path, spec.format)
        fields = spec.fields if fmt != "text" else ["text"]
        try:
            for loc, rec in _records(path, fmt):
                if spec.max_items is not None and len(items) >= spec.max_items:
                    break
                text = _text_of(rec, fields) if rec is not None else ""
                if not text:
                    skipped += 1
                    continue
                rid = rec.get(spec.id_field) if (rec is not None and spec.id_field) else None
                items.append(EvalItem(str(rid) if rid is not None else loc, text))
        except (OSError, ValueError) as e:
            raise ConfigError(f"eval_sets.{name}: cannot read {path}: {e}") from None
    if not items:
        raise ConfigError(f"eval_sets.{name}: no item with text in fields {spec.fields} in {spec.path!r}")
    return EvalSet(name, items, files, skipped)


def load_eval_sets(specs: dict[str, EvalSetSpec], names: list[str] | None = None) -> dict[str, EvalSet]:
    """The named sets (all when `names` is empty or None), in name order."""
    wanted = sorted(specs) if not names else list(names)
    missing = [n for n in wanted if n not in specs]
    if missing:
        raise ConfigError(f"eval set {missing[0]!r} is not configured (known: {', '.join(sorted(specs)) or 'none'})")
    return {n: load_eval_set(n, specs[n]) for n in wanted}
