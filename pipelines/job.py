"""`curate run CONFIG.yaml`: the whole job, stage after stage, resumable.

Each stage's fingerprint chains its own config section with the fingerprint of the stage before it
(and, for ingest, the listing of input files with their sizes). A stage whose `_SUCCESS` carries the
same fingerprint is skipped, so running the same command again after a crash or `kill -9` picks up
at the first stage that had not committed (stages commit atomically; training resumes from its last
checkpoint). `--from STAGE` reruns that stage and everything after it.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import shutil
import sys
import time
from typing import Any

import yaml

from pipelines.config import ALL_STAGES, JobConfig, check_inputs
from pipelines.configlib import ConfigError, fingerprint, to_dict
from pipelines.io.inputs import list_input_files
from pipelines.runlayout import SUCCESS, RunLayout, write_json_atomic

log = logging.getLogger(__name__)

STAGE_MODULES = {
    "ingest": "pipelines.stages.ingest",
    "filter": "pipelines.stages.filter",
    "dedup": "pipelines.stages.dedup",
    "dedup_lines": "pipelines.stages.dedup_lines",
    "tokenizer": "pipelines.stages.tokenizer",
    "tokenizer_eval": "pipelines.stages.tokenizer_eval",
    "tokenize": "pipelines.stages.tokenize",
    "train": "pipelines.stages.train",
}


def stage_section(config: JobConfig, stage: str) -> Any:
    if stage == "ingest":
        return {"ingest": config.ingest, "inputs": config.inputs}
    if stage == "tokenizer_eval":
        return {"tokenizer_eval": config.tokenizer}
    return getattr(config, stage)


def stage_folder(stage: str) -> str:
    """The run folder a stage writes (tokenize writes `shards/`): its module's NAME."""
    return importlib.import_module(STAGE_MODULES[stage]).NAME


def stage_fingerprints(config: JobConfig) -> dict[str, str]:
    """Fingerprint of every configured stage: its config, the seed, and everything upstream of it."""
    listing = [(f.ctx.dataset, f.ctx.path, f.format, f.size) for f in list_input_files(config.inputs)]
    upstream = fingerprint({"inputs": listing})
    out = {}
    for stage in config.stages:
        upstream = fingerprint({"stage": stage, "config": stage_section(config, stage), "seed": config.seed,
                                "upstream": upstream})
        out[stage] = upstream
    return out


def plan(layout: RunLayout, config: JobConfig, from_stage: str | None) -> list[tuple[str, str, bool]]:
    """(stage, fingerprint, run?) for every configured stage."""
    fps = stage_fingerprints(config)
    steps = []
    rerun = False
    for stage in config.stages:
        if stage == from_stage:
            rerun = True
        done = False
        folder = stage_folder(stage)
        if not rerun and layout.is_complete(folder):
            done = layout.read_success(folder).get("job_fingerprint") == fps[stage]
        if not done:
            rerun = True  # everything after a stage that runs runs too
        steps.append((stage, fps[stage], not done))
    return steps


def run_job(config: JobConfig, run: str, from_stage: str | None = None,
            beam_args: list[str] | None = None) -> dict[str, Any]:
    check_inputs(config)
    if from_stage is not None and from_stage not in config.stages:
        raise ConfigError(f"--from: {from_stage!r} is not one of the configured stages ({', '.join(config.stages)})")
    modules = {stage: importlib.import_module(STAGE_MODULES[stage]) for stage in config.stages}
    layout = RunLayout(run)
    layout.root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(layout.root / ".tmp", ignore_errors=True)  # what a crashed attempt left behind
    _forget_unconfigured_stages(layout, config)
    write_json_atomic(layout.root / "config.json", to_dict(config))
    (layout.root / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    summary: dict[str, Any] = {}
    for stage, fp, needed in plan(layout, config, from_stage):
        if not needed:
            print(f"[{stage}] up to date, skipped", flush=True)
            summary[stage] = "skipped"
            continue
        print(f"[{stage}] running", flush=True)
        start = time.monotonic()
        layout.job_fingerprints[stage] = fp
        layout.job_fingerprints[stage_folder(stage)] = fp
        run_fn = modules[stage].run
        kwargs = {"resume": True} if "resume" in inspect.signature(run_fn).parameters else {}
        stats = run_fn(layout, config, beam_args or [], **kwargs)
        summary[stage] = stats
        counts = stats.get("counts", {}) if isinstance(stats, dict) else {}
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"[{stage}] done in {time.monotonic() - start:.1f}s{': ' + detail if detail else ''}", flush=True)
    if config.report:
        from pipelines.report.report import write_report

        paths = write_report(layout)
        print(f"[report] {paths['report']}")
    return summary


def _forget_unconfigured_stages(layout: RunLayout, config: JobConfig) -> None:
    """A stage left from an earlier job with other stages must not feed this one: mark it incomplete."""
    for stage in ALL_STAGES:
        folder = stage_folder(stage)
        if stage not in config.stages and layout.is_complete(folder):
            log.warning("stage %s is not in this job's stages: marking its old output incomplete", stage)
            (layout.stage_dir(folder) / SUCCESS).unlink()


# ---- command line -------------------------------------------------------------------------------------

HELP = "run a whole job from one YAML file, skipping completed stages"
NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="CONFIG.yaml", help="the job file")
    parser.add_argument("--run", help="the run folder (default: runs/<job file name>)")
    parser.add_argument("--from", dest="from_stage", choices=ALL_STAGES, help="rerun from this stage on")


def overrides(args: argparse.Namespace, config: JobConfig) -> JobConfig:
    from pipelines.config import load_config

    if args.config:
        raise ConfigError("curate run takes the job file as its argument, not --config")
    job = load_config(args.job, args.overrides)
    from dataclasses import replace

    return replace(job, runner=config.runner if _runner_flags(args) else job.runner)


def _runner_flags(args: argparse.Namespace) -> bool:
    return bool(args.runner or args.workers or args.dask_address)


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    import os

    run = args.run or os.path.join("runs", os.path.splitext(os.path.basename(args.job))[0])
    try:
        run_job(config, run, args.from_stage, beam_args)
    except ConfigError:
        raise
    except Exception as e:
        print(f"curate run: failed: {type(e).__name__}: {e}", file=sys.stderr)
        raise
    print(f"done: {run}")
    return 0
