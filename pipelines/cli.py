"""The `curate` command line. Each subcommand lives in its stage module; this file only dispatches.

Common to every command: `--config FILE` (YAML), `--set dotted.key=value` (repeatable), `--run RUN`,
`--runner direct|dask|<Beam runner>`, `--workers N`, `--dask-address ADDR`. Flags this parser does not
know are handed to Beam's PipelineOptions (e.g. `--direct_running_mode=multi_processing`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from dataclasses import replace

from pipelines.configlib import ConfigError

#: command -> (module, one-line help). Modules load lazily: `curate ingest` never imports torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipelines.job", "run a whole job from one YAML file, skipping completed stages"),
    "ingest": ("pipelines.stages.ingest", "read raw WARC / JSONL / Parquet / text into clean documents"),
    "filter": ("pipelines.stages.filter", "language, quality, repetition, URL, bad-word and PII filters"),
    "quality": ("pipelines.stages.quality", "train the fastText quality classifier"),
    "dedup": ("pipelines.stages.dedup", "exact, URL and MinHash near-duplicate removal"),
    "dedup-lines": ("pipelines.stages.dedup_lines", "remove lines / paragraphs repeated across many documents"),
    "tokenizer": ("pipelines.stages.tokenizer", "train the SentencePiece BPE tokenizer on a sample"),
    "tokenizer-eval": ("pipelines.stages.tokenizer_eval", "bytes per token on held-out documents"),
    "tokenize": ("pipelines.stages.tokenize", "encode documents into Parquet token shards"),
    "train": ("pipelines.stages.train", "pretrain a causal LM on the token shards"),
    "generate": ("pipelines.stages.generate", "sample text from the last checkpoint"),
    "report": ("pipelines.report.command", "write RUN/report/index.html and the dataset card"),
}


def _base_parser(prog: str, help_text: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=help_text)
    p.add_argument("--config", help="YAML config file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set filter.gopher.min_words=40 (repeatable)")
    p.add_argument("--runner", help="direct (default), dask, or any Beam runner name")
    p.add_argument("--workers", type=int, help="parallel workers for the direct and dask runners")
    p.add_argument("--dask-address", help="address of a running dask.distributed scheduler")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: curate COMMAND [options] [beam options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "`curate COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command = argv.pop(0)
    _quiet_library_logs()
    if command not in COMMANDS:
        print(f"curate: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_text = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = _base_parser(f"curate {command}", help_text)
    if getattr(module, "NEEDS_RUN", True):
        parser.add_argument("--run", required=True, help="the run folder")
    module.add_arguments(parser)
    args, beam_args = parser.parse_known_args(argv)
    logging.getLogger().setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        config = _load(args, module)
        return int(module.main(args, config, beam_args) or 0)
    except ConfigError as e:  # raised before any work starts
        print(f"curate {command}: config error: {e}", file=sys.stderr)
        return 2


class _DropNoise(logging.Filter):
    """Import-time and per-record chatter from libraries that says nothing about the user's job."""

    NOISE = ("apitools not found", "Replacing spaces in invalid WARC-Target-URI")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("distributed", "apache_beam.runners.dask")) and record.levelno < logging.ERROR:
            return False
        msg = str(record.msg)
        return not any(n in msg for n in self.NOISE)


def _quiet_library_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    for name in ("distributed", "apache_beam.runners.dask", "warcio"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _load(args: argparse.Namespace, module):
    from pipelines.config import load_config

    config = load_config(args.config, args.overrides)
    runner = config.runner
    if args.runner:
        runner = replace(runner, name=args.runner)
    if args.workers:
        runner = replace(runner, workers=args.workers)
    if args.dask_address:
        runner = replace(runner, name="dask", dask_address=args.dask_address)
    config = replace(config, runner=runner)
    if hasattr(module, "overrides"):
        config = module.overrides(args, config)
    return config


if __name__ == "__main__":
    sys.exit(main())
