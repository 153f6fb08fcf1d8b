"""The `curate` command line. Each subcommand lives in its stage module; this file only dispatches.

Common to every command: `--config FILE` (YAML), `--set dotted.key=value` (repeatable), `--run RUN`,
`--runner direct|dask|<Beam runner>`, `--workers N`, `--dask-address ADDR`. Flags this parser does not
know are handed to Beam's PipelineOptions (e.g. `--direct_running_mode=multi_processing`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from dataclasses import replace

from pipelines import stages as registry
from pipelines.configlib import ConfigError

#: Commands that are not stages: command -> (module, one-line help). The stages' commands come from the
#: stage registry (`pipelines.stages.STAGES`). Modules load lazily: `curate ingest` never imports torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipelines.job", "run a whole job from one YAML file, skipping completed stages"),
    "quality": ("pipelines.stages.quality", "train the fastText quality classifier"),
    "eval": ("pipelines.stages.eval", "bits per byte of the latest checkpoint on held-out eval sets"),
    "ablate": ("pipelines.ablate", "train equal-token models on variants of a recipe, compare bits per byte"),
    "generate": ("pipelines.stages.generate", "sample text from the last checkpoint"),
    "export": ("pipelines.stages.export", "write the trained model and tokenizer as a Hugging Face folder"),
    "report": ("pipelines.report.command", "write RUN/report/index.html and the dataset card"),
    "serve": ("service.commands.serve", "run the job service: HTTP API, web page and job executor"),
    "worker": ("service.commands.worker", "run jobs from the service's shared queue without serving HTTP"),
    "submit": ("service.commands.submit", "submit a job file (or a train job) to the service"),
    "jobs": ("service.commands.jobs", "list the service's jobs"),
    "status": ("service.commands.status", "show a service job's state and stage progress"),
    "logs": ("service.commands.logs", "print a service job's log (--follow)"),
    "cancel": ("service.commands.cancel", "cancel a queued or running service job"),
    "retry": ("service.commands.retry", "retry a failed or cancelled service job"),
    "token": ("service.commands.token", "create a service API token: curate token create NAME"),
}


def all_commands() -> dict[str, tuple[str, str]]:
    """Every command in the order `curate --help` lists them: run, the stages in job order, the others."""
    out = {"run": COMMANDS["run"]}
    out.update({s.command: (s.module, s.help) for s in registry.STAGES})
    out.update({k: v for k, v in COMMANDS.items() if k != "run"})
    return out


def _runs_pipelines(command: str) -> bool:
    """Whether the command runs Beam stages (which may want the warm worker pool)."""
    return command == "run" or any(s.command == command and s.beam for s in registry.STAGES)


class UsageError(Exception):
    """A command line curate cannot take as it is."""


def _base_parser(prog: str, help_text: str, config_option: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=help_text)
    if config_option:
        p.add_argument("--config", help="YAML config file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set filter.gopher_quality.min_words=40 (repeatable)")
    p.add_argument("--runner", help="direct (default), dask, or any Beam runner name")
    p.add_argument("--workers", type=int, help="parallel workers for the direct and dask runners")
    p.add_argument("--dask-address", help="address of a running dask.distributed scheduler")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _usage() -> str:
    commands = all_commands()
    width = max(map(len, commands))
    lines = ["usage: curate COMMAND [options] [beam options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in commands.items()]
    lines += ["", "`curate COMMAND --help` for a command's options; -v shows library logs and tracebacks."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command = argv.pop(0)
    verbose = "-v" in argv or "--verbose" in argv
    _quiet_library_logs(verbose)
    commands = all_commands()
    if command not in commands:
        print(f"curate: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_text = commands[command]
    try:
        module = importlib.import_module(module_name)
        parser = _base_parser(f"curate {command}", help_text, config_option=not hasattr(module, "config_file"))
        if getattr(module, "NEEDS_RUN", True):
            parser.add_argument("--run", required=True, help="the run folder")
        module.add_arguments(parser)
        args, beam_args = parser.parse_known_args(argv)
        check_beam_args(beam_args)
        config = _load(args, module)
        if _runs_pipelines(command):
            from pipelines import gc_policy, worker_pool
            from pipelines.runners import explicit_runner

            gc_policy.apply(freeze=True)  # (before the fork: the pool and its workers inherit it)
            if not explicit_runner(beam_args):
                worker_pool.prefork(config.runner)  # ready before the first stage wants workers
        return int(module.main(args, config, beam_args) or 0)
    except ConfigError as e:  # raised before any work starts
        print(f"curate {command}: config error: {_one_line(str(e))}", file=sys.stderr)
        return 2
    except UsageError as e:
        print(f"curate {command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"curate {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if verbose:
            raise
        print(f"curate {command}: error: {_describe(e)}", file=sys.stderr)
        return 1


def _describe(e: BaseException) -> str:
    """One line for an error: its message (errors of ours name the file or key), else its type too."""
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.strerror or type(e).__name__}: {e.filename}"
    message = _one_line(str(e))
    ours = type(e).__module__.startswith(("pipelines", "filters", "tokenizer", "trainer", "service"))
    if ours and message:
        return message
    return f"{type(e).__name__}: {message}" if message else type(e).__name__


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.strip().splitlines() if line.strip())


def check_beam_args(beam_args: list[str]) -> None:
    """Arguments our parser did not take go to Beam; each must be an option Beam knows. Beam itself only
    logs "Discarding unparseable args" and goes on, which turns a typo or a shell-expanded glob into
    silently ignored input."""
    if not beam_args:
        return
    _, unknown = _beam_parser().parse_known_args(beam_args)
    if not unknown:
        return
    arg = unknown[0]
    hint = ""
    if not arg.startswith("-"):
        hint = " (to read several files, list them all after --input, or quote the glob: --input 'dir/*.warc.gz')"
    elif arg.split("=")[0] == "--config":
        hint = " (curate run reads its config from the job file given as its argument)"
    raise UsageError(f"unrecognized argument {arg!r}: neither a curate option nor a Beam pipeline option{hint}")


def _beam_parser() -> argparse.ArgumentParser:
    """A parser that knows every Beam pipeline option (runner-specific ones too)."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    seen: set[type] = set()
    todo = list(PipelineOptions.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        cls._add_argparse_args(parser)
        todo.extend(cls.__subclasses__())
    return parser


class _DropNoise(logging.Filter):
    """Import-time and per-record chatter from libraries that says nothing about the user's job."""

    NOISE = ("apitools not found", "Replacing spaces in invalid WARC-Target-URI")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("distributed", "apache_beam.runners.dask")) and record.levelno < logging.ERROR:
            return False
        msg = str(record.msg)
        return not any(n in msg for n in self.NOISE)


def _quiet_library_logs(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    if verbose:
        return
    os.environ.setdefault("CURATE_QUIET", "1")  # Beam's worker processes read it (pipelines.beam_worker)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    for name in ("distributed", "apache_beam", "warcio"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _load(args: argparse.Namespace, module):
    """The config: the job file (`curate run`) or --config, then --set, then the flags, each flag
    overriding only the key it names."""
    from pipelines.config import load_config

    path = module.config_file(args) if hasattr(module, "config_file") else args.config
    config = load_config(path, args.overrides)
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
    if getattr(module, "NEEDS_RUN", True):
        _check_run_folder(args.run)
    return config


def _check_run_folder(run: str) -> None:
    if os.path.exists(run) and not os.path.isdir(run):
        raise UsageError(f"--run: {run} is a file, not a run folder")


if __name__ == "__main__":
    sys.exit(main())
