"""The dataset card `RUN/shards/README.md`, in the Hugging Face style: YAML front matter (license,
languages, `configs` / `data_files` naming the train and validation shards, so that
`datasets.load_dataset(RUN/shards)` finds both splits), then what the shards hold and how they were made.
See https://huggingface.co/docs/hub/datasets-cards and https://huggingface.co/docs/hub/datasets-manual-configuration.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from pipelines.report.data import (
    DOC_STAGES,
    STAGE_TITLES,
    Missing,
    ReportData,
    StageScan,
    mixture_rows,
    run_name,
)
from pipelines.report.formatting import fmt_bytes, fmt_int, fmt_pct

#: Hugging Face's size buckets (by number of rows), as in its dataset-card metadata.
SIZE_CATEGORIES = [
    (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"), (100_000_000_000, "10B<n<100B"), (1_000_000_000_000, "100B<n<1T"),
]
#: HF split name for each of our file prefixes.
SPLITS = {"train": "train", "val": "validation"}


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>1T")


_NUMBER = re.compile(r"^(—|[≈+\-]?[\d,.]+( ?[%A-Za-z]{1,3}| pt)?)$")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table; columns whose every cell is a number (or —) are right-aligned."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    numeric = [bool(rows) and all(_NUMBER.match(str(r[i])) for r in rows) for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _docs(n: Any) -> str:
    return f"{fmt_int(n)} document" + ("" if n == 1 else "s")


def _languages(data: ReportData) -> list[str]:
    scans = data.language_scans()
    if not scans:
        return []
    langs = scans[-1].languages or {}
    total = sum(n for n, _ in langs.values()) or 1
    keep = [k for k, (n, _) in sorted(langs.items(), key=lambda kv: (-kv[1][0], kv[0]))
            if k not in ("unknown", "") and n / total >= 0.001]
    return keep[:50]


def front_matter(data: ReportData, manifest: dict[str, Any]) -> dict[str, Any]:
    shards = manifest.get("shards") or []
    data_files = []
    for prefix, split in SPLITS.items():
        files = [s["file"] for s in shards if s.get("split") == prefix and s.get("file")]
        if files:
            data_files.append({"split": split, "path": files})
    rows = sum(int(s.get("rows", 0)) for s in shards)
    meta: dict[str, Any] = {
        "license": "other",
        "license_name": "mixed-source-licenses",
        "license_details": "Each source keeps its own license; see the License section.",
    }
    langs = _languages(data)
    if langs:
        meta["language"] = langs
    meta.update({
        "pretty_name": f"curate shards: {run_name(data.run)}",
        "task_categories": ["text-generation"],
        "size_categories": [size_category(rows)],
        "tags": ["curate", "pretraining", "tokenized"],
        "configs": [{"config_name": "default", "data_files": data_files}],
    })
    return meta


def _sources_section(data: ReportData) -> str:
    ingest = data.stages.get("ingest") or {}
    inputs = ((ingest.get("config") or {}).get("inputs")) or []
    scans = data.doc_scans()
    names = sorted({str(i.get("name") or i.get("kind") or "") for i in inputs} | {
        d for s in scans for d in s.by_dataset})
    if not names:
        return "No ingest information in this run."
    paths: dict[str, list[str]] = {}
    kinds: dict[str, set[str]] = {}
    for i in inputs:
        name = str(i.get("name") or i.get("kind") or "")
        paths.setdefault(name, []).append(f"`{i.get('path')}`")
        kinds.setdefault(name, set()).add(str(i.get("kind", "auto")))
    headers = ["source", "inputs", "kind"] + [f"{s.stage} documents" for s in scans]
    rows = []
    for n in names:
        rows.append([n, ", ".join(paths.get(n, [])) or "—", ", ".join(sorted(kinds.get(n, set()))) or "—"]
                    + [fmt_int(s.by_dataset.get(n, (0, 0))[0] * s.scale, s.exact) for s in scans])
    return _md_table(headers, rows)


def _rejections(data: ReportData, stage: str) -> str:
    reasons = data.rejections.get(stage)
    if reasons is None:
        return "Not run."
    info = data.stages.get(stage) or {}
    counts = info.get("counts") or {}
    head = (f"{_docs(counts.get('in'))} in, {fmt_int(counts.get('out'))} kept, "
            f"{fmt_int(counts.get('rejected'))} removed.")
    if not reasons:
        return head
    rows = [[k, fmt_int(v), fmt_pct(v, counts.get("in"))]
            for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    return head + "\n\n" + _md_table(["reason", "documents", "% of input"], rows)


def _config_line(info: dict[str, Any] | None, section: str) -> str:
    cfg = (info or {}).get("config") or {}
    cfg = cfg.get(section, cfg) if isinstance(cfg, dict) else {}
    if not isinstance(cfg, dict) or not cfg:
        return ""
    flat = ", ".join(f"`{k}={v}`" for k, v in cfg.items() if not isinstance(v, dict | list))
    return f"\n\nSettings: {flat}." if flat else ""


def _rules_line(info: dict[str, Any] | None) -> str:
    """The filter rules that were on, from the stage's config (one section per rule with `enabled`)."""
    cfg = (info or {}).get("config") or {}
    cfg = cfg.get("filter", cfg) if isinstance(cfg, dict) else {}
    if not isinstance(cfg, dict):
        return ""
    def is_on(name: str, section: dict[str, Any]) -> bool:
        # the model-based quality rule is off without a model (filters/config.py QualityConfig.model)
        return bool(section.get("enabled", True)) and not (name == "quality" and not section.get("model"))

    on = [k for k, v in cfg.items() if isinstance(v, dict) and is_on(k, v)]
    off = [k for k, v in cfg.items() if isinstance(v, dict) and not is_on(k, v)]
    text = f"\n\nRules on: {', '.join(on)}." if on else ""
    return text + (f" Off: {', '.join(off)}." if off else "")


