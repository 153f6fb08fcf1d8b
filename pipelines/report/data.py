"""Gather the numbers of a run folder for the report page and the dataset card (the only module of the
report that reads the run folder; the page and the card read `ReportData`).

Every reader is tolerant: a stage that did not run, or a column a stage does not write, yields a
`Missing` note for its section instead of an error. Documents never become Python objects: each
stage's Parquet parts are read row group by row group with `columns=[...]`, and the text column is
reduced to its UTF-8 byte length (`pyarrow.compute.binary_length`) as soon as it is read.

Stages with at most `exact_rows` documents are scanned completely (exact totals). Larger ones are
sampled: row groups taken round-robin across the parts (row group 0 of every part, then 1, ...) until
`sample_rows` documents are read, and totals are scaled up from the sample (shown as estimates). Parts
are sharded and sorted by a hash of the id, so any prefix of a row group is an unbiased sample. Length
histograms and quantiles always use at most `sample_rows` lengths per stage.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import storage
from pipelines.io.parquet import open_parquet
from pipelines.runlayout import RunLayout, StageMissingError, read_json
from pipelines.stages import STAGES
from pipelines.stages.eval import NAME as EVAL_NAME
from pipelines.stages.eval import RESULTS as EVAL_RESULTS_FILE
from tokenizer.card import CARD_FILE
from trainer.shards_format import MANIFEST as MANIFEST_FILE

log = logging.getLogger(__name__)

# ---- the stages the report knows (the one place: the page and the card read these) ----------------------

#: Stages that write documents (RUN/<stage>/part-*.parquet), in pipeline order (from the stage registry).
DOC_STAGES = tuple(s.command for s in STAGES if s.documents)
#: Their headings in the report and the card.
STAGE_TITLES = {s.command: s.title for s in STAGES}
#: Every stage whose `_SUCCESS` the report reads, in pipeline order: name shown -> the folder it commits to.
STAGE_DIRS: dict[str, str] = {s.command: s.folder for s in STAGES}
ALL_STAGES = tuple(STAGE_DIRS)
#: Stages that drop documents (their rejection reasons are shown); the others only transform or sample.
REJECTING_STAGES = tuple(s.command for s in STAGES if s.rejects)
#: Columns that may hold a document's language (the filter stage's fastText label comes first).
LANGUAGE_COLUMNS = ("lang", "lid_lang", "language")
#: Files the report reads in the stages' folders.
MANIFEST = MANIFEST_FILE  # RUN/shards/manifest.json (tokenize)
TOKENIZER_CARD = CARD_FILE  # RUN/tokenizer/tokenizer_card.json
TOKENIZER_EVAL = "eval.json"  # RUN/tokenizer_eval/eval.json
TRAIN_METRICS = "metrics.jsonl"  # RUN/train/metrics.jsonl
TRAIN_CONFIG = "config.json"  # RUN/train/config.json
EVAL_FOLDER, EVAL_RESULTS = EVAL_NAME, EVAL_RESULTS_FILE  # RUN/eval/results.json (`curate eval`)

DEFAULT_SAMPLE_ROWS = 200_000
DEFAULT_EXACT_ROWS = 2_000_000

# scheme://[user@]host[:port]/...  -> host; `www.`/`www2.` dropped so that both count as one domain.
_HOST_RE = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//(?:[^@/?#]*@)?(?P<host>[^/:?#]+)"
_WWW_RE = r"^www\d*\."


@dataclass(frozen=True)
class Missing:
    """A section that cannot be shown, and why: the stage did not run, or (`error`) its files are unreadable."""

    reason: str
    error: bool = False


@dataclass
class StageScan:
    """What one documents stage holds: counts, bytes and distributions (exact or from a sample)."""

    stage: str
    rows: int  # documents in the stage (from the Parquet metadata, always exact)
    scanned_rows: int  # documents actually read
    scanned_bytes: int  # UTF-8 bytes of text in the scanned documents
    by_dataset: dict[str, tuple[int, int]]  # dataset -> (documents, bytes) among the scanned
    languages: dict[str, tuple[int, int]] | None  # language -> (documents, bytes); None: no column
    language_column: str | None
    domains: Counter[str] | None  # domain -> documents; None: no url column
    urls: int  # scanned documents with a URL
    cluster_sizes: Counter[int] | None  # dup_count -> kept documents (= clusters); None: no column
    lengths: np.ndarray  # UTF-8 bytes per document, at most sample_rows of them

    @property
    def exact(self) -> bool:
        return self.scanned_rows == self.rows

    @property
    def scale(self) -> float:
        """Multiply a count over the scanned documents by this to estimate it over the whole stage."""
        return self.rows / self.scanned_rows if self.scanned_rows else 0.0

    @property
    def bytes(self) -> int:
        return round(self.scanned_bytes * self.scale)


@dataclass
class RejectedLanguages:
    """Languages of the records a stage rejected (the filter stores `lang` on them when LID ran)."""

    stage: str
    column: str
    rows: int
    scanned_rows: int
    counts: Counter[str]  # language -> rejected records among the scanned ("unknown": no label)

    @property
    def scale(self) -> float:
        return self.rows / self.scanned_rows if self.scanned_rows else 0.0

    @property
    def exact(self) -> bool:
        return self.scanned_rows == self.rows


@dataclass
class FunnelRow:
    stage: str
    documents: int | None
    bytes: int | None = None
    tokens: int | None = None
    exact: bool = True
    note: str = ""


def run_name(run: Path | str) -> str:
    """The run folder's last name (of a path or a URL)."""
    return str(run).rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]


