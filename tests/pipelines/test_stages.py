"""The stage registry: one list that the CLI, `curate run`, the run layout and the config read.

Adding a stage is one module and one `Stage(...)` line: the toy stage in `tests/pipelines/toy/shout.py`
is added to the registry here and then works as a job stage, as a command and as a documents source.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines import stages as registry
from pipelines.cli import all_commands
from pipelines.cli import main as curate
from pipelines.config import JobConfig
from pipelines.runlayout import RunLayout
from pipelines.stages import Stage, get_stage

SHOUT = Stage("shout", "tests.pipelines.toy.shout", "shout", "upper-case every document", config=(),
              documents=True, needs=("ingest",))


@pytest.fixture()
def with_shout(monkeypatch):
    """The registry with the toy stage after dedup: the one line a new stage adds."""
    stages = list(registry.STAGES)
    stages.insert(registry.stage_names().index("dedup") + 1, SHOUT)
    monkeypatch.setattr(registry, "STAGES", tuple(stages))


def test_every_stage_module_loads_and_has_the_hooks():
    for stage in registry.STAGES:
        module = stage.load()
        assert callable(module.run), stage.name
        assert callable(module.add_arguments) and callable(module.main), stage.name
        for key in stage.config:
            assert key in JobConfig.__dataclass_fields__, (stage.name, key)
        assert all(n in registry.stage_names() for n in stage.needs)
    assert registry.stage_names()[0] == "ingest"


def test_commands_list_stages_in_job_order_then_the_others():
    commands = list(all_commands())
    assert commands[0] == "run"
    assert commands[1:1 + len(registry.STAGES)] == [s.command for s in registry.STAGES]
    assert {"quality", "generate", "report"} <= set(commands)


def test_tokenize_commits_to_shards_and_layout_reads_document_stages_latest_first():
    assert get_stage("tokenize").folder == "shards"
    assert get_stage("tokenizer_eval").command == "tokenizer-eval"
    assert registry.document_folders() == ("ingest", "filter", "dedup", "dedup_lines", "decontaminate")
    assert "decontaminate" not in registry.default_stage_names()  # opt-in: needs eval sets


def _job(tmp_path: Path, stages: list[str]) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "a.jsonl").write_text("".join(json.dumps({"text": f"Document number {i} about ships."}) + "\n"
                                          for i in range(12)))
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({"inputs": [{"path": "data/*.jsonl", "name": "articles"}], "stages": stages,
                                    "report": False, "runner": {"workers": 1}}))
    return path


def test_a_toy_stage_added_with_one_registry_line_runs_in_a_job(with_shout, tmp_path, capsys):
    assert "shout" in all_commands()
    run = tmp_path / "run"
    assert curate(["run", str(_job(tmp_path, ["ingest", "shout"])), "--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert "[shout] done" in out
    layout = RunLayout(run)
    assert layout.latest_documents_stage() == "shout"  # later stages read it
    texts = pq.read_table(layout.parts("shout")[0]).column("text").to_pylist()
    assert texts and all(t == t.upper() for t in texts)
    success = layout.read_success("shout")
    assert success["counts"]["out"] == 12 and success["job_fingerprint"]
    # the same stage as a command of its own
    assert curate(["shout", "--run", str(run)]) == 0
    assert "shout: 12 documents" in capsys.readouterr().out


def test_job_validation_reads_the_registry(with_shout, tmp_path, capsys):
    run = tmp_path / "run"
    assert curate(["run", str(_job(tmp_path, ["ingest", "shout", "filter"])), "--run", str(run)]) == 2
    assert "must be in the order ingest, filter, dedup, shout" in capsys.readouterr().err
