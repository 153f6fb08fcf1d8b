"""The README's Dataflow, Flink and Spark commands: curate's command line takes them, Beam builds its
PipelineOptions from them, and `setup.py` builds the source distribution Beam ships to the workers.
(No cluster is reachable from the tests: these commands are checked, not run.)"""

from __future__ import annotations

import importlib
import shlex
import shutil
import tarfile
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PortableOptions,
    SetupOptions,
    SparkRunnerOptions,
    StandardOptions,
)

from pipelines.cli import _base_parser, all_commands, check_beam_args
from pipelines.config import RunnerConfig
from pipelines.runners import pipeline_options

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> dict[str, list[str]]:
    """The `curate run ... --runner X` lines of the README's cluster section, by runner."""
    out = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("curate run ") and "--runner " in line:
            argv = shlex.split(line)[1:]
            out[argv[argv.index("--runner") + 1]] = argv
    return out


def parse(argv: list[str]):
    """What `curate COMMAND ...` does with its arguments before running (pipelines.cli.main)."""
    command, *rest = argv
    module = importlib.import_module(all_commands()[command][0])
    parser = _base_parser(f"curate {command}", "", config_option=not hasattr(module, "config_file"))
    if getattr(module, "NEEDS_RUN", True):
        parser.add_argument("--run", required=True)
    module.add_arguments(parser)
    args, beam_args = parser.parse_known_args(rest)
    check_beam_args(beam_args)
    return args, beam_args


def test_the_readme_has_the_three_cluster_runners():
    assert set(readme_commands()) == {"DataflowRunner", "FlinkRunner", "SparkRunner"}


@pytest.mark.parametrize("runner", ["DataflowRunner", "FlinkRunner", "SparkRunner"])
def test_readme_cluster_command_parses_into_beam_options(runner: str):
    argv = readme_commands()[runner]
    args, beam_args = parse(argv)
    assert args.runner == runner and args.job == "examples/crawl.yaml" and (ROOT / args.job).is_file()
    assert args.run.startswith(("gs://", "s3://"))
    with pipeline_options(RunnerConfig(name=args.runner), beam_args) as options:
        assert options.view_as(StandardOptions).runner == runner
        setup = options.view_as(SetupOptions)
        assert setup.setup_file == "./setup.py" and (ROOT / setup.setup_file).is_file()
        if runner == "DataflowRunner":
            gcp = options.view_as(GoogleCloudOptions)
            assert (gcp.project, gcp.region) == ("PROJECT", "us-central1")
            assert gcp.temp_location.startswith("gs://")
            assert (ROOT / setup.requirements_file).is_file()
        else:
            assert options.view_as(PortableOptions).environment_type == "DOCKER"
        if runner == "FlinkRunner":
            assert options.view_as(FlinkRunnerOptions).flink_master == "HOST:8081"
        if runner == "SparkRunner":
            assert options.view_as(SparkRunnerOptions).spark_master_url == "spark://HOST:7077"


def test_setup_py_builds_the_package_beam_ships_to_workers(tmp_path: Path):
    from apache_beam.runners.portability.stager import Stager

    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("pipelines", "filters", "tokenizer", "trainer", "service"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "staged"
    out.mkdir()
    tarball = Stager._build_setup_package(str(src / "setup.py"), str(out))  # what --setup_file runs
    with tarfile.open(tarball) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        info = tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO")
                                    and m.name.count("/") == 1)).read().decode()
    for path in ("pipelines/cli.py", "pipelines/stages/ingest.py", "pipelines/storage.py", "filters/data",
                 "tokenizer/__init__.py", "trainer/shardcache.py", "pyproject.toml"):
        assert path in names, path
    assert not any(n.startswith("tests/") for n in names)
    assert "Requires-Dist: apache-beam" in info and "Requires-Dist: s3fs" in info