def render_card(data: ReportData) -> str | None:
    """The card's text, or None when the run has no shards (nothing to describe)."""
    manifest = data.manifest
    if not isinstance(manifest, dict):
        return None
    meta = front_matter(data, manifest)
    tok = manifest.get("tokenizer") or {}
    totals = manifest.get("totals") or {}
    train, val = totals.get("train") or {}, totals.get("val") or {}
    dtype = manifest.get("dtype", "uint16")
    out = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", ""]
    out += [
        f"# {meta['pretty_name']}", "",
        f"Tokenized pretraining data made by curate from run `{run_name(data.run)}`: "
        f"{fmt_int(train.get('tokens'))} train tokens in {_docs(train.get('rows'))} and "
        f"{fmt_int(val.get('tokens'))} validation tokens in {_docs(val.get('rows'))}, encoded "
        f"with a SentencePiece BPE tokenizer of {fmt_int(tok.get('vocab_size'))} tokens.", "",
        "## License", "",
        "The shards are derived from the sources listed below and carry their licenses and terms of use; "
        "curate adds none and grants none. Check each source's license (and, for web crawls, the rights "
        "of the original pages) before redistributing or training on this data. The metadata says "
        "`license: other` for that reason.", "",
        "## Contents", "",
        _md_table(["column", "type", "meaning"], [
            ["id", "string", "document id (stable hash of where the document came from)"],
            ["source", "string", "dataset name, the mixture key"],
            ["input_ids", f"list<{dtype}>", "token ids; every document ends with <eos>"
             + (" and starts with <bos>" if tok.get("add_bos") else "")],
            ["num_tokens", "int32", "length of input_ids"],
        ]), "",
        _md_table(["split", "files", "rows", "tokens"], [
            [SPLITS[p], sum(1 for s in manifest.get("shards") or [] if s.get("split") == p),
             fmt_int((totals.get(p) or {}).get("rows")), fmt_int((totals.get(p) or {}).get("tokens"))]
            for p in SPLITS]), "",
        f"Special tokens: pad={tok.get('pad_id')}, unk={tok.get('unk_id')}, bos={tok.get('bos_id')}, "
        f"eos={tok.get('eos_id')}. Tokenizer fingerprint `{tok.get('fingerprint')}` "
        "(the tokenizer itself is in `../tokenizer/`). `manifest.json` lists every shard with its rows, "
        "tokens and sha256; readers should use only the shards it lists.", "",
        "```python",
        "import datasets",
        "ds = datasets.load_dataset(\"path/to/RUN/shards\")  # train and validation splits, from this card",
        "```", "",
        "## Sources", "", _sources_section(data), "",
        "## How the shards were made", "",
    ]
    scans = {s.stage: s for s in data.doc_scans()}
    for stage, title in ((s, STAGE_TITLES[s]) for s in DOC_STAGES):
        out += [f"### {title}", ""]
        info = data.stages.get(stage)
        if info is None and stage == "decontaminate":  # opt-in stage: no section when it did not run
            continue
        out += [f"### {title}", ""]
        if info is None:
            out += ["Not run.", ""]
            continue
        text = _rejections(data, stage)
        scan = scans.get(stage)
        if isinstance(scan, StageScan):
            text += f"\n\nKept {fmt_int(scan.rows)} documents, {fmt_bytes(scan.bytes, scan.exact)} of text."
        if stage == "ingest":
            text += _config_line(info, "ingest")
        elif stage == "filter":
            text += _rules_line(info)
        else:
            text += _config_line(info, stage)
        if stage == "dedup" and isinstance(data.dedup_scan(), StageScan):
            sizes = data.dedup_scan().cluster_sizes or {}  # type: ignore[union-attr]
            clusters = sum(v for k, v in sizes.items() if int(k) > 1)
            text += f"\n\n{fmt_int(clusters)} duplicate clusters of two or more documents kept one document each."
        out += [text, ""]
    out += ["### Tokenizer", ""]
    card = data.tokenizer_card
    if isinstance(card, dict):
        out += [f"SentencePiece BPE, vocabulary {fmt_int(card.get('vocab_size'))}, fingerprint "
                f"`{card.get('fingerprint')}`." + _config_line(data.stages.get("tokenizer"), "tokenizer"), ""]
    else:
        out += [f"Tokenizer card not found ({card.reason}).", ""]
    ev = data.tokenizer_eval
    if isinstance(ev, dict) and ev.get("by_source"):
        out += ["Bytes per token on held-out documents:", "",
                _md_table(["source", "bytes / token"],
                          [[k, f"{v['bytes_per_token']:.3f}"] for k, v in sorted(ev["by_source"].items())]), ""]
    out += ["### Mixture and token counts", ""]
    rows = mixture_rows(data)
    weights = (manifest.get("mixture") or {}).get("weights") if isinstance(manifest.get("mixture"), dict) else None
    if isinstance(rows, Missing):
        out += [rows.reason, ""]
    else:
        out += ["Mixture weights: " + (", ".join(f"{k} {v:g}" for k, v in weights.items()) if weights
                                      else "none (every document once, natural proportions)") + ".", ""]
        out += [_md_table(["source", "rows", "train tokens", "target share", "reached share"], [
            [r["source"], fmt_int(r["rows"]), fmt_int(r["tokens"]),
             "natural" if r["target_fraction"] is None else f"{100 * r['target_fraction']:.1f}%",
             f"{100 * r['fraction']:.1f}%"] for r in rows]), ""]
    langs = data.language_scans()
    if langs:
        latest = langs[-1]
        lang_counts = latest.languages or {}
        total = sum(n for n, _ in lang_counts.values()) or 1
        top = sorted(lang_counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[:15]
        out += ["## Languages", "", f"Documents after {latest.stage} by fastText language label "
                f"(`{latest.language_column}`):", "",
                _md_table(["language", "documents", "share"],
                          [[k, fmt_int(n * latest.scale, latest.exact), fmt_pct(n, total)] for k, (n, _) in top]), ""]
    fps = [[s, f"`{info.get('fingerprint')}`"] for s, info in data.stages.items() if info and info.get("fingerprint")]
    if fps:
        out += ["## Reproducibility", "", "Stage fingerprints (configuration and inputs) of this run; the "
                "full report is `../report/index.html`.", "", _md_table(["stage", "fingerprint"], fps), ""]
    return "\n".join(out)


__all__ = ["front_matter", "render_card", "size_category"]
