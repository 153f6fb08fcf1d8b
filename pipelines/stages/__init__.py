"""The stage registry: the one place that says what a stage is and in which order stages run.

The command line, `curate run`, the run layout, the report and the job service all read `STAGES`.
Adding a stage is one module under `pipelines/stages/` (its `run`, the wiring of its pipeline, its
`add_arguments` / `overrides` / `main` for the command line) plus one `Stage(...)` line below.

This module is imported by `pipelines.config` and must stay light: no Beam, no torch. A stage's module
is imported only when the stage runs (`Stage.load()`), so `curate ingest` never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Stage:
    """One stage of a job.

    name      the name in a job file's `stages:` list and in `--from`
    command   the `curate` subcommand that runs the stage alone
    module    the module holding `run(layout, config, beam_args, **kw)` and the command-line hooks
    folder    where the stage commits under RUN (and `RUN/rejected/<folder>/` for what it drops)
    help      the one-line help of the command
    config    the `JobConfig` fields that configure the stage: its fingerprint hashes them
    documents True when the stage writes documents that later stages read
    needs     stages that must run before it in a job
    resumable True when `curate run` continues an interrupted attempt (`run(..., resume=True)`)
    rejects   True when the stage drops records to `RUN/rejected/<folder>/` (the report lists the reasons);
              defaults to `documents`
    title     the stage's heading in the report and the dataset card
    default   True when a job without a `stages:` list runs it
    beam      True when the stage runs as a Beam pipeline (its command may want worker processes)
    """

    name: str
    module: str
    folder: str
    help: str
    config: tuple[str, ...]
    command: str = ""
    documents: bool = False
    needs: tuple[str, ...] = ()
    resumable: bool = False
    rejects: bool | None = None
    title: str = ""
    default: bool = True
    beam: bool = True

    def __post_init__(self) -> None:
        if not self.command:
            object.__setattr__(self, "command", self.name)
        if self.rejects is None:
            object.__setattr__(self, "rejects", self.documents)
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", " ").capitalize())

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


#: Every stage, in the order a job runs them.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", "pipelines.stages.ingest", "ingest",
          "read raw WARC / JSONL / Parquet / text / EPUB / PDF (local, s3://, gs://, https://) into documents",
          config=("ingest", "inputs"), documents=True),
    Stage("filter", "pipelines.stages.filter", "filter",
          "language, quality, repetition, URL, bad-word and PII filters",
          config=("filter",), documents=True, needs=("ingest",), title="Filters"),
    Stage("dedup", "pipelines.stages.dedup", "dedup",
          "exact, URL and MinHash near-duplicate removal",
          config=("dedup",), documents=True, needs=("ingest",), title="Deduplication"),
    Stage("dedup_lines", "pipelines.stages.dedup_lines", "dedup_lines",
          "remove lines / paragraphs repeated across many documents (boilerplate)",
          config=("dedup_lines",), command="dedup-lines", documents=True, needs=("ingest",),
          title="Line deduplication"),
    Stage("decontaminate", "pipelines.stages.decontaminate", "decontaminate",
          "remove eval-set text (word 13-grams) from the documents",
          config=("decontaminate", "eval_sets"), documents=True, needs=("ingest",), title="Decontamination",
          default=False),
    Stage("tokenizer", "pipelines.stages.tokenizer", "tokenizer",
          "train the SentencePiece BPE tokenizer on a sample",
          config=("tokenizer",), needs=("ingest",)),
    Stage("tokenizer_eval", "pipelines.stages.tokenizer_eval", "tokenizer_eval",
          "bytes per token on held-out documents",
          config=("tokenizer",), command="tokenizer-eval", needs=("tokenizer",)),
    Stage("tokenize", "pipelines.stages.tokenize", "shards",
          "encode documents into Parquet token shards",
          config=("tokenize",), needs=("tokenizer",), rejects=True),
    Stage("train", "pipelines.stages.train", "train",
          "pretrain a causal LM on the token shards",
          config=("train",), needs=("tokenize",), resumable=True, beam=False),
)

# Consumers call these functions rather than copying STAGES at import time, so that the registry is
# read in one place (and a test can add a toy stage to it).


def stage_names() -> tuple[str, ...]:
    return tuple(s.name for s in STAGES)


def default_stage_names() -> tuple[str, ...]:
    """The stages of a job that names none."""
    return tuple(s.name for s in STAGES if s.default)


def get_stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"unknown stage {name!r} (known: {', '.join(stage_names())})")


def stage_by_command(command: str) -> Stage | None:
    return next((s for s in STAGES if s.command == command), None)


def document_folders() -> tuple[str, ...]:
    """Folders of the stages that write documents, in pipeline order."""
    return tuple(s.folder for s in STAGES if s.documents)


def folder_of(name: str) -> str:
    return get_stage(name).folder