@dataclass
class ReportData:
    run: Path | str  # the run folder: a local path, or the URL of one on an object store
    stages: dict[str, dict[str, Any] | None]  # stage -> its _SUCCESS (None: not run)
    scans: dict[str, StageScan | Missing]
    funnel: list[FunnelRow]
    rejections: dict[str, dict[str, int]]  # stage -> reason -> count (stages that ran)
    manifest: dict[str, Any] | Missing
    tokenizer_card: dict[str, Any] | Missing
    tokenizer_eval: dict[str, Any] | Missing
    train_metrics: list[dict[str, Any]] | Missing
    sample_rows: int
    rejected_languages: dict[str, RejectedLanguages] = field(default_factory=dict)
    train_info: dict[str, Any] = field(default_factory=dict)  # RUN/train/config.json
    eval_results: dict[str, Any] | None = None  # RUN/eval/results.json (`curate eval`)
    errors: dict[str, str] = field(default_factory=dict)  # section -> error while reading it

    # ---- derived views (each a Missing when its inputs are absent) -----------------------------------

    def doc_scans(self) -> list[StageScan]:
        return [s for s in self.scans.values() if isinstance(s, StageScan)]

    def latest_scan(self) -> StageScan | None:
        scans = self.doc_scans()
        return scans[-1] if scans else None

    def language_scans(self) -> list[StageScan]:
        return [s for s in self.doc_scans() if s.languages is not None]

    def dedup_scan(self) -> StageScan | Missing:
        scan = self.scans.get("dedup")
        if isinstance(scan, Missing):
            return scan
        if not isinstance(scan, StageScan):
            return Missing("the dedup stage did not run")
        if scan.cluster_sizes is None:
            return Missing("the dedup output has no dup_count column")
        return scan


# ---- reading ------------------------------------------------------------------------------------------


def read_success(layout: RunLayout, stage: str) -> dict[str, Any] | None:
    """A stage's `_SUCCESS`, or None when the stage did not complete (or the file is unreadable)."""
    if not layout.is_complete(stage):
        return None
    try:
        data = layout.read_success(stage)
    except (OSError, ValueError, StageMissingError) as e:
        log.warning("unreadable %s: %s", layout.success_path(stage), e)
        return None
    return data if isinstance(data, dict) else None


def shards_dir(layout: RunLayout) -> Path | str | None:
    """The completed tokenize stage's folder (whose _SUCCESS lists manifest.json), if any."""
    name = STAGE_DIRS["tokenize"]
    return None if layout.find_file(name, MANIFEST) is None else layout.stage_dir(name)


def _schema_names(path: str) -> set[str]:
    with open_parquet(path) as pf:
        return set(pf.schema_arrow.names)


def _read_row_group(path: str, rg: int, columns: list[str]) -> pa.Table:
    with open_parquet(path) as pf:
        return pf.read_row_group(rg, columns=columns)


