"""A toy stage for the registry test: upper-cases every document's text. It is everything a new
documents stage needs besides its one `Stage(...)` line in `pipelines.stages.STAGES`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq

from pipelines.config import JobConfig
from pipelines.io.parquet import WriteShards
from pipelines.runlayout import RunLayout
from pipelines.stages import get_stage
from pipelines.stages.base import BeamStage, run_beam_stage

NAME = "shout"


def _rows(path: str) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()


def _shout(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "text": row["text"].upper()}


def run(layout: RunLayout, config: JobConfig, beam_args: list[str] | None = None) -> dict[str, Any]:
    folder = get_stage(NAME).folder
    source = layout.latest_documents_stage(before=folder)
    parts = layout.parts(source)
    schema = pq.read_schema(parts[0])

    def build(p: beam.Pipeline, out: Path, _rejected: Path) -> None:
        _ = (
            p
            | beam.Create([str(x) for x in parts])
            | beam.FlatMap(_rows)
            | beam.Map(_shout)
            | WriteShards(out, schema, len(parts))
        )

    return run_beam_stage(BeamStage(folder, build, [source], config={}), layout, config, beam_args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    stats = run(RunLayout(args.run), config, beam_args)
    print(f"shout: {stats['counts']['out']} documents")
    return 0
