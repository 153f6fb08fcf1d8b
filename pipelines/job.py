"""`curate run CONFIG.yaml`: the whole job, stage after stage, resumable.

Each stage's fingerprint chains its own config section with the fingerprint of the stage before it
(and, for ingest, the listing of input files with their sizes). A stage whose `_SUCCESS` carries the
same fingerprint is skipped, so running the same command again after a crash or `kill -9` picks up
at the first stage that had not committed (stages commit atomically; training resumes from its last
checkpoint). `--from STAGE` reruns that stage and everything after it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from typing import Any

import yaml

from pipelines import stages as registry
from pipelines import storage
from pipelines.config import JobConfig, check_inputs
from pipelines.configlib import ConfigError, fingerprint, to_dict
from pipelines.io.inputs import list_input_files
from pipelines.runlayout import RunLayout, write_json
from pipelines.stages import Stage, get_stage

log = logging.getLogger(__name__)

def stage_section(config: JobConfig, stage: Stage) -> Any:
    """The config a stage's fingerprint hashes: its `JobConfig` fields from the registry, or what its
    module's `fingerprint_section(config)` says (decontaminate adds the eval sets' files)."""
    module = stage.load()
    if hasattr(module, "fingerprint_section"):
        return module.fingerprint_section(config)
    if len(stage.config) == 1:
        return getattr(config, stage.config[0])
    return {key: getattr(config, key) for key in stage.config}


def stage_fingerprints(config: JobConfig) -> dict[str, str]:
    """Fingerprint of every configured stage: its config, the seed, and everything upstream of it."""
    listing = [(f.ctx.dataset, f.ctx.path, f.format, f.size) for f in list_input_files(config.inputs)]
    upstream = fingerprint({"inputs": listing})
    out = {}
    for name in config.stages:
        upstream = fingerprint({"stage": name, "config": stage_section(config, get_stage(name)),
                                "seed": config.seed, "upstream": upstream})
        out[name] = upstream
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
        folder = get_stage(stage).folder
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
    stages = [get_stage(name) for name in config.stages]
    modules = {stage.name: stage.load() for stage in stages}
    fps = stage_fingerprints(config)
    layout = RunLayout(run, job_fingerprints={stage.folder: fps[stage.name] for stage in stages})
    if layout.remote:
        # A missing bucket, or a credential that may not list or write the run folder, fails here,
        # naming the URL, before anything is written (the config is the first write).
        storage.check_reachable(layout.url)
    else:
        if layout.root.exists() and not layout.root.is_dir():
            raise ConfigError(f"--run: {layout.root} is a file, not a run folder")
        layout.root.mkdir(parents=True, exist_ok=True)
        # what a crashed attempt left behind (on an object store, a stage's next commit cleans it)
        shutil.rmtree(layout.root / ".tmp", ignore_errors=True)
    write_json(layout.join("config.json"), to_dict(config))
    storage.write_bytes(layout.join("config.yaml"), yaml.safe_dump(to_dict(config), sort_keys=False).encode())
    _forget_unconfigured_stages(layout, config)
    summary: dict[str, Any] = {}
    for stage, _fp, needed in plan(layout, config, from_stage):
        if not needed:
            print(f"[{stage}] up to date, skipped", flush=True)
            summary[stage] = "skipped"
            continue
        print(f"[{stage}] running", flush=True)
        start = time.monotonic()
        kwargs = {"resume": True} if get_stage(stage).resumable else {}
        stats = modules[stage].run(layout, config, beam_args or [], **kwargs)
        summary[stage] = stats
        counts = stats.get("counts", {}) if isinstance(stats, dict) else {}
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"[{stage}] done in {time.monotonic() - start:.1f}s{': ' + detail if detail else ''}", flush=True)
    if config.report:
        from pipelines.report import write_report

        paths = write_report(layout)
        print(f"[report] {paths['report']}")
    return summary


def _forget_unconfigured_stages(layout: RunLayout, config: JobConfig) -> None:
    """A stage left from an earlier job with other stages must not feed this one: mark it incomplete."""
    for stage in registry.STAGES:
        folder = stage.folder
        if stage.name not in config.stages and layout.is_complete(folder):
            log.warning("stage %s is not in this job's stages: marking its old output incomplete", stage.name)
            layout.invalidate(folder)


# ---- command line -------------------------------------------------------------------------------------

NEEDS_RUN = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB.yaml", help="the job file (the config: `curate run` has no --config)")
    parser.add_argument("--run", help="the run folder (default: runs/<job file name>)")
    parser.add_argument("--from", dest="from_stage", choices=registry.stage_names(), help="rerun from this stage on")


def config_file(args: argparse.Namespace) -> str:
    """`curate run` reads its config from the job file, the positional argument."""
    return args.job


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    import os

    run = args.run or os.path.join("runs", os.path.splitext(os.path.basename(args.job))[0])
    run_job(config, run, args.from_stage, beam_args)
    print(f"done: {run}")
    return 0
