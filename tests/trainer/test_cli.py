"""`curate train` and `curate generate` end to end on a tiny run folder with a real SentencePiece model."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.cli import main

spm = pytest.importorskip("sentencepiece")

SETTINGS = ["--set", "train.model.d_model=32", "--set", "train.model.n_layers=1", "--set", "train.model.n_heads=2",
            "--set", "train.model.seq_len=32", "--set", "train.batch_size=4", "--set", "train.eval_interval=3",
            "--set", "train.log_interval=1", "--set", "train.warmup_steps=2"]


def _make_run(root: Path, sample_dir: Path) -> Path:
    text = (sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8")[20_000:80_000]
    paragraphs = [p.replace("\n", " ").strip() for p in text.split("\n\n") if len(p.strip()) > 40]
    tok_dir = root / "tokenizer"
    tok_dir.mkdir(parents=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(paragraphs), model_writer=model, vocab_size=300, model_type="bpe",
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, minloglevel=2,
    )
    (tok_dir / "tokenizer.model").write_bytes(model.getvalue())
    fingerprint = hashlib.sha256(model.getvalue()).hexdigest()[:16]
    (tok_dir / "tokenizer_card.json").write_text(json.dumps({"fingerprint": fingerprint, "vocab_size": 300}))
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    shards = root / "shards"
    shards.mkdir()
    entries = []
    for split, docs in (("train", paragraphs[20:]), ("val", paragraphs[:20])):
        ids = [np.array(sp.encode(p) + [3], dtype=np.uint16) for p in docs]
        name = f"{split}-00000-of-00001.parquet"
        pq.write_table(pa.table({
            "id": [f"{split}{i}" for i in range(len(ids))], "source": ["books"] * len(ids),
            "input_ids": pa.array([x.tolist() for x in ids], pa.list_(pa.uint16())),
            "num_tokens": pa.array([len(x) for x in ids], pa.int32()),
        }), shards / name)
        entries.append({"file": name, "split": split, "rows": len(ids), "tokens": int(sum(map(len, ids))),
                        "sha256": hashlib.sha256((shards / name).read_bytes()).hexdigest()})
    (shards / "manifest.json").write_text(json.dumps({
        "format": "curate-shards/1", "dtype": "uint16", "shards": entries, "seed": 0,
        "tokenizer": {"fingerprint": fingerprint, "vocab_size": 300, "pad_id": 0, "unk_id": 1, "bos_id": 2,
                      "eos_id": 3, "add_bos": False},
    }))
    return root


def test_train_plan_resume_and_generate(tmp_path: Path, sample_dir: Path, capsys):
    run = _make_run(tmp_path / "run", sample_dir)
    assert main(["train", "--run", str(run), "--plan", *SETTINGS]) == 0
    assert "compute-optimal params D/20" in capsys.readouterr().out

    assert main(["train", "--run", str(run), "--max-steps", "3", *SETTINGS]) == 0
    out = capsys.readouterr().out
    assert "final val loss" in out and "unigram entropy" in out
    success = json.loads((run / "train" / "_SUCCESS").read_text())
    assert success["completed"] and success["step"] == 3 and success["unigram_entropy"] > 0

    assert main(["train", "--run", str(run), "--max-steps", "5", *SETTINGS]) == 1  # would overwrite
    assert "--resume continues" in capsys.readouterr().err
    assert main(["train", "--run", str(run), "--max-steps", "5", "--resume", *SETTINGS]) == 0
    metrics = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5]
    capsys.readouterr()

    assert main(["generate", "--run", str(run), "--prompt", "Alice was", "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out.startswith("Alice was")


def test_a_tokenizer_card_that_does_not_match_the_shards_is_refused(tmp_path: Path, sample_dir: Path, capsys):
    run = _make_run(tmp_path / "run", sample_dir)
    (run / "tokenizer" / "tokenizer_card.json").write_text(json.dumps({"fingerprint": "0000beef"}))
    assert main(["train", "--run", str(run), "--max-steps", "1", *SETTINGS]) == 1
    err = capsys.readouterr().err
    assert "manifest.json: tokenizer fingerprint" in err and "0000beef" in err


def test_under_curate_run_resume_continues_the_same_job_and_restarts_a_changed_one(tmp_path: Path, sample_dir: Path,
                                                                                   capsys):
    from pipelines.config import load_config
    from pipelines.runlayout import RunLayout
    from pipelines.stages import train as stage

    run = _make_run(tmp_path / "run", sample_dir)
    overrides = [s for s in SETTINGS if s != "--set"]
    config = load_config(None, [*overrides, "train.max_steps=4"])

    def job(fp: str, stop_at: int | None = None) -> dict:
        layout = RunLayout(run)
        layout.job_fingerprints["train"] = fp
        if stop_at is None:
            return stage.run(layout, config, [], resume=True)
        import trainer.train

        real = trainer.train.train
        trainer.train.train = lambda *a, **k: real(*a, **k, stop_at=stop_at)
        try:
            return stage.run(layout, config, [], resume=True)
        finally:
            trainer.train.train = real

    assert job("A", stop_at=2)["step"] == 2  # interrupted
    assert not (run / "train" / "_SUCCESS").exists()
    job("A")  # the same job continues from step 2
    metrics = (run / "train" / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 4 and "resuming from" in capsys.readouterr().out
    assert json.loads((run / "train" / "_SUCCESS").read_text())["job_fingerprint"] == "A"
    job("B")  # the config changed: start over
    assert "resuming" not in capsys.readouterr().out
    assert json.loads((run / "train" / "_SUCCESS").read_text())["job_fingerprint"] == "B"
