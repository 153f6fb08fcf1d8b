"""The report page: one section per view of the run, each a figure embedded as a base64 PNG with a table
of its numbers underneath. Reads only `ReportData` (data.py); draws with figures.py, writes HTML with html.py.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FuncFormatter

from filters.document import reason_family
from pipelines.report.data import (
    Missing,
    ReportData,
    length_quantiles,
    log_bins,
    loss_rows,
    mixture_rows,
    rejection_denominator,
    top_domains,
)
from pipelines.report.figures import COLORS, MAX_BARS, PALETTE, figure, hbars, img, si, top_n
from pipelines.report.formatting import fmt_bytes, fmt_float, fmt_int, fmt_pct
from pipelines.report.html import Section, not_run, note, render_sections, sample_note, table


def section_stages(data: ReportData) -> Section:
    rows = []
    for stage, info in data.stages.items():
        if info is None:
            rows.append((stage, "not run", "—", "—", "—", "—", "—"))
            continue
        counts = info.get("counts") or {}
        elapsed = info.get("elapsed_s")
        rows.append((
            stage, "done", fmt_int(counts.get("in")), fmt_int(counts.get("out")),
            fmt_int(counts.get("rejected")), f"{elapsed:,.1f} s" if isinstance(elapsed, int | float) else "—",
            str(info.get("fingerprint", "—")),
        ))
    body = table(["stage", "status", "in", "out", "rejected", "time", "fingerprint"], rows,
                 numeric=[False, False, True, True, True, True, False])
    if data.errors:
        body += "".join(note(f"{k}: {v}") for k, v in data.errors.items())
    return Section("stages", "Stages", body, "What ran, from each stage's _SUCCESS.")


def section_funnel(data: ReportData) -> Section:
    rows = [r for r in data.funnel if r.documents is not None]
    if not rows:
        return Section("funnel", "Funnel", not_run(Missing("no stage has run")))
    fig, axes = figure(9, 3.2, ncols=2)
    labels = [r.stage for r in rows]
    colors = [COLORS.get(r.stage, PALETTE[0]) for r in rows]
    first_docs = rows[0].documents or 1
    ax = axes[0, 0]
    ax.bar(labels, [r.documents for r in rows], color=colors)
    for i, r in enumerate(rows):
        ax.text(i, r.documents, f"{100 * r.documents / first_docs:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.set_title("documents", fontsize=10)
    ax.yaxis.set_major_formatter(FuncFormatter(si))
    brows = [r for r in rows if r.bytes is not None]
    ax = axes[0, 1]
    if brows:
        first_bytes = brows[0].bytes or 1
        ax.bar([r.stage for r in brows], [r.bytes for r in brows],
               color=[COLORS.get(r.stage, PALETTE[0]) for r in brows])
        for i, r in enumerate(brows):
            ax.text(i, r.bytes, f"{100 * r.bytes / first_bytes:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.set_title("text bytes (UTF-8)", fontsize=10)
    ax.yaxis.set_major_formatter(FuncFormatter(si))
    for a in axes.flat:
        a.tick_params(axis="x", labelsize=8)
        a.grid(axis="x", visible=False)
    trows = []
    prev_docs = prev_bytes = None
    for r in rows:
        trows.append((
            r.stage, fmt_int(r.documents, r.exact), fmt_pct(r.documents, prev_docs),
            fmt_pct(r.documents, first_docs), fmt_bytes(r.bytes, r.exact),
            fmt_pct(r.bytes, prev_bytes) if r.bytes is not None else "—",
            fmt_int(r.tokens), r.note,
        ))
        prev_docs = r.documents
        prev_bytes = r.bytes if r.bytes is not None else prev_bytes
    body = img(fig, "documents and bytes kept after each stage") + table(
        ["stage", "documents", "% of previous", "% of input", "bytes", "% of previous bytes", "tokens", "note"],
        trows, numeric=[False, True, True, True, True, True, True, False])
    body += _by_dataset(data)
    return Section("funnel", "Funnel", body + sample_note(data.doc_scans()),
                   "Documents and UTF-8 text bytes kept after each stage.")


def _by_dataset(data: ReportData) -> str:
    scans = data.doc_scans()
    datasets = sorted({d for s in scans for d in s.by_dataset})
    if not scans or not datasets:
        return ""
    fig, axes = figure(9, 0.9 + 0.45 * len(datasets) * 1.0 + 0.4, ncols=2)
    y = np.arange(len(datasets))
    h = 0.8 / len(scans)
    for j, s in enumerate(scans):
        docs = [s.by_dataset.get(d, (0, 0))[0] * s.scale for d in datasets]
        nbytes = [s.by_dataset.get(d, (0, 0))[1] * s.scale for d in datasets]
        axes[0, 0].barh(y + j * h, docs, h, label=s.stage, color=COLORS.get(s.stage, PALETTE[j]))
        axes[0, 1].barh(y + j * h, nbytes, h, label=s.stage, color=COLORS.get(s.stage, PALETTE[j]))
    for ax, title in zip(axes.flat, ("documents by source", "bytes by source"), strict=True):
        ax.set_yticks(y + h * (len(scans) - 1) / 2, labels=datasets, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(FuncFormatter(si))
    axes[0, 1].legend(fontsize=8, loc="lower right")
    headers = ["source"] + [f"{s.stage} docs" for s in scans] + [f"{s.stage} bytes" for s in scans]
    rows = []
    for d in datasets:
        rows.append([d]
                    + [fmt_int(s.by_dataset.get(d, (0, 0))[0] * s.scale, s.exact) for s in scans]
                    + [fmt_bytes(s.by_dataset.get(d, (0, 0))[1] * s.scale, s.exact) for s in scans])
    return "<h3>By source</h3>" + img(fig, "documents and bytes per source after each stage") + table(headers, rows)


def section_rejections(data: ReportData) -> Section:
    stages = [(s, r) for s, r in data.rejections.items() if r]
    ran = [s for s in data.rejections]
    if not ran:
        return Section("rejections", "Rejection reasons", not_run(Missing("no stage has run")))
    body = ""
    if stages:
        sizes = [len(top_n(list(r.items()))) for _, r in stages]
        fig, axes = figure(8, 0.6 * len(stages) + 0.24 * sum(sizes) + 0.3, nrows=len(stages),
                           gridspec_kw={"height_ratios": [max(n, 1) + 1.5 for n in sizes]})
        for i, (stage, reasons) in enumerate(stages):
            items = top_n(list(reasons.items()))
            ax = axes[i, 0]
            hbars(ax, [k for k, _ in items], [v for _, v in items], COLORS.get(stage, PALETTE[i]))
            ax.set_title(f"{stage}: {sum(reasons.values()):,} rejected", fontsize=10, loc="left")
        body += img(fig, "rejected documents per reason and stage")
    rows = []
    for stage in ran:
        reasons = data.rejections[stage]
        den = rejection_denominator(data, stage)
        if not reasons:
            rows.append((stage, "(nothing rejected)", "", "0", "0.0%"))
        for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append((stage, reason, reason_family(reason), fmt_int(n), fmt_pct(n, den)))
    body += table(["stage", "reason", "rule", "documents", "% of stage input"], rows,
                  numeric=[False, False, False, True, True])
    return Section("rejections", "Rejection reasons", body,
                   "Every named reason with its count, from each stage's _SUCCESS; the dropped records "
                   "themselves are in RUN/rejected/<stage>/.")


def section_languages(data: ReportData) -> Section:
    scans = data.language_scans()
    if not scans:
        filt = data.scans.get("filter")
        missing = filt if isinstance(filt, Missing) else Missing("no language column (lang) in the documents")
        return Section("languages", "Languages", not_run(missing))
    first, latest = scans[0], scans[-1]
    rej = data.rejected_languages.get(first.stage)
    # documents per language and series: what the first language stage saw (kept + rejected), then kept
    series: list[tuple[str, dict[str, float], bool]] = []
    if rej is not None:
        seen = {k: n * first.scale for k, (n, _) in (first.languages or {}).items()}
        for k, n in rej.counts.items():
            seen[k] = seen.get(k, 0) + n * rej.scale
        series.append((f"{first.stage} input", seen, first.exact and rej.exact))
        series.append((f"rejected by {first.stage}", {k: n * rej.scale for k, n in rej.counts.items()}, rej.exact))
    for s in scans:
        series.append((f"{s.stage} kept", {k: n * s.scale for k, (n, _) in (s.languages or {}).items()}, s.exact))
    order = sorted({k for _, d, _ in series for k in d}, key=lambda k: (-series[0][1].get(k, 0), k))
    shown = order if len(order) <= MAX_BARS else order[: MAX_BARS - 1]
    rest = order[len(shown):]
    labels = shown + ([f"other ({len(rest)})"] if rest else [])

    def values(d: dict[str, float]) -> list[float]:
        return [d.get(k, 0) for k in shown] + ([sum(d.get(k, 0) for k in rest)] if rest else [])

    fig, axes = figure(9, 0.7 + 0.22 * len(labels) * max(1, len(series)) ** 0.5 + 0.5, ncols=2)
    ax = axes[0, 0]
    y = np.arange(len(labels))
    h = 0.8 / len(series)
    colors = {f"{first.stage} input": PALETTE[7], f"rejected by {first.stage}": PALETTE[3]}
    for j, (name, d, _exact) in enumerate(series):
        ax.barh(y + j * h, values(d), h, label=name,
                color=colors.get(name, COLORS.get(name.split()[0], PALETTE[j])))
    ax.set_yticks(y + h * (len(series) - 1) / 2, labels=labels, fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(FuncFormatter(si))
    ax.set_title("documents by language", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    langs = latest.languages or {}
    b_items = top_n([(k, b * latest.scale) for k, (_, b) in langs.items()])
    hbars(axes[0, 1], [k for k, _ in b_items], [v for _, v in b_items], PALETTE[1], fmt=fmt_bytes)
    axes[0, 1].set_title(f"bytes by language ({latest.stage} kept)", fontsize=10)
    total_docs = sum(n for n, _ in langs.values()) or 1
    total_bytes = sum(b for _, b in langs.values()) or 1
    headers = ["language"] + [name for name, _, _ in series] + [
        f"{latest.stage} docs %", f"{latest.stage} bytes", f"{latest.stage} bytes %"]
    rows = []
    for lang in order:
        n, b = langs.get(lang, (0, 0))
        rows.append([lang] + [fmt_int(d.get(lang, 0), exact) for _, d, exact in series]
                    + [fmt_pct(n, total_docs), fmt_bytes(b * latest.scale, latest.exact), fmt_pct(b, total_bytes)])
    body = img(fig, "language distribution") + table(headers, rows) + sample_note(scans)
    if rej is None and data.rejections.get(first.stage):
        body += note("The rejected records carry no language column, so only kept documents are counted.")
    return Section("languages", "Languages", body,
                   f"fastText language label (column {latest.language_column}) of the documents the "
                   f"{first.stage} stage saw, of those it rejected, and of those kept after each stage; "
                   "'unknown': no label (documents dropped before language ID, or LID off).")


def section_lengths(data: ReportData) -> Section:
    scans = [s for s in data.doc_scans() if len(s.lengths)]
    if not scans:
        return Section("lengths", "Document lengths", not_run(Missing("no documents stage has run")))
    bins = log_bins([s.lengths for s in scans])
    fig, axes = figure(8, 3.4)
    ax = axes[0, 0]
    counts = {}
    for s in scans:
        c, _ = np.histogram(np.maximum(s.lengths, 1), bins=bins)
        counts[s.stage] = c
        ax.stairs(c, bins, label=f"{s.stage} ({len(s.lengths):,} docs)", color=COLORS.get(s.stage),
                  linewidth=1.8, fill=s is scans[0], alpha=0.35 if s is scans[0] else 1.0)
    ax.set_xscale("log")
    ax.set_xlabel("document length (UTF-8 bytes, log scale)", fontsize=9)
    ax.set_ylabel("documents", fontsize=9)
    ax.xaxis.set_major_formatter(FuncFormatter(si))
    ax.yaxis.set_major_formatter(FuncFormatter(si))
    ax.legend(fontsize=8)
    qrows = []
    for s in scans:
        q = length_quantiles(s.lengths)
        qrows.append([s.stage, fmt_int(len(s.lengths)), *(fmt_bytes(q[k]) for k in
                                                           ("mean", "p10", "p50", "p90", "p99", "max"))])
    body = img(fig, "document length histograms before and after filtering") + table(
        ["stage", "documents measured", "mean", "p10", "median", "p90", "p99", "max"], qrows)
    nonzero = [i for i in range(len(bins) - 1) if any(c[i] for c in counts.values())]
    if nonzero:
        lo, hi = nonzero[0], nonzero[-1]
        hrows = [[f"{fmt_bytes(bins[i])} – {fmt_bytes(bins[i + 1])}"] + [fmt_int(counts[s.stage][i]) for s in scans]
                 for i in range(lo, hi + 1)]
        body += "<details><summary>Histogram bins</summary>" + table(
            ["length"] + [s.stage for s in scans], hrows) + "</details>"
    sampled = [s for s in scans if len(s.lengths) < s.rows]
    if sampled:
        body += note("Histograms use at most " + f"{data.sample_rows:,} documents per stage (" + ", ".join(
            f"{s.stage}: {len(s.lengths):,} of {s.rows:,}" for s in sampled) + ").")
    return Section("lengths", "Document lengths", body,
                   "UTF-8 bytes per document before filtering (ingest) and after (filter, dedup).")


def section_duplicates(data: ReportData) -> Section:
    scan = data.dedup_scan()
    if isinstance(scan, Missing):
        return Section("duplicates", "Duplicate clusters", not_run(scan))
    sizes = scan.cluster_sizes or {}
    dup = {int(k): v for k, v in sizes.items() if int(k) > 1}
    removed = data.rejections.get("dedup", {})
    body = ""
    if dup:
        fig, axes = figure(8, 3.0)
        ax = axes[0, 0]
        ks = sorted(dup)
        if len(ks) <= 20:
            labels, values = [str(k) for k in ks], [dup[k] for k in ks]
        else:  # bucket by powers of two
            buckets: dict[str, int] = {}
            for k in ks:
                lo = 1 << (k.bit_length() - 1)
                key = f"{lo}–{2 * lo - 1}" if lo > 1 else "1"
                buckets[key] = buckets.get(key, 0) + dup[k]
            labels, values = list(buckets), list(buckets.values())
        x = np.arange(len(labels))
        ax.bar(x, [v * scan.scale for v in values], 0.7, color=COLORS["dedup"])
        ax.set_xticks(x, labels=labels)
        ax.set_xlim(-0.6, max(len(labels), 8) - 0.4)
        if max(values) * scan.scale >= 100:
            ax.set_yscale("log")
        else:
            ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("cluster size (documents)", fontsize=9)
        ax.set_ylabel("clusters", fontsize=9)
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", labelsize=8, rotation=45 if len(labels) > 12 else 0)
        body += img(fig, "duplicate cluster sizes")
    else:
        body += note("No duplicate clusters: every kept document is unique.")
    rows = [(str(k), fmt_int(v * scan.scale, scan.exact), fmt_int(int(k) * v * scan.scale, scan.exact))
            for k, v in sorted(sizes.items(), key=lambda kv: int(kv[0]))]
    body += table(["cluster size", "clusters", "documents before dedup"], rows)
    if removed:
        den = rejection_denominator(data, "dedup")
        body += table(["removed as", "documents", "% of dedup input"],
                      [(k, fmt_int(v), fmt_pct(v, den)) for k, v in sorted(removed.items())])
    body += sample_note([scan])
    return Section("duplicates", "Duplicate clusters", body,
                   "Size of each duplicate cluster (the kept document's dup_count; size 1: unique).")


def section_domains(data: ReportData) -> Section:
    top = top_domains(data)
    if isinstance(top, Missing):
        return Section("domains", "Top domains", not_run(top))
    scans = [s for s in data.doc_scans() if s.domains is not None]
    first, latest = scans[0], scans[-1]
    fig, axes = figure(8, 0.6 + 0.27 * len(top))
    ax = axes[0, 0]
    y = np.arange(len(top))
    if latest is not first:
        ax.barh(y, [b or 0 for _, b, _ in top], 0.8, color=COLORS.get(first.stage), alpha=0.5,
                label=f"{first.stage}")
    ax.barh(y, [k for _, _, k in top], 0.5, color=COLORS.get(latest.stage), label=f"{latest.stage}")
    ax.set_yticks(y, labels=[d for d, _, _ in top], fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("documents", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    rows = [(d, fmt_int(b, first.exact), fmt_int(k, latest.exact), fmt_pct(k, b)) for d, b, k in top]
    body = img(fig, "top domains") + table(
        ["domain", f"{first.stage} docs", f"{latest.stage} docs", "kept"], rows)
    distinct = len(latest.domains or {})
    body += note(f"{distinct:,} distinct domains among {latest.urls:,} documents with a URL "
                 f"in the {latest.stage} stage.") + sample_note(scans)
    return Section("domains", "Top domains", body,
                   f"Domains with the most documents after {latest.stage}, from the url column.")


def section_mixture(data: ReportData) -> Section:
    rows = mixture_rows(data)
    if isinstance(rows, Missing):
        return Section("mixture", "Tokens per source", not_run(rows))
    fig, axes = figure(8, 0.8 + 0.5 * len(rows) + 0.4)
    ax = axes[0, 0]
    y = np.arange(len(rows))
    unit = rows[0]["natural_unit"]
    series = [(f"natural ({unit})", "natural_fraction", PALETTE[7]), ("target", "target_fraction", PALETTE[1]),
              ("reached (tokens)", "fraction", PALETTE[0])]
    series = [s for s in series if any(r[s[1]] is not None for r in rows)]
    h = 0.8 / len(series)
    for j, (label, key, color) in enumerate(series):
        vals = [100 * (r[key] or 0) for r in rows]
        ax.barh(y + j * h, vals, h, label=label, color=color)
        for yi, v, r in zip(y, vals, rows, strict=True):
            if r[key] is not None:
                ax.text(v + 0.5, yi + j * h, f"{v:.1f}%", va="center", fontsize=7)
    ax.set_yticks(y + h * (len(series) - 1) / 2, labels=[r["source"] for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("share of train tokens (%)", fontsize=9)
    ax.set_xlim(0, 115)
    ax.grid(axis="y", visible=False)
    ax.legend(fontsize=8, loc="lower right")
    trows = [(r["source"], fmt_int(r["rows"]), fmt_int(r["tokens"]),
              "—" if r["natural_fraction"] is None else f"{100 * r['natural_fraction']:.1f}%",
              "—" if r["target_fraction"] is None else f"{100 * r['target_fraction']:.1f}%",
              f"{100 * r['fraction']:.1f}%",
              "—" if r["target_fraction"] is None else f"{100 * (r['fraction'] - r['target_fraction']):+.2f} pt")
             for r in rows]
    body = img(fig, "tokens per source against the mixture target") + table(
        ["source", "rows", "tokens", f"natural share ({unit})", "target", "reached", "reached − target"], trows)
    manifest = data.manifest if isinstance(data.manifest, dict) else {}
    totals = manifest.get("totals") or {}
    shards = manifest.get("shards") or []
    split_rows = []
    for split in ("train", "val"):
        t = totals.get(split) or {}
        split_rows.append((split, str(sum(1 for s in shards if s.get("split") == split)),
                           fmt_int(t.get("rows")), fmt_int(t.get("tokens"))))
    body += table(["split", "shards", "rows", "tokens"], split_rows)
    if not (totals.get("val") or {}).get("tokens"):
        body += note("The val split is empty: no validation loss can be measured on these shards "
                     "(raise tokenize.val_fraction).")
    mixture = manifest.get("mixture") if isinstance(manifest.get("mixture"), dict) else {}
    if "weights" in mixture:
        weights = mixture.get("weights")
        body += note("Mixture weights: " + (", ".join(f"{k} {v:g}" for k, v in weights.items()) if weights
                                            else "none, every document once (natural proportions)") + ".")
    return Section("mixture", "Tokens per source", body,
                   "Train tokens per source in the shards (manifest by_source) against the mixture target.")


def section_tokenizer(data: ReportData) -> Section:
    body = ""
    card = data.tokenizer_card
    if isinstance(card, dict):
        facts = [("vocab size", fmt_int(card.get("vocab_size"))), ("fingerprint", str(card.get("fingerprint", "—")))]
        special = card.get("special") if isinstance(card.get("special"), dict) else card
        for key in ("pad_id", "unk_id", "bos_id", "eos_id"):
            if key in special:
                facts.append((key, str(special[key])))
        if isinstance(card.get("model_type"), str):
            facts.append(("model", f"SentencePiece {card['model_type']}"
                          + (", byte fallback" if card.get("byte_fallback") else "")))
        body += table(["tokenizer", ""], facts, numeric=[False, False])
        sample = card.get("sample") or card.get("sample_by_source") or card.get("training_sample")
        if isinstance(sample, dict):
            by = sample.get("by_source") or sample.get("by_dataset") or sample
            srows = [(k, fmt_bytes(v.get("bytes")) if isinstance(v, dict) else fmt_bytes(v),
                      fmt_int(v.get("documents", v.get("docs"))) if isinstance(v, dict) else "—")
                     for k, v in sorted(by.items()) if isinstance(v, dict | int | float)]
            if srows:
                body += table(["training sample source", "bytes", "documents"], srows)
    else:
        body += not_run(card)
    ev = data.tokenizer_eval
    if isinstance(ev, Missing):
        body += not_run(ev)
        return Section("tokenizer", "Tokenizer: bytes per token", body)
    blocks = [(name, ev[name]) for name in ("by_source", "by_language") if ev.get(name)]
    if not blocks:
        body += note(f"RUN/{ev['file']} has no bytes per token (no held-out document was encoded).")
        return Section("tokenizer", "Tokenizer: bytes per token", body)
    fig, axes = figure(9, 0.8 + 0.28 * max(min(len(b), MAX_BARS) for _, b in blocks) + 0.4, ncols=len(blocks))
    for i, (name, block) in enumerate(blocks):
        items = sorted(block.items(), key=lambda kv: (-kv[1]["bytes_per_token"], kv[0]))[:MAX_BARS]
        hbars(axes[0, i], [k for k, _ in items], [v["bytes_per_token"] for _, v in items], PALETTE[i],
               fmt=lambda v: f"{v:.2f}")
        axes[0, i].set_title(f"bytes per token {name.replace('_', ' ')}", fontsize=10)
        axes[0, i].xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:g}"))
    body += img(fig, "tokenizer bytes per token by source")
    for name, block in blocks:
        rows = [(k, fmt_int(v.get("documents", v.get("docs"))), fmt_bytes(v.get("bytes")), fmt_int(v.get("tokens")),
                 f"{v['bytes_per_token']:.3f}") for k, v in sorted(block.items())]
        body += table([name.replace("by_", ""), "documents", "bytes", "tokens", "bytes / token"], rows)
    if ev.get("overall"):
        body += note(f"Overall: {ev['overall']['bytes_per_token']:.3f} bytes per token on held-out documents.")
    return Section("tokenizer", "Tokenizer: bytes per token", body,
                   "Compression of the tokenizer on held-out documents (higher is better), from "
                   f"RUN/{ev['file']}.")


def section_training(data: ReportData) -> Section:
    metrics = data.train_metrics
    if isinstance(metrics, Missing):
        return Section("training", "Training", not_run(metrics))
    train, val = loss_rows(metrics)
    lr = [r for r in metrics if isinstance(r.get("lr"), int | float)]
    fig, axes = figure(9, 3.2, ncols=2 if lr else 1)
    ax = axes[0, 0]
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], color=PALETTE[0], linewidth=1.2,
                label="train loss")
    if val:
        ax.plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", color=PALETTE[1], linewidth=1.5,
                markersize=4, label="validation loss")
    summary = data.stages.get("train") or {}
    entropy = summary.get("unigram_entropy")
    if isinstance(entropy, int | float):  # the loss of a model that ignores context
        ax.axhline(entropy, linestyle="--", color=PALETTE[7], linewidth=1, label="unigram entropy")
    ax.set_xlabel("step", fontsize=9)
    ax.set_ylabel("cross-entropy (nats / token)", fontsize=9)
    ax.legend(fontsize=8)
    if lr:
        ax2 = axes[0, 1]
        ax2.plot([r["step"] for r in lr], [r["lr"] for r in lr], color=PALETTE[2], linewidth=1.2)
        ax2.set_xlabel("step", fontsize=9)
        ax2.set_title("learning rate", fontsize=10)
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    body = img(fig, "training and validation loss curves")
    if val:
        body += table(["step", "validation loss", "train loss (nearest logged step)"], [
            (fmt_int(r["step"]), fmt_float(r["val_loss"]),
             fmt_float(min(train, key=lambda t, s=r["step"]: abs(t["step"] - s))["loss"]) if train else "—")
            for r in val])
    if train:
        picks = sorted({round(i) for i in np.linspace(0, len(train) - 1, min(len(train), 12))})
        body += "<details><summary>Logged train steps</summary>" + table(
            ["step", "loss", "learning rate", "tokens / s"],
            [(fmt_int(train[i]["step"]), fmt_float(train[i]["loss"]),
              f"{train[i]['lr']:.2e}" if isinstance(train[i].get("lr"), int | float) else "—",
              fmt_int(train[i].get("tokens_per_s"))) for i in picks]) + "</details>"
        last = train[-1]
        info = data.train_info
        model = (info.get("train") or {}).get("model") or {}
        facts = [
            ("parameters", fmt_int(info.get("params"))),
            ("model", ", ".join(f"{k}={model[k]}" for k in ("d_model", "n_layers", "n_heads", "seq_len")
                                if k in model) or "—"),
            ("device", f"{info.get('device', '—')} × {info.get('world_size', 1)}"),
            ("tokens per step", fmt_int(info.get("tokens_per_step"))),
            ("train / val tokens in the shards", f"{fmt_int(info.get('train_tokens'))} / "
                                                 f"{fmt_int(info.get('val_tokens'))}"),
            ("steps logged", f"{len(train):,} (last step {last['step']:,})"),
            ("tokens seen", fmt_int(last.get("tokens"))),
            ("tokens / s (last interval)", fmt_int(last.get("tokens_per_s"))),
        ]
        if isinstance(entropy, int | float):
            facts.append(("unigram entropy of the train tokens", f"{entropy:.3f} nats / token"))
        if isinstance(last.get("mfu"), int | float):
            facts.append(("model FLOPs utilization", f"{100 * last['mfu']:.1f}%"))
        body += table(["run", ""], [f for f in facts if f[1] not in ("—", "— / —")], numeric=[False, False])
        body += note(f"Last logged step {last['step']:,}: train loss {fmt_float(last['loss'])}"
                     + (f", validation loss {fmt_float(val[-1]['val_loss'])} at step {val[-1]['step']:,}" if val
                        else "") + ".")
    return Section("training", "Training", body, "Loss per step from RUN/train/metrics.jsonl.")


SECTIONS = (section_stages, section_funnel, section_rejections, section_languages, section_lengths,
            section_duplicates, section_domains, section_mixture, section_tokenizer, section_training)


def render_page(data: ReportData) -> str:
    return render_sections(data.run, [fn(data) for fn in SECTIONS])


__all__ = ["SECTIONS", "render_page"]
