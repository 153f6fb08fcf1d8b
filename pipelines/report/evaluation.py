"""The report's "Decontamination and evaluation" section: what the decontaminate stage removed per eval
set (RUN/decontaminate/_SUCCESS) and the bits per byte of the model on each eval set (RUN/eval/results.json
from `curate eval`, and the `eval_bpb` logged during training)."""

from __future__ import annotations

from typing import Any

from pipelines.report.formatting import fmt_int
from pipelines.report.html import Section, note, table


def section_evaluation(data: Any) -> Section:
    body = ""
    decontam = data.stages.get("decontaminate")
    if decontam is not None:
        by_set = decontam.get("by_eval_set") or {}
        index = decontam.get("index") or {}
        rows = []
        for name, st in sorted((index.get("sets") or {}).items()):
            c = by_set.get(name, {})
            rows.append((name, fmt_int(st.get("items")), fmt_int(st.get("too_short")), fmt_int(st.get("ngrams")),
                         fmt_int(c.get("documents", 0)), fmt_int(c.get("dropped_docs", 0)),
                         fmt_int(c.get("removed_spans", 0))))
        mode = (decontam.get("config") or {}).get("decontaminate", {}).get("mode", "?")
        body += table(["eval set", "items", "too short to match", "n-grams", "documents touched",
                       "documents dropped", "spans removed"], rows,
                      caption=f"Decontamination ({mode} mode); every span and document in rejected/decontaminate/")
    results = data.eval_results
    if results is not None:
        rows = [(name, f"{r['bits_per_byte']:.4f}", f"{r['nats_per_token']:.4f}", fmt_int(r["items"]),
                 fmt_int(r["bytes"]), fmt_int(r["tokens"])) for name, r in sorted(results["sets"].items())]
        body += table(["eval set", "bits per byte", "nats per token", "items", "bytes", "tokens"], rows,
                      caption=f"curate eval: checkpoint of step {results.get('step')}")
    metrics = data.train_metrics if isinstance(data.train_metrics, list) else []
    logged = [m for m in metrics if isinstance(m.get("eval_bpb"), dict)]
    if logged:
        names = sorted({k for m in logged for k in m["eval_bpb"]})
        rows = [(m["step"], *(f"{m['eval_bpb'].get(n, float('nan')):.4f}" for n in names)) for m in logged]
        body += table(["step", *(f"{n} bpb" for n in names)], rows, caption="During training (train.eval_sets)")
    if not body:
        body = note("No decontaminate stage, `curate eval` or train.eval_sets in this run.")
    return Section("evaluation", "Decontamination and evaluation", body,
                   "Eval sets kept out of the data, and the model's bits per byte on them (lower is better).")
