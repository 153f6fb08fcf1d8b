"""`curate ablate ABLATION.yaml [--out DIR]`: decide a recipe by training small models on each variant.

The method of FineWeb and DCLM: every variant of the data recipe is tokenized and trained for the same
number of training tokens, with K seeds, and scored in bits per byte on the same held-out eval sets
(continuous metrics rank recipes at small scale far better than accuracy: DataDecide, Magnusson et al. 2025).

    base: demo.yaml                  # the job file every variant starts from (relative to this file)
    name: recipe                     # the base variant's name (default: base)
    seeds: [0, 1, 2]                 # train.seed of each run
    train_tokens: 300000             # every run trains max_steps = ceil(train_tokens / tokens per step)
    eval_sets: {bbc: {path: bbc.jsonl}}   # merged into every variant's `eval_sets` (paths relative to this file)
    set: {train.model.d_model: 64}   # overrides for every variant, the base included (dotted keys)
    variants:                        # name -> overrides of the base job (dotted keys, as --set)
      raw: {stages: [ingest, tokenizer, tokenize, train]}
      no_word_cap: {filter.gopher_quality.max_words: null}

Layout: OUT/<variant>/seed-<k>/ is an ordinary run folder. A stage whose fingerprint (its config and
everything upstream; `pipelines.job.stage_fingerprints`) equals a stage another run of the ablation already
committed is linked to it instead of rerun, so ingest runs once for all variants and each variant's data
stages run once for all its seeds. Rerunning the command skips every finished run. The result:
OUT/ablation.json, a table printed and in OUT/index.html (variant x eval set: mean and spread over seeds,
difference to the base with its sign, and a plot).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipelines.config import JobConfig, load_config
from pipelines.configlib import ConfigError, read_yaml
from pipelines.runlayout import SUCCESS, RunLayout, write_json_atomic

NEEDS_RUN = False
RESULT = "ablation.json"


@dataclass(frozen=True)
class Ablation:
    base: Path
    base_name: str
    seeds: list[int]
    train_tokens: int | None
    eval_sets: dict[str, Any]
    common: dict[str, Any]
    variants: dict[str, dict[str, Any]]  # the base first, with no overrides


def load_ablation(path: str | os.PathLike[str]) -> Ablation:
    data = read_yaml(str(path))
    here = Path(path).resolve().parent
    known = {"base", "name", "seeds", "train_tokens", "eval_sets", "set", "variants"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    if not data.get("base"):
        raise ConfigError(f"{path}: base: the job file the variants start from is required")
    base = (here / data["base"]).resolve()
    if not base.is_file():
        raise ConfigError(f"{path}: base: {base} does not exist")
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{path}: seeds: a non-empty list of integers")
    tokens = data.get("train_tokens")
    if tokens is not None and (not isinstance(tokens, int) or tokens < 1):
        raise ConfigError(f"{path}: train_tokens: a positive integer or null")
    eval_sets = dict(data.get("eval_sets") or {})
    for name, spec in eval_sets.items():
        if not isinstance(spec, dict) or "path" not in spec:
            raise ConfigError(f"{path}: eval_sets.{name}: a mapping with a path")
        if not os.path.isabs(spec["path"]):
            eval_sets[name] = {**spec, "path": str(here / spec["path"])}
    variants = data.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(v, dict) or v is None for v in variants.values()):
        raise ConfigError(f"{path}: variants: a mapping of name -> overrides")
    name = str(data.get("name") or "base")
    if name in variants:
        raise ConfigError(f"{path}: variants: {name!r} is the base's name")
    for v in [name, *variants]:
        if not v.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{path}: variant name {v!r}: letters, digits, - and _ only")
    return Ablation(base, name, seeds, tokens, eval_sets, dict(data.get("set") or {}),
                    {name: {}, **{k: dict(v or {}) for k, v in variants.items()}})


def _as_overrides(mapping: dict[str, Any]) -> list[str]:
    return [f"{k}={json.dumps(v)}" for k, v in mapping.items()]


def variant_config(ab: Ablation, variant: str, seed: int) -> JobConfig:
    overrides = _as_overrides(ab.common) + _as_overrides(ab.variants[variant])
    overrides += [f"eval_sets.{k}={json.dumps(v)}" for k, v in ab.eval_sets.items()]
    cfg = load_config(str(ab.base), overrides)
    train = replace(cfg.train, seed=seed)
    if ab.train_tokens is not None:
        per_step = train.batch_size * train.grad_accum * train.model.seq_len
        train = replace(train, max_steps=max(1, math.ceil(ab.train_tokens / per_step)))
    cfg = replace(cfg, train=train, report=False)
    if "train" not in cfg.stages:
        raise ConfigError(f"variant {variant}: its stages {cfg.stages} do not end in train")
    cfg.validate()
    return cfg


# ---- sharing committed stages between runs -------------------------------------------------------------


def _committed(run: Path, folder: str) -> str | None:
    success = run / folder / SUCCESS
    if not success.is_file():
        return None
    return json.loads(success.read_text()).get("job_fingerprint")


def link_shared_stages(run: Path, cfg: JobConfig, others: list[Path]) -> list[str]:
    """Link into `run` every leading stage (all but train) that another run committed with the same
    fingerprint. Returns the linked stages."""
    from pipelines.job import stage_fingerprints
    from pipelines.stages import get_stage

    fps = stage_fingerprints(cfg)
    linked = []
    run.mkdir(parents=True, exist_ok=True)
    for stage in cfg.stages:
        if stage == "train":
            break
        folder = get_stage(stage).folder
        if _committed(run, folder) == fps[stage]:
            continue
        donor = next((o for o in others if o != run and _committed(o, folder) == fps[stage]), None)
        if donor is None:
            break  # this stage runs here, and so does everything after it
        for sub in (Path(folder), Path("rejected") / folder):
            target, src = run / sub, (donor / sub).resolve()
            if target.is_symlink() or target.exists():
                if target.is_symlink() or target.is_file():
                    target.unlink()
                else:
                    import shutil

                    shutil.rmtree(target)
            if src.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(src, target_is_directory=True)
        linked.append(stage)
    return linked


# ---- running -------------------------------------------------------------------------------------------


def run_ablation(ab: Ablation, out: Path, *, runner_overrides: dict[str, Any] | None = None,
                 log=print) -> dict[str, Any]:
    from pipelines.job import run_job
    from pipelines.stages.eval import evaluate_run, read_results

    out.mkdir(parents=True, exist_ok=True)
    runs: list[Path] = sorted(p.parent for p in out.glob("*/seed-*/config.json"))
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for variant in ab.variants:
        for seed in ab.seeds:
            cfg = variant_config(ab, variant, seed)
            if runner_overrides:
                cfg = replace(cfg, runner=replace(cfg.runner, **runner_overrides))
            run = out / variant / f"seed-{seed}"
            linked = link_shared_stages(run, cfg, runs)
            log(f"== {variant} seed {seed} -> {run}" + (f" (reusing {', '.join(linked)})" if linked else ""))
            run_job(cfg, str(run))
            if run not in runs:
                runs.append(run)
            specs = cfg.eval_sets
            previous = read_results(run)
            train_success = json.loads((run / "train" / SUCCESS).read_text())
            if (previous is None or previous["checkpoint"] != train_success["checkpoint"]
                    or set(previous["sets"]) != set(specs)):
                previous = evaluate_run(RunLayout(run), specs)
            manifest = json.loads((run / "shards" / "manifest.json").read_text())
            results.setdefault(variant, {})[seed] = {
                "bpb": {k: v["bits_per_byte"] for k, v in previous["sets"].items()},
                "train_tokens_seen": train_success["tokens"], "steps": train_success["step"],
                "unique_train_tokens": int(manifest["totals"]["train"]["tokens"]),
                "params": train_success["params"],
            }
    summary = summarize(ab, results)
    write_json_atomic(out / RESULT, summary)
    (out / "index.html").write_text(render_html(summary))
    return summary


def _mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, 0.0
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def summarize(ab: Ablation, results: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    base = results[ab.base_name]
    sets = sorted({s for r in base.values() for s in r["bpb"]})
    rows = {}
    for variant, by_seed in results.items():
        row: dict[str, Any] = {"overrides": ab.variants[variant], "sets": {}}
        any_seed = next(iter(by_seed.values()))
        row.update({k: any_seed[k] for k in ("unique_train_tokens", "train_tokens_seen", "steps", "params")})
        for s in sets:
            vals = [by_seed[k]["bpb"][s] for k in ab.seeds]
            base_vals = [base[k]["bpb"][s] for k in ab.seeds]
            mean, std = _mean_std(vals)
            bmean, _ = _mean_std(base_vals)
            row["sets"][s] = {
                "per_seed": dict(zip(map(str, ab.seeds), vals, strict=True)), "mean": mean, "std": std,
                "diff": mean - bmean, "rel_diff": (mean - bmean) / bmean if bmean else math.nan,
                "better_seeds": sum(v < b for v, b in zip(vals, base_vals, strict=True)),
            }
        rows[variant] = row
    return {"base": ab.base_name, "seeds": ab.seeds, "train_tokens": ab.train_tokens, "eval_sets": sets,
            "variants": rows, "job": str(ab.base)}


def format_table(summary: dict[str, Any]) -> str:
    sets = summary["eval_sets"]
    n = len(summary["seeds"])
    head = f"{'variant':<22} {'train tok':>10}" + "".join(f" | {s + ' bpb (mean ± sd)':>26} {'vs base':>16}"
                                                           for s in sets)
    lines = [f"bits per byte, {n} seed(s) each (lower is better); base: {summary['base']}", head, "-" * len(head)]
    for variant, row in summary["variants"].items():
        cells = []
        for s in sets:
            c = row["sets"][s]
            vs = "" if variant == summary["base"] else (
                f"{c['diff']:+.4f} ({c['rel_diff']:+.1%}) {c['better_seeds']}/{n}")
            cells.append(f" | {c['mean']:>17.4f} ± {c['std']:.4f} {vs:>16}")
        lines.append(f"{variant:<22} {row['unique_train_tokens']:>10,}" + "".join(cells))
    lines.append("vs base: difference of the means (negative: better than the base), seeds better than the base's "
                 "same seed; train tok: unique tokens in the variant's train split")
    return "\n".join(lines)


def render_html(summary: dict[str, Any]) -> str:
    sets = summary["eval_sets"]
    rows = []
    for variant, row in summary["variants"].items():
        cells = ""
        for c in (row["sets"][s] for s in sets):
            vs = "" if variant == summary["base"] else f"{c['diff']:+.4f} ({c['rel_diff']:+.1%})"
            cls = "good" if c["diff"] < 0 else "bad"
            cells += f"<td>{c['mean']:.4f} ± {c['std']:.4f}</td><td class='{cls}'>{vs}</td>"
        overrides = html.escape(json.dumps(row["overrides"]))
        rows.append(f"<tr><th>{html.escape(variant)}</th><td><code>{overrides}</code></td>"
                    f"<td>{row['unique_train_tokens']:,}</td>{cells}</tr>")
    header = "".join(f"<th>{html.escape(s)} bpb</th><th>vs base</th>" for s in sets)
    plots = "".join(_svg_plot(summary, s) for s in sets)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Ablation</title><style>
body{{font-family:system-ui,sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}} code{{font-size:85%}}
.good{{color:#070}} .bad{{color:#a00}} svg{{margin:1em 1em 0 0}}</style></head><body>
<h1>Ablation: bits per byte by variant</h1>
<p>Base job {html.escape(summary['job'])}, base variant <b>{html.escape(summary['base'])}</b>; seeds
{summary['seeds']}; {summary['train_tokens'] or 'the job’s'} training tokens per run. Lower is better; mean ±
sample standard deviation over seeds; "vs base" is the difference of the means.</p>
<table><tr><th>variant</th><th>overrides</th><th>unique train tokens</th>{header}</tr>{''.join(rows)}</table>
{plots}</body></html>
"""


