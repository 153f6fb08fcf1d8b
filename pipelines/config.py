"""The job configuration: one frozen dataclass per stage, loaded from YAML and `--set` overrides.

Stage sections live beside the code they configure (`filters.config`, `filters.dedup.config`,
`tokenizer.config`, `trainer.config`) so the pure packages never import `pipelines`; this module
composes them into `JobConfig` and validates everything before any work starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from filters.config import FilterConfig
from filters.decontam import DecontamConfig
from filters.dedup.config import DedupConfig
from filters.dedup.lines_config import LineDedupConfig
from pipelines import stages as registry
from pipelines import storage
from pipelines.configlib import ConfigError, apply_overrides, load_dataclass, read_yaml, to_dict
from pipelines.evalsets import EvalSetSpec
from pipelines.storage import StorageConfig
from tokenizer.config import TokenizeConfig, TokenizerConfig
from trainer.config import TrainConfig

Format = Literal["auto", "warc", "jsonl", "parquet", "text", "epub", "pdf"]
Kind = Literal["auto", "web", "book", "article", "text"]


@dataclass(frozen=True)
class InputSpec:
    """One input: a path or glob, the dataset name it feeds (the mixture key), its kind and format.
    Paths may be URLs (s3://, gs://, https://); `path_list` names a path list (Common Crawl's
    warc.paths.gz) whose every line is an input, read under `base`."""

    path: str = ""
    name: str = ""  # dataset name; defaults to the kind
    kind: Kind = "auto"  # auto: web for WARC, book for .txt, article for JSONL/Parquet
    format: Format = "auto"  # auto: from the file extension, else the magic bytes (PDF, EPUB)
    text_field: str = "text"  # JSONL / Parquet column holding the text
    url_field: str | None = "url"
    path_list: str = ""
    base: str = ""  # the prefix of every listed path: s3://commoncrawl/, https://host/, a local mirror

    def validate(self) -> None:
        if bool(self.path) == bool(self.path_list):
            raise ValueError("path: give exactly one of path and path_list")
        if self.base and not self.path_list:
            raise ValueError("base: only with path_list")
        for value in (self.path, self.path_list, self.base):
            storage.check_url(value)


@dataclass(frozen=True)
class IngestConfig:
    # Main-text extraction for HTML: our default cascade, plain resiliparse, or trafilatura.
    extractor: Literal["default", "resiliparse", "trafilatura"] = "default"
    # Documents larger than this (UTF-8 bytes of text, before normalization) are rejected `too_large`;
    # null keeps everything. 5 MB keeps whole books (the longest common ones are ~1.3 MB).
    max_doc_bytes: int | None = 5_000_000
    # HTML payloads larger than this are not parsed (`too_large`): they are almost never prose.
    max_html_bytes: int = 20_000_000
    # A NUL character in text almost always means binary data decoded as text: reject the record
    # (`contains_nul`) by default, or strip NULs and keep it.
    on_nul: Literal["reject", "strip"] = "reject"
    strip_gutenberg: bool = True
    fix_mojibake: bool = True  # ftfy
    # PDF books: text extraction library (benchmarks/books.py), and one document per file or per top-level
    # outline entry (files without an outline stay whole); EPUB/PDF files above this size are `too_large`.
    pdf_library: Literal["pypdfium2", "pypdf"] = "pypdfium2"
    pdf_split: Literal["file", "chapter"] = "file"
    max_book_file_bytes: int | None = 200_000_000
    num_shards: int | None = None  # null: one shard per ~128 MB of input

    def validate(self) -> None:
        if self.max_doc_bytes is not None and self.max_doc_bytes <= 0:
            raise ValueError("max_doc_bytes: must be positive or null")
        if self.num_shards is not None and self.num_shards < 1:
            raise ValueError("num_shards: must be >= 1 or null")


@dataclass(frozen=True)
class RunnerConfig:
    # direct: Beam's DirectRunner; dask: Beam's DaskRunner; any other name is passed to Beam as-is
    # (FlinkRunner, SparkRunner, DataflowRunner...) together with the unrecognized command-line flags.
    name: str = "direct"
    workers: int = 0  # 0: one worker per core
    # auto: multi_processing with more than one worker, else in_memory (one process); a small input
    # runs in one process either way (see pipelines/runners.py)
    mode: Literal["auto", "in_memory", "multi_processing", "multi_threading"] = "auto"
    dask_address: str | None = None  # null with dask: start a local dask.distributed cluster
    # direct, multi_processing: fork the worker processes of every stage from one warm process
    # (pipelines/worker_pool.py) instead of starting each as a new interpreter
    worker_pool: bool = True

    def validate(self) -> None:
        if self.workers < 0:
            raise ValueError("workers: must be >= 0 (0: one per core)")

    def resolved_workers(self) -> int:
        return self.workers or max(1, os.cpu_count() or 1)

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "multi_processing" if self.resolved_workers() > 1 else "in_memory"



@dataclass(frozen=True)
class JobConfig:
    inputs: list[InputSpec] = field(default_factory=list)
    # The stages `curate run` runs, a subsequence of the registry's (`pipelines.stages`), ingest first;
    # by default those marked default (decontaminate needs eval sets, so it is opt-in).
    stages: list[str] = field(default_factory=lambda: list(registry.default_stage_names()))
    report: bool = True  # write RUN/report/index.html and the dataset card at the end of `curate run`
    seed: int = 0
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontaminate: DecontamConfig = field(default_factory=DecontamConfig)
    dedup_lines: LineDedupConfig = field(default_factory=LineDedupConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)  # object stores: endpoint, retries
    eval_sets: dict[str, EvalSetSpec] = field(default_factory=dict)  # held-out text by name (pipelines/evalsets.py)

    def validate(self) -> None:
        known = registry.stage_names()
        unknown = [s for s in self.stages if s not in known]
        if unknown:
            raise ValueError(f"stages: unknown stage {unknown[0]!r} (known: {', '.join(known)})")
        order = [known.index(s) for s in self.stages]
        if order != sorted(set(order)):
            raise ValueError(f"stages: must be in the order {', '.join(known)}, each once")
        if self.stages and self.stages[0] != "ingest":
            raise ValueError("stages: must start with ingest")
        for name in [*self.train.eval_sets, *self.decontaminate.eval_sets]:
            if name not in self.eval_sets:
                raise ValueError(f"eval_sets: {name!r} (train / decontaminate) is not in eval_sets ({', '.join(self.eval_sets) or 'none'})")
        if "decontaminate" in self.stages and not self.eval_sets:
            raise ValueError("stages: decontaminate needs eval_sets")
        for stage in registry.STAGES:
            for required in stage.needs:
                if stage.name in self.stages and required not in self.stages:
                    raise ValueError(f"stages: {stage.name} needs {required}")


def load_config(path: str | None = None, overrides: list[str] | None = None) -> JobConfig:
    """Defaults, then the YAML file, then `--set` overrides; validated as a whole."""
    data = read_yaml(path) if path else {}
    data = apply_overrides(data, overrides or [])
    base = os.path.dirname(os.path.abspath(path)) if path else None
    cfg = load_dataclass(JobConfig, data)
    if base:
        cfg = _resolve_input_paths(cfg, base)
    return cfg


def _resolve_input_paths(cfg: JobConfig, base: str) -> JobConfig:
    """Relative input paths in a config file are relative to the current folder if they exist there,
    else to the config file's folder."""
    from dataclasses import replace

    def resolve(path: str) -> str:
        if not path or storage.is_remote(path) or os.path.isabs(path) or storage.glob(path):
            return path
        alt = os.path.join(base, path)
        return os.path.relpath(alt) if storage.glob(alt) else path

    resolved = []
    for spec in cfg.inputs:
        spec = replace(spec, path=resolve(spec.path), path_list=resolve(spec.path_list), base=resolve(spec.base))
        resolved.append(spec)
    return replace(cfg, inputs=resolved)


def check_inputs(cfg: JobConfig) -> None:
    """Every input matches something and every bucket exists and may be read; before any work starts.
    Also sets this process's storage options (endpoint, retries) from the config."""
    storage.configure(cfg.storage)
    if not cfg.inputs:
        raise ConfigError("inputs: no input given (use --input PATH or `inputs:` in the config)")
    for i, spec in enumerate(cfg.inputs):
        try:
            spec.validate()  # (flags build specs without the loader's validation)
            if spec.path_list:
                if not storage.exists(spec.path_list):
                    raise ConfigError(f"inputs[{i}].path_list: {storage.redact(spec.path_list)!r} does not exist")
                if spec.base and storage.is_remote(spec.base):
                    storage.check_reachable(spec.base)
            elif not storage.glob(spec.path):
                raise ConfigError(f"inputs[{i}].path: nothing matches {storage.redact(spec.path)!r}")
        except (OSError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"inputs[{i}]: {e}") from None


__all__ = [
    "ConfigError",
    "IngestConfig",
    "InputSpec",
    "JobConfig",
    "RunnerConfig",
    "check_inputs",
    "load_config",
    "to_dict",
]
