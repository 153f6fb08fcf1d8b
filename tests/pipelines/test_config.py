from __future__ import annotations

import pytest

from pipelines.config import JobConfig, load_config
from pipelines.configlib import ConfigError, fingerprint, to_dict


def write(tmp_path, text: str):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return str(path)


def test_defaults_yaml_then_overrides(tmp_path):
    path = write(tmp_path, "seed: 7\ningest:\n  max_doc_bytes: 1000\nrunner:\n  workers: 2\n")
    cfg = load_config(path, ["ingest.max_doc_bytes=2000", "ingest.extractor=trafilatura"])
    assert cfg.seed == 7 and cfg.runner.workers == 2
    assert cfg.ingest.max_doc_bytes == 2000 and cfg.ingest.extractor == "trafilatura"
    assert cfg.ingest.strip_gutenberg is True


@pytest.mark.parametrize(("override", "message"), [
    (["ingest.bogus=1"], "unknown key ingest.bogus"),
    (["ingest.max_doc_bytes=abc"], "ingest.max_doc_bytes: expected an integer"),
    (["ingest.extractor=magic"], "ingest.extractor: 'magic' is not one of"),
    (["runner.workers=-1"], "runner.workers: must be >= 0"),
    (["ingest.strip_gutenberg=maybe"], "ingest.strip_gutenberg: expected true or false"),
    (["inputs=[{name: x}]"], "inputs[0]"),
    (["nope"], "expected dotted.key=value"),
])
def test_errors_name_the_key(override, message):
    with pytest.raises(ConfigError, match=__import__("re").escape(message)):
        load_config(None, override)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [1,"))


def test_config_is_frozen_and_round_trips():
    cfg = load_config(None, ["inputs=[{path: a.jsonl, name: web}]"])
    with pytest.raises(AttributeError):
        cfg.seed = 3  # type: ignore[misc]
    data = to_dict(cfg)
    assert data["inputs"][0]["name"] == "web"
    from pipelines.configlib import load_dataclass

    assert load_dataclass(JobConfig, data) == cfg
    assert fingerprint(cfg) == fingerprint(load_dataclass(JobConfig, data))