def _svg_plot(summary: dict[str, Any], s: str) -> str:
    """One dot per seed and a bar at the mean, per variant."""
    variants = list(summary["variants"])
    vals = [v for row in summary["variants"].values() for v in row["sets"][s]["per_seed"].values()]
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.1 or 0.01
    lo, hi = lo - pad, hi + pad
    w, h, left, row_h = 520, 30 + 24 * len(variants), 150, 24

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (w - left - 20)

    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{left}" y="14" font-size="12">{html.escape(s)}: bits per byte ({lo:.3f} - {hi:.3f})</text>']
    for i, variant in enumerate(variants):
        y = 30 + i * row_h
        c = summary["variants"][variant]["sets"][s]
        parts.append(f'<text x="{left - 6}" y="{y + 4}" font-size="12" text-anchor="end">{html.escape(variant)}</text>')
        parts.append(f'<line x1="{x(c["mean"]):.1f}" x2="{x(c["mean"]):.1f}" y1="{y - 8}" y2="{y + 8}" '
                     'stroke="#333" stroke-width="2"/>')
        for v in c["per_seed"].values():
            parts.append(f'<circle cx="{x(v):.1f}" cy="{y}" r="3" fill="#37c" opacity="0.7"/>')
    parts.append("</svg>")
    return "".join(parts)


# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ablation", metavar="ABLATION.yaml")
    parser.add_argument("--out", help="output folder (default: runs/ablations/<file name>)")


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate ablate: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    if args.config or args.overrides:
        raise ConfigError("curate ablate takes its settings from the ablation file (base, set, variants)")
    ab = load_ablation(args.ablation)
    out = Path(args.out or os.path.join("runs", "ablations", Path(args.ablation).stem))
    runner: dict[str, Any] = {}
    if args.runner:
        runner["name"] = args.runner
    if args.workers:
        runner["workers"] = args.workers
    summary = run_ablation(ab, out, runner_overrides=runner)
    print(format_table(summary))
    print(f"-> {out / RESULT}, {out / 'index.html'}")
    return 0
