"""`curate ablate`: variants x seeds on a tiny job, shared upstream stages, the table and the HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.ablate import load_ablation
from pipelines.cli import main as curate
from pipelines.configlib import ConfigError

pytest.importorskip("torch")


def _setup(tmp_path: Path, sample_dir: Path) -> Path:
    text = (sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8")[10_000:70_000]
    paras = [p.replace("\n", " ").strip() for p in text.split("\n\n") if len(p.strip()) > 200]
    docs = [{"id": f"p{i}", "text": p} for i, p in enumerate(paras)]
    docs += [{"id": f"spam{i}", "text": "Buy cheap watches now\n" * 30} for i in range(10)]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "heldout.txt").write_text(
        (sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8")[90_000:96_000])
    (tmp_path / "job.yaml").write_text(
        "inputs: [{path: docs.jsonl, name: books, kind: text}]\n"
        "stages: [ingest, filter, tokenizer, tokenize, train]\n"
        "runner: {workers: 1}\n"
        "tokenizer: {vocab_size: 400, heldout_fraction: 0.0}\n"
        "tokenize: {val_fraction: 0.0}\n"
        "train: {model: {d_model: 32, n_layers: 1, n_heads: 2, seq_len: 32}, batch_size: 4, warmup_steps: 1,\n"
        "        eval_interval: 0, checkpoint_interval: 0}\n")
    (tmp_path / "ablation.yaml").write_text(
        "base: job.yaml\nname: recipe\nseeds: [0, 1]\ntrain_tokens: 512\n"
        "eval_sets: {alice: {path: heldout.txt}}\n"
        "variants:\n  raw: {stages: [ingest, tokenizer, tokenize, train]}\n")
    return tmp_path / "ablation.yaml"


def test_ablate_runs_variants_and_seeds_sharing_upstream_stages(tmp_path: Path, sample_dir: Path, capsys,
                                                               monkeypatch):
    ablation = _setup(tmp_path, sample_dir)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert curate(["ablate", str(ablation), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "recipe" in printed and "raw" in printed and "alice bpb" in printed
    summary = json.loads((out / "ablation.json").read_text())
    assert set(summary["variants"]) == {"recipe", "raw"} and summary["eval_sets"] == ["alice"]
    for row in summary["variants"].values():
        cell = row["sets"]["alice"]
        assert set(cell["per_seed"]) == {"0", "1"} and all(0 < v < 30 for v in cell["per_seed"].values())
        assert row["steps"] == 4 and row["train_tokens_seen"] == 512  # equal tokens: 512 / (4 x 32)
    assert summary["variants"]["recipe"]["sets"]["alice"]["diff"] == 0
    raw = summary["variants"]["raw"]["sets"]["alice"]
    assert raw["diff"] == pytest.approx(raw["mean"] - summary["variants"]["recipe"]["sets"]["alice"]["mean"])
    # ingest ran once for everything; the recipe's filter once for both seeds
    assert not (out / "recipe" / "seed-0" / "ingest").is_symlink()
    for run in ("recipe/seed-1", "raw/seed-0", "raw/seed-1"):
        assert (out / run / "ingest").is_symlink()
    assert (out / "recipe" / "seed-1" / "filter").is_symlink()
    assert (out / "raw" / "seed-1" / "tokenizer").is_symlink() and not (out / "raw" / "seed-0" / "filter").exists()
    # the seeds train different models on the same data
    seeds = summary["variants"]["recipe"]["sets"]["alice"]["per_seed"]
    assert seeds["0"] != seeds["1"]
    page = (out / "index.html").read_text()
    assert "<svg" in page and "raw" in page

    # rerunning skips every finished run and gives the same table
    assert curate(["ablate", str(ablation), "--out", str(out)]) == 0
    again = capsys.readouterr().out
    assert "[train] up to date" in again and "[train] running" not in again
    assert json.loads((out / "ablation.json").read_text()) == summary


def test_ablation_file_errors_name_the_key(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_ablation(tmp_path / "a.yaml")
    (tmp_path / "job.yaml").write_text("inputs: [{path: x}]\n")
    (tmp_path / "b.yaml").write_text("base: job.yaml\nvariants: {base: {}}\n")
    with pytest.raises(ConfigError, match="base's name"):
        load_ablation(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("base: job.yaml\nseed: [1]\n")
    with pytest.raises(ConfigError, match="unknown key 'seed'"):
        load_ablation(tmp_path / "c.yaml")
