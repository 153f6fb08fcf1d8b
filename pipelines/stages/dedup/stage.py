"""The dedup stage: its input and output folders, `--against`, the stage's statistics and its command."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa

from filters.dedup.config import DedupConfig
from filters.dedup.lsh import s_curve
from filters.dedup.normalize import NORMALIZATION_VERSION
from pipelines import storage
from pipelines.config import JobConfig
from pipelines.configlib import ConfigError, replace_section
from pipelines.io.parquet import WriteShards, open_parquet, read_table
from pipelines.runlayout import RunLayout, count_rows, same_run, scratch_of
from pipelines.stages.base import BeamStage, StageError, run_beam_stage
from pipelines.stages.common import WriteRejected
from pipelines.stages.dedup.output import (
    EDGE_SCHEMA,
    EDGES,
    REJECTED_SCHEMA,
    SIGNATURES,
    edge_row,
    output_schema,
)
from pipelines.stages.dedup.plan import NAME, PRIOR_FILE_BIT, Plan, SourceFile
from pipelines.stages.dedup.transform import Dedup

#: Version of everything a stored signature depends on besides the config (shingle and word hashes,
#: permutation scheme, band key mixing); bumped on any change so old signatures are refused.
SIGNATURE_SCHEME = 1


def score_column(cfg: DedupConfig, schema: pa.Schema) -> str | None:
    name = cfg.score_column
    if not name or name not in schema.names:
        return None
    tp = schema.field(name).type
    if not (pa.types.is_integer(tp) or pa.types.is_floating(tp)):
        raise ConfigError(f"dedup.score_column: column {name!r} is {tp}, not numeric")
    return name


def prior_files(against: str | Path, cfg: DedupConfig) -> tuple[list[SourceFile], str]:
    """The kept documents of a previous run and their stored signatures; checks they are compatible."""
    prior = RunLayout(against)
    success = prior.read_success(NAME)
    pcfg = success.get("config", {})
    stored = pcfg.get("dedup", {})
    problems = [
        f"{k} {stored.get(k)!r} != {getattr(cfg, k)!r}"
        for k in ("num_perm", "seed", "shingle_size")
        if stored.get(k) != getattr(cfg, k)
    ]
    for k, v in (("normalization", NORMALIZATION_VERSION), ("signature_scheme", SIGNATURE_SCHEME)):
        if pcfg.get(k) != v:
            problems.append(f"{k} {pcfg.get(k)!r} != {v!r}")
    if problems:
        raise ConfigError(f"--against {against}: stored signatures are incompatible: {'; '.join(problems)}")
    files = []
    signatures = {os.path.basename(p): p for p in prior.parts(NAME, f"{SIGNATURES}/part-*.parquet")}
    for k, part in enumerate(prior.parts(NAME)):
        sig = signatures.get(os.path.basename(part))
        if sig is None:
            raise StageError(f"--against {against}: missing stored signatures of {part}")
        files.append(SourceFile(PRIOR_FILE_BIT | k, part, sig))
    return files, success["fingerprint"]


def cluster_stats(out: str) -> dict[str, Any]:
    counts = np.array([], dtype=np.int64)
    for p in storage.glob(storage.join(out, "part-*.parquet")):
        counts = np.concatenate([counts, read_table(p, columns=["dup_count"]).column("dup_count").to_numpy()])
    dup = counts[counts > 1]
    sizes = {str(k): int(v) for k, v in zip(*np.unique(dup, return_counts=True), strict=True)} if len(dup) else {}
    return {
        "clusters": {
            "with_duplicates": int(len(dup)),
            "documents_in_them": int(dup.sum()) if len(dup) else 0,
            "largest": int(dup.max()) if len(dup) else 1,
            "by_size": sizes,
        }
    }


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    cfg = config.dedup
    against = cfg.against
    src = layout.latest_documents_stage(before=NAME)
    parts = layout.parts(src)
    if not parts:
        raise StageError(f"stage '{src}' in {layout.root} has no part files")
    if len(parts) >= PRIOR_FILE_BIT:
        raise StageError(f"too many input files ({len(parts)})")
    with open_parquet(parts[0]) as pf:
        in_schema = pf.schema_arrow.remove_metadata()
    bands, rows = cfg.banding()
    plan = Plan(cfg, bands, rows, score_column(cfg, in_schema))
    current = [SourceFile(i, str(p)) for i, p in enumerate(parts)]
    inputs = [f"{src}:{layout.read_success(src)['fingerprint']}"]
    prior: list[SourceFile] = []
    if against:
        if same_run(against, layout):
            raise ConfigError("--against: must be another run than --run")
        prior, prior_fp = prior_files(against, cfg)
        inputs.append(f"against:{prior_fp}")
    n = len(parts)
    schema = output_schema(in_schema)

    def build(p: beam.Pipeline, out: str, rejected_dir: str) -> None:
        for sub in (SIGNATURES, EDGES):
            storage.makedirs(storage.join(out, sub))
        work = storage.join(scratch_of(out), "work")  # the attempt's scratch: removed by commit and abort
        storage.makedirs(work)
        full_plan = replace(plan, out_dir=out, work_dir=work, out_schema=schema)
        rejected, edges = p | "Dedup" >> Dedup(full_plan, current, prior)
        _ = rejected | "WriteRejected" >> WriteRejected(NAME, rejected_dir, n, REJECTED_SCHEMA)
        _ = (
            edges
            | "EdgeRows" >> beam.Map(edge_row)
            # a pair can be linked both as exact and as URL duplicates: (edge, kind) is unique
            | "WriteEdges" >> WriteShards(storage.join(out, EDGES), EDGE_SCHEMA, 1, key="edge", order=("edge", "kind"))
        )

    def extra(out: str, _rejected: str) -> dict[str, Any]:
        return {"lsh": {"bands": bands, "rows": rows, "num_perm": cfg.num_perm, "threshold": cfg.threshold},
                "against": str(against) if against else None, **cluster_stats(out)}

    stage_config = {
        "dedup": cfg,
        "bands": bands,
        "rows": rows,
        "score_column": plan.score_column,
        "normalization": NORMALIZATION_VERSION,
        "signature_scheme": SIGNATURE_SCHEME,
        "against": str(against) if against else None,
    }
    total_docs = count_rows(parts)
    stage = BeamStage(NAME, build, inputs, config=stage_config, finish=extra, total_docs=total_docs)
    return run_beam_stage(stage, layout, config, beam_args)


# ---- command line -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--against", metavar="PRIOR_RUN",
        help="also remove documents that duplicate PRIOR_RUN's kept documents (reuses its stored signatures)",
    )


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    if not args.against:
        return config
    return replace_section(config, "dedup", against=args.against)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    bands, rows = config.dedup.banding()
    print(s_curve(bands, rows))
    try:
        stats = run(RunLayout(args.run), config, beam_args)
    except ConfigError as e:
        print(f"curate dedup: {e}")
        return 2
    c = stats["counts"]
    print(f"dedup: {c['out']} kept of {c['in']}, {c['rejected']} removed -> {args.run}/dedup")
    for why, k in stats["rejected_by_reason"].items():
        print(f"  removed {why}: {k}")
    cl = stats["clusters"]
    print(f"  clusters with duplicates: {cl['with_duplicates']} (largest {cl['largest']} documents)")
    bc = stats.get("beam_counters", {})
    for key in ("candidate_pairs", "verified_pairs", "rejected_pairs", "lsh_buckets_oversized", "cc_residual_edges"):
        if f"{NAME}.{key}" in bc:
            print(f"  {key}: {bc[f'{NAME}.{key}']}")
    return 0

