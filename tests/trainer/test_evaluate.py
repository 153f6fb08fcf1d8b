"""Bits per byte: checked against a hand computation on a tiny model, and `curate eval` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.config import ModelConfig
from trainer.evaluate import TokenizedEvalSet, bits_per_byte, eval_windows
from trainer.model import IGNORE_INDEX, Transformer

EOS = 3


def _tiny_model(seq_len: int = 8) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(ModelConfig(d_model=16, n_layers=1, n_heads=2, seq_len=seq_len), 40)
    return model.eval()


def _hand_nll(model: Transformer, ids: list[int], seq_len: int) -> float:
    """Token by token: -log softmax(logits)[target], each chunk of seq_len targets in its own context."""
    seq = [EOS, *ids]
    total = 0.0
    for start in range(0, len(ids), seq_len):
        for j in range(start, min(start + seq_len, len(ids))):
            context = torch.tensor([seq[start : j + 1]])
            logits = model(context)[0, -1].double()
            total -= float(torch.log_softmax(logits, -1)[seq[j + 1]])
    return total


def test_bits_per_byte_equals_hand_computation():
    model = _tiny_model(seq_len=8)
    docs = [np.array([5, 9, 11, 4]), np.arange(4, 24), np.array([7])]  # the second spans three windows
    texts = ["abcd", "naïve café " * 2, "x"]
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    assert n_bytes > sum(map(len, texts))  # multi-byte characters count as bytes, not characters
    result = bits_per_byte(model, TokenizedEvalSet("s", docs, n_bytes), eos_id=EOS, seq_len=8, batch_size=2)
    expected_nll = sum(_hand_nll(model, d.tolist(), 8) for d in docs)
    assert result.tokens == 25 and result.items == 3 and result.bytes == n_bytes
    assert result.nll_nats == pytest.approx(expected_nll, rel=1e-5)
    assert result.bits_per_byte == pytest.approx(expected_nll / math.log(2) / n_bytes, rel=1e-5)


def test_windows_score_every_token_once():
    docs = [np.arange(4, 21), np.array([30])]
    w = eval_windows(docs, EOS, seq_len=8)
    assert w.shape == (4, 9)  # 17 tokens -> 3 windows, 1 token -> 1 window
    targets = w[:, 1:][w[:, 1:] != IGNORE_INDEX]
    assert sorted(targets.tolist()) == sorted([*range(4, 21), 30])
    assert w[0, 0] == EOS and w[3, 0] == EOS and w[1, 0] == 11  # later windows start inside the doc


def test_batch_size_does_not_change_the_result():
    model = _tiny_model()
    data = TokenizedEvalSet("s", [np.arange(4, 30), np.array([5, 6, 7])], 100)
    a = bits_per_byte(model, data, eos_id=EOS, seq_len=8, batch_size=1)
    b = bits_per_byte(model, data, eos_id=EOS, seq_len=8, batch_size=64)
    assert a.nll_nats == pytest.approx(b.nll_nats, rel=1e-6)


def test_curate_eval_and_train_eval_sets(tmp_path: Path, sample_dir: Path, capsys):
    pytest.importorskip("sentencepiece")
    from pipelines.cli import main
    from tests.trainer.test_cli import SETTINGS, _make_run

    run = _make_run(tmp_path / "run", sample_dir)
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("\n".join(json.dumps({"id": f"h{i}", "text": f"Alice said {i} words to the Queen."})
                                 for i in range(5)) + "\n")
    udhr = tmp_path / "udhr.txt"
    udhr.write_text("All human beings are born free and equal in dignity and rights.\n")
    job = tmp_path / "job.yaml"
    job.write_text(f"eval_sets:\n  heldout: {{path: {heldout}}}\ntrain:\n  eval_sets: [heldout]\n")
    assert main(["train", "--run", str(run), "--config", str(job), "--max-steps", "3", *SETTINGS]) == 0
    metrics = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    logged = [m["eval_bpb"]["heldout"] for m in metrics if "eval_bpb" in m]
    assert logged and all(0 < b < 20 for b in logged)
    capsys.readouterr()

    assert main(["eval", "--run", str(run), "--config", str(job), "--eval", f"udhr={udhr}"]) == 0
    out = capsys.readouterr().out
    assert "heldout" in out and "udhr" in out and "bits/byte" in out
    results = json.loads((run / "eval" / "results.json").read_text())
    assert results["step"] == 3 and set(results["sets"]) == {"heldout", "udhr"}
    # the last logged training figure is the same computation on the same checkpoint
    assert results["sets"]["heldout"]["bits_per_byte"] == pytest.approx(logged[-1], abs=1e-5)
    assert results["sets"]["udhr"]["items"] == 1

    from pipelines.report import write_report

    page = write_report(run, card=False)["report"].read_text()
    assert "Decontamination and evaluation" in page and "udhr" in page
    assert f"{results['sets']['udhr']['bits_per_byte']:.4f}" in page and "heldout bpb" in page

    assert main(["eval", "--run", str(run), "--eval", "bad"]) == 2
    assert main(["eval", "--run", str(run), "--eval", f"none={tmp_path}/missing*.jsonl"]) == 2
