"""The command line: several inputs after one --input, unknown arguments refused, flags that override
only the keys they name, and one clear line (no traceback) for every error a user can cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import pipelines.job
from pipelines.cli import main as curate
from tests.conftest import SAMPLE_DIR

BOOKS = sorted((SAMPLE_DIR / "books").glob("*.txt"))


def test_a_glob_the_shell_expanded_reads_every_file(tmp_path, capsys):
    # `curate ingest --input books=dir/*.txt` unquoted: the shell passes every file after --input
    run = tmp_path / "run"
    assert len(BOOKS) >= 3
    argv = ["ingest", "--input", f"books={BOOKS[0]}", *map(str, BOOKS[1:]), "--run", str(run), "--workers", "1"]
    assert curate(argv) == 0
    success = json.loads((run / "ingest" / "_SUCCESS").read_text())
    assert success["counts"]["out"] == len(BOOKS)
    config = success["config"]["inputs"]
    assert [c["name"] for c in config] == ["books"] * len(BOOKS)  # the name applies to the whole group


@pytest.mark.parametrize(("extra", "named"), [
    (["stray.txt"], "'stray.txt'"),
    (["--wokers", "2"], "'--wokers'"),
])
def test_an_argument_neither_ours_nor_beams_is_an_error_that_names_it(tmp_path, capsys, extra, named):
    run = tmp_path / "run"
    assert curate(["ingest", "--input", str(BOOKS[0]), "--run", str(run), *extra]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert not run.exists()


def test_a_beam_option_is_still_passed_to_beam(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(pipelines.job, "run_job", lambda config, run, f, beam_args: seen.update(args=beam_args))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"inputs": [{"path": str(BOOKS[0])}]}))
    assert curate(["run", str(job), "--direct_running_mode=multi_threading"]) == 0
    assert seen["args"] == ["--direct_running_mode=multi_threading"]


def test_runner_flags_override_only_the_keys_they_name(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(pipelines.job, "run_job", lambda config, run, f, beam_args: seen.update(config=config))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"inputs": [{"path": str(BOOKS[0])}],
                                   "runner": {"name": "dask", "workers": 64, "mode": "multi_processing"},
                                   "dedup": {"threshold": 0.7}}))
    assert curate(["run", str(job), "--workers", "32", "--set", "dedup.num_perm=64"]) == 0
    runner = seen["config"].runner
    assert (runner.name, runner.workers, runner.mode) == ("dask", 32, "multi_processing")
    assert (seen["config"].dedup.threshold, seen["config"].dedup.num_perm) == (0.7, 64)


def test_run_takes_its_config_from_the_job_file_only(tmp_path, capsys):
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"inputs": [{"path": str(BOOKS[0])}]}))
    assert curate(["run", str(job), "--config", str(job)]) == 2
    assert "job file" in capsys.readouterr().err


def test_the_set_help_example_is_a_real_key(tmp_path, capsys):
    with pytest.raises(SystemExit):
        curate(["filter", "--help"])
    help_text = capsys.readouterr().out.replace("\n", " ")
    example = help_text.split("e.g. --set ")[1].split()[0]
    key, _, value = example.partition("=")
    run = tmp_path / "run"
    curate(["filter", "--run", str(run), "--set", example])
    assert "unknown key" not in capsys.readouterr().err


def _user_errors(tmp_path: Path) -> list[tuple[list[str], str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("inputs: [unclosed\n")
    return [
        (["filter", "--run", str(tmp_path / "empty-run")], "run `curate ingest` first"),
        (["filter", "--run", str(a_file)], "is a file, not a run folder"),
        (["run", str(tmp_path / "missing.yaml")], "missing.yaml"),
        (["run", str(bad_yaml)], "bad.yaml"),
        (["ingest", "--input", str(tmp_path / "nowhere/*.warc.gz"), "--run", str(tmp_path / "r")], "inputs[0].path"),
        (["tokenize", "--run", str(tmp_path / "empty-run")], "run `curate ingest` first"),
        (["report", "--run", str(a_file)], "a-file"),
        (["generate", "--run", str(tmp_path / "empty-run"), "--prompt", "x"], "empty-run"),
        (["train", "--run", str(tmp_path / "empty-run")], "empty-run"),
        (["nonsense"], "unknown command"),
    ]


def test_every_user_error_is_one_clear_line_without_traceback(tmp_path):
    """Run as a user would, in a real process: stderr is one line naming the file or key."""
    for argv, expected in _user_errors(tmp_path):
        p = subprocess.run([sys.executable, "-m", "pipelines.cli", *argv], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode != 0, argv
        err = p.stderr.strip()
        assert "Traceback" not in err, (argv, err)
        assert expected in err, (argv, err)
        first = err.splitlines()[0]
        assert first.startswith("curate"), (argv, err)
        if argv[0] != "nonsense":
            assert len(err.splitlines()) == 1, (argv, err)


def test_verbose_shows_the_traceback(tmp_path):
    p = subprocess.run([sys.executable, "-m", "pipelines.cli", "filter", "--run", str(tmp_path / "r"), "-v"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_multi_process_ingest_is_quiet(tmp_path):
    run = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", "--input", *map(str, BOOKS),
                        "--run", str(run), "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    chatter = [line for line in p.stderr.splitlines() if line.strip() and "curate.progress" not in line]
    assert chatter == [], p.stderr  # the progress lines and the result stay
    assert f"{len(BOOKS)} documents" in p.stdout