def _row_group_order(parts: list[str]) -> list[tuple[str, int, int]]:
    """(part, row group, rows), round-robin across parts: row group 0 of every part, then 1, ..."""
    per_part = []
    for p in parts:
        with open_parquet(p) as pf:
            meta = pf.metadata
        per_part.append([(p, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)])
    order: list[tuple[str, int, int]] = []
    for i in range(max((len(g) for g in per_part), default=0)):
        order.extend(g[i] for g in per_part if i < len(g))
    return order


def _domains(urls: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-cased host of each URL without a leading `www.`; null where there is no URL or host."""
    hosts = pc.struct_field(pc.extract_regex(urls, _HOST_RE), [0])
    return pc.replace_substring_regex(pc.utf8_lower(hosts), _WWW_RE, "")


def _group_counts(keys: pa.Array, lengths: pa.Array) -> dict[str, tuple[int, int]]:
    """key -> (rows, sum of lengths), nulls as 'unknown'."""
    keys = pc.fill_null(pc.cast(keys, pa.string()), "unknown")
    table = pa.table({"k": keys, "n": lengths}).group_by("k").aggregate([("n", "count"), ("n", "sum")])
    return {
        k: (int(c), int(s or 0))
        for k, c, s in zip(
            table.column("k").to_pylist(), table.column("n_count").to_pylist(),
            table.column("n_sum").to_pylist(), strict=True,
        )
    }


def _merge(into: dict[Any, tuple[int, int]], more: dict[Any, tuple[int, int]]) -> None:
    for k, (n, b) in more.items():
        n0, b0 = into.get(k, (0, 0))
        into[k] = (n0 + n, b0 + b)


def _value_counts(values: pa.Array) -> Counter[Any]:
    vc = pc.value_counts(pc.drop_null(values))
    return Counter(dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True)))


def scan_stage(
    layout: RunLayout, stage: str, *, sample_rows: int = DEFAULT_SAMPLE_ROWS,
    exact_rows: int = DEFAULT_EXACT_ROWS, language_columns: tuple[str, ...] = LANGUAGE_COLUMNS,
) -> StageScan | Missing:
    """Counts, bytes, languages, domains, cluster sizes and lengths of one documents stage."""
    folder = STAGE_DIRS.get(stage, stage)  # a stage's command may differ from its folder (dedup-lines)
    if not layout.is_complete(folder):
        return Missing(f"the {stage} stage did not run")
    parts = layout.parts(folder)
    if not parts:
        return Missing(f"the {stage} stage wrote no part files")
    names = _schema_names(parts[0])
    if "text" not in names:
        return Missing(f"RUN/{stage} has no text column")
    lang_col = next((c for c in language_columns if c in names), None)
    columns = ["text"] + [c for c in ("dataset", "url", "dup_count") if c in names]
    if lang_col:
        columns.append(lang_col)

    order = _row_group_order(parts)
    rows = sum(n for _, _, n in order)
    scan_all = rows <= exact_rows
    scanned = scanned_bytes = urls = 0
    by_dataset: dict[str, tuple[int, int]] = {}
    languages: dict[str, tuple[int, int]] | None = {} if lang_col else None
    domains: Counter[str] | None = Counter() if "url" in names else None
    clusters: Counter[int] | None = Counter() if "dup_count" in names else None
    lengths: list[np.ndarray] = []
    kept_lengths = 0
    for path, rg, _n in order:
        if not scan_all and scanned >= sample_rows:
            break
        table = _read_row_group(path, rg, columns)
        if not scan_all:  # rows in a part are ordered by a hash of the id: a prefix is a fair sample
            table = table.slice(0, sample_rows - scanned)
        length = pc.cast(pc.binary_length(table.column("text")), pa.int64())
        table = table.drop_columns(["text"])  # the text goes as soon as it is measured
        scanned += table.num_rows
        scanned_bytes += int(pc.sum(length).as_py() or 0)
        if kept_lengths < sample_rows:
            take = length.to_numpy()[: sample_rows - kept_lengths]
            lengths.append(take)
            kept_lengths += len(take)
        dataset = table.column("dataset") if "dataset" in names else pa.nulls(table.num_rows, pa.string())
        _merge(by_dataset, _group_counts(dataset, length))
        if languages is not None:
            _merge(languages, _group_counts(table.column(lang_col), length))
        if domains is not None:
            d = _domains(table.column("url"))
            urls += len(d) - d.null_count
            domains.update(_value_counts(d))
        if clusters is not None:
            clusters.update(_value_counts(table.column("dup_count")))
    return StageScan(
        stage=stage, rows=rows, scanned_rows=scanned, scanned_bytes=scanned_bytes, by_dataset=by_dataset,
        languages=languages, language_column=lang_col, domains=domains, urls=urls,
        cluster_sizes=clusters,
        lengths=np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64),
    )


def scan_rejected_languages(
    layout: RunLayout, stage: str, *, sample_rows: int = DEFAULT_SAMPLE_ROWS,
    exact_rows: int = DEFAULT_EXACT_ROWS, language_columns: tuple[str, ...] = LANGUAGE_COLUMNS,
) -> RejectedLanguages | None:
    """Language counts of RUN/rejected/<stage>/ (None when it has no language column)."""
    parts = layout.rejected_parts(STAGE_DIRS.get(stage, stage))
    if not parts:
        return None
    names = _schema_names(parts[0])
    column = next((c for c in language_columns if c in names), None)
    if column is None:
        return None
    order = _row_group_order(parts)
    rows = sum(n for _, _, n in order)
    counts: Counter[str] = Counter()
    scanned = 0
    for path, rg, _n in order:
        if rows > exact_rows and scanned >= sample_rows:
            break
        col = _read_row_group(path, rg, [column]).column(column)
        if rows > exact_rows:
            col = col.slice(0, sample_rows - scanned)
        scanned += len(col)
        counts.update(_value_counts(pc.fill_null(pc.cast(col, pa.string()), "unknown")))
    return RejectedLanguages(stage, column, rows, scanned, counts)


def read_manifest(layout: RunLayout) -> dict[str, Any] | Missing:
    name = STAGE_DIRS["tokenize"]
    path = layout.find_file(name, MANIFEST)
    if path is None:
        return Missing("the tokenize stage did not run (no RUN/shards/manifest.json)")
    data = read_json(path)
    if not isinstance(data, dict):
        return Missing(f"{path} is not a JSON object")
    return data


def read_tokenizer_card(layout: RunLayout) -> dict[str, Any] | Missing:
    name = STAGE_DIRS["tokenizer"]
    path = layout.find_file(name, TOKENIZER_CARD)
    if path is None:
        return Missing("the tokenizer stage did not run (no RUN/tokenizer/tokenizer_card.json)")
    return read_json(path)


def _bpt_entries(block: Any) -> dict[str, dict[str, Any]]:
    """name -> {docs, bytes, tokens, bytes_per_token} for the entries that have a bytes_per_token."""
    if not isinstance(block, dict):
        return {}
    return {str(k): v for k, v in block.items()
            if isinstance(v, dict) and isinstance(v.get("bytes_per_token"), int | float)}


def read_tokenizer_eval(layout: RunLayout) -> dict[str, Any] | Missing:
    """Bytes per token on held-out documents per source and per language (`curate tokenizer-eval`)."""
    folder = STAGE_DIRS["tokenizer-eval"]
    rel = f"{folder}/{TOKENIZER_EVAL}"
    path = layout.find_file(folder, TOKENIZER_EVAL)
    if path is None:
        return Missing("the tokenizer-eval stage did not run (no RUN/tokenizer_eval/eval.json)")
    data = read_json(path)
    if not isinstance(data, dict):
        return Missing(f"RUN/{rel} is not a JSON object", error=True)
    overall = data.get("overall")
    return {
        "file": rel,
        "by_source": _bpt_entries(data.get("by_dataset", data.get("by_source"))),
        "by_language": _bpt_entries(data.get("by_language")),
        "overall": overall if _bpt_entries({"o": overall}) else None,
    }


def read_train_info(layout: RunLayout) -> dict[str, Any]:
    """RUN/train/config.json (model size, device, tokens per step...), {} when absent."""
    try:
        data = read_json(layout.join(STAGE_DIRS["train"], TRAIN_CONFIG))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_eval_results(layout: RunLayout) -> dict[str, Any] | None:
    """RUN/eval/results.json (`curate eval`), None when absent or unreadable."""
    try:
        data = read_json(layout.join(EVAL_FOLDER, EVAL_RESULTS))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("sets"), dict) else None


def read_train_metrics(layout: RunLayout) -> list[dict[str, Any]] | Missing:
    path = layout.join(STAGE_DIRS["train"], TRAIN_METRICS)
    if not storage.exists(path):
        return Missing("the train stage did not run (no RUN/train/metrics.jsonl)")
    rows = []
    with io.TextIOWrapper(storage.open_read(path), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except ValueError:  # a line cut by a crash mid-write
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int | float):
                rows.append(row)
    if not rows:
        return Missing("RUN/train/metrics.jsonl holds no logged step yet")
    return rows


# ---- the whole report ---------------------------------------------------------------------------------


def _funnel(stages: dict[str, dict[str, Any] | None], scans: dict[str, StageScan | Missing],
            manifest: dict[str, Any] | Missing) -> list[FunnelRow]:
    rows: list[FunnelRow] = []
    ingest = stages.get("ingest")
    if ingest and isinstance(ingest.get("counts"), dict) and "in" in ingest["counts"]:
        rows.append(FunnelRow("input records", int(ingest["counts"]["in"]), note="records read by ingest"))
    for stage in DOC_STAGES:
        scan = scans.get(stage)
        if isinstance(scan, StageScan):
            rows.append(FunnelRow(stage, scan.rows, scan.bytes, exact=scan.exact))
    if isinstance(manifest, dict):
        totals = manifest.get("totals") or {}
        docs = sum(int((totals.get(s) or {}).get("rows", 0)) for s in ("train", "val"))
        tokens = sum(int((totals.get(s) or {}).get("tokens", 0)) for s in ("train", "val"))
        rows.append(FunnelRow("tokenize", docs, None, tokens,
                              note="rows in the shards (train + val, after the mixture's repeats)"))
    return rows


def gather(
    run: str | Path | RunLayout, *, sample_rows: int = DEFAULT_SAMPLE_ROWS, exact_rows: int = DEFAULT_EXACT_ROWS,
) -> ReportData:
    """Read everything the report shows from the run folder; what is absent becomes a `Missing`."""
    layout = run if isinstance(run, RunLayout) else RunLayout(run)
    errors: dict[str, str] = {}

    def guarded(section: str, fn: Callable[[], Any]) -> Any:
        # One unreadable file must not take the whole report down: the section shows the error.
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - reported on the page and in the log
            log.warning("report: could not read %s: %s", section, e)
            log.debug("report: %s", section, exc_info=True)
            errors[section] = f"{type(e).__name__}: {e}"
            return Missing(f"{section}: {type(e).__name__}: {e}", error=True)

    stages: dict[str, dict[str, Any] | None] = {
        s: read_success(layout, folder) for s, folder in STAGE_DIRS.items()
    }
    language_columns = LANGUAGE_COLUMNS
    tok_cfg = ((stages.get("tokenizer") or {}).get("config") or {})
    tok_cfg = tok_cfg.get("tokenizer", tok_cfg) if isinstance(tok_cfg, dict) else {}
    if isinstance(tok_cfg, dict) and isinstance(tok_cfg.get("language_field"), str):
        language_columns = (tok_cfg["language_field"], *LANGUAGE_COLUMNS)
    scans: dict[str, StageScan | Missing] = {
        s: guarded(f"{s} documents", lambda s=s: scan_stage(
            layout, s, sample_rows=sample_rows, exact_rows=exact_rows, language_columns=language_columns))
        for s in DOC_STAGES
    }
    manifest = guarded("manifest", lambda: read_manifest(layout))
    rejected_languages: dict[str, RejectedLanguages] = {}
    for stage in DOC_STAGES[1:]:
        if isinstance(scans.get(stage), StageScan):
            got = guarded(f"{stage} rejected languages", lambda stage=stage: scan_rejected_languages(
                layout, stage, sample_rows=sample_rows, exact_rows=exact_rows, language_columns=language_columns))
            if isinstance(got, RejectedLanguages):
                rejected_languages[stage] = got
    rejections = {
        s: {str(k): int(v) for k, v in (info.get("rejected_by_reason") or {}).items()}
        for s, info in stages.items()
        if s in REJECTING_STAGES and info is not None and "rejected_by_reason" in info
    }
    return ReportData(
        run=layout.root, stages=stages, scans=scans, funnel=_funnel(stages, scans, manifest),
        rejections=rejections, manifest=manifest,
        tokenizer_card=guarded("tokenizer card", lambda: read_tokenizer_card(layout)),
        tokenizer_eval=guarded("tokenizer eval", lambda: read_tokenizer_eval(layout)),
        train_metrics=guarded("training metrics", lambda: read_train_metrics(layout)),
        sample_rows=sample_rows, rejected_languages=rejected_languages, train_info=read_train_info(layout),
        eval_results=read_eval_results(layout), errors=errors,
    )


# ---- numbers the page and the card share --------------------------------------------------------------


def length_quantiles(lengths: np.ndarray) -> dict[str, float]:
    if len(lengths) == 0:
        return {}
    q = np.percentile(lengths, [10, 50, 90, 99])
    return {"mean": float(lengths.mean()), "p10": q[0], "p50": q[1], "p90": q[2], "p99": q[3],
            "max": float(lengths.max())}


def log_bins(arrays: list[np.ndarray], per_decade: int = 5) -> np.ndarray:
    """Log-spaced bin edges (powers of 10 split in `per_decade`) covering every value of `arrays`."""
    values = [a for a in arrays if len(a)]
    lo = max(1, min(int(a.min()) for a in values)) if values else 1
    hi = max(int(a.max()) for a in values) if values else 10
    start, stop = math.floor(math.log10(lo)), math.ceil(math.log10(max(hi, lo) + 1))
    return np.logspace(start, max(stop, start + 1), (max(stop, start + 1) - start) * per_decade + 1)


def top_domains(data: ReportData, n: int = 20) -> list[tuple[str, int, int | None]] | Missing:
    """(domain, documents at ingest, documents in the latest stage) for the latest stage's top `n`."""
    scans = [s for s in data.doc_scans() if s.domains is not None]
    if not scans:
        return Missing("no documents stage with a url column has run")
    latest = scans[-1]
    if not latest.domains:
        return Missing(f"no document of the {latest.stage} stage has a URL")
    first = scans[0]
    out = []
    for domain, kept in latest.domains.most_common(n):
        before = round(first.domains[domain] * first.scale) if first is not latest else None
        out.append((domain, before, round(kept * latest.scale)))
    return out  # type: ignore[return-value]


def rejection_denominator(data: ReportData, stage: str) -> int | None:
    """Records that entered `stage` (its counts.in), for rejection percentages."""
    info = data.stages.get(stage) or {}
    counts = info.get("counts") or {}
    n = counts.get("in")
    if n is None and "out" in counts and "rejected" in counts:
        n = counts["out"] + counts["rejected"]
    return int(n) if n else None


def mixture_rows(data: ReportData) -> list[dict[str, Any]] | Missing:
    """Per source: tokens, rows, reached and target fraction from the manifest, and the natural share
    before mixing (the manifest's natural_tokens, else text bytes of the latest documents stage)."""
    if not isinstance(data.manifest, dict):
        return data.manifest
    by_source = data.manifest.get("by_source") or {}
    if not by_source:
        return Missing("the manifest has no by_source block")
    natural_tokens = {k: v.get("natural_tokens") for k, v in by_source.items() if isinstance(v, dict)}
    natural: dict[str, float] = {}
    natural_unit = "tokens"
    if all(isinstance(n, int | float) for n in natural_tokens.values()) and sum(natural_tokens.values()):
        total = sum(natural_tokens.values())
        natural = {k: n / total for k, n in natural_tokens.items()}
    elif (latest := data.latest_scan()) is not None and latest.scanned_bytes:
        natural_unit = "bytes"
        natural = {k: b / latest.scanned_bytes for k, (_, b) in latest.by_dataset.items()}
    total_tokens = sum(int(v.get("tokens", 0)) for v in by_source.values()) or 1
    rows = []
    for name in sorted(by_source):
        v = by_source[name] or {}
        tokens = int(v.get("tokens", 0))
        rows.append({
            "source": name, "rows": v.get("rows"), "tokens": tokens,
            "fraction": float(v["fraction"]) if v.get("fraction") is not None else tokens / total_tokens,
            "target_fraction": v.get("target_fraction"), "natural_fraction": natural.get(name),
            "natural_unit": natural_unit,
        })
    return rows


def loss_rows(metrics: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train rows with a loss, rows with a val_loss), in step order."""
    train = sorted((r for r in metrics if isinstance(r.get("loss"), int | float)), key=lambda r: r["step"])
    val = sorted((r for r in metrics if isinstance(r.get("val_loss"), int | float)), key=lambda r: r["step"])
    return train, val
