"""The training loop: exact resume, learning, refusals."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.trainer.conftest import FINGERPRINT, markov_source, write_shards
from trainer.checkpoint import latest_checkpoint, load_checkpoint
from trainer.config import ModelConfig, TrainConfig
from trainer.data import ShardError, load_manifest, unigram_entropy
from trainer.train import train

TINY = TrainConfig(
    model=ModelConfig(d_model=32, n_layers=2, n_heads=2, seq_len=32),
    batch_size=4, grad_accum=2, max_steps=24, warmup_steps=4, lr=1e-2, min_lr=1e-3,
    eval_interval=8, eval_batches=4, log_interval=4, checkpoint_interval=0, keep_last=2,
)


@pytest.fixture(scope="module")
def markov_shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("markov") / "shards", vocab_size=128, docs_per_shard=30,
                        token_source=markov_source(128))


def _params(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(latest_checkpoint(out / "checkpoints"))["model"]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_at_half_gives_exactly_the_uninterrupted_loss(markov_shards: Path, tmp_path: Path,
                                                             num_workers: int):
    cfg = replace(TINY, num_workers=num_workers)
    full = train(cfg, markov_shards, tmp_path / "full", log=None)
    first = train(cfg, markov_shards, tmp_path / "resumed", stop_at=12, log=None)
    assert (first.step, first.completed) == (12, False)
    rest = train(cfg, markov_shards, tmp_path / "resumed", resume=True, log=None)
    assert (rest.step, rest.completed) == (24, True)
    assert rest.loss == full.loss and rest.val_loss == full.val_loss  # exact, not approximate
    a, b = _params(tmp_path / "full"), _params(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)

    def losses(out: Path) -> list[tuple[int, float]]:
        recs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["loss"], r.get("val_loss") if r["step"] % 8 == 0 else None) for r in recs
                if r["step"] % 4 == 0]

    assert losses(tmp_path / "resumed") == losses(tmp_path / "full")


def test_it_learns_well_below_the_unigram_entropy(markov_shards: Path, tmp_path: Path):
    result = train(replace(TINY, max_steps=40), markov_shards, tmp_path / "out", log=None)
    entropy = unigram_entropy(load_manifest(markov_shards))
    assert result.val_loss is not None and result.val_loss < entropy - 1.0
    recs = [json.loads(x) for x in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "loss", "lr", "tokens_per_s"} <= set(recs[0]) and recs[-1]["step"] == 40
    assert [r["step"] for r in recs if "val_loss" in r] == [8, 16, 24, 32, 40]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["vocab_size"] == 128 and config["train"]["max_steps"] == 40


def test_an_existing_run_is_not_overwritten(markov_shards: Path, tmp_path: Path):
    train(replace(TINY, max_steps=2), markov_shards, tmp_path / "out", log=None)
    with pytest.raises(FileExistsError, match="already has checkpoints"):
        train(replace(TINY, max_steps=2), markov_shards, tmp_path / "out", log=None)


def test_shards_of_another_tokenizer_are_refused(tmp_path: Path):
    shards = write_shards(tmp_path / "shards", fingerprint="1111")
    with pytest.raises(ShardError, match="manifest.json: tokenizer fingerprint 1111 does not match"):
        train(TINY, shards, tmp_path / "out", expected_fingerprint=FINGERPRINT, log=None)


def test_resume_refuses_a_checkpoint_of_another_tokenizer(tmp_path: Path):
    shards = write_shards(tmp_path / "a")
    train(replace(TINY, max_steps=2), shards, tmp_path / "out", log=None)
    other = write_shards(tmp_path / "b", fingerprint="2222")
    with pytest.raises(ShardError, match="step-00000002.pt: trained with tokenizer"):
        train(replace(TINY, max_steps=4), other, tmp_path / "out", resume=True, log=None)


def test_size_from_plan_and_one_epoch(markov_shards: Path, tmp_path: Path):
    cfg = replace(TINY, size_from_plan=True, max_steps=None)
    result = train(cfg, markov_shards, tmp_path / "out", stop_at=1, log=None)
    manifest = load_manifest(markov_shards)
    assert result.max_steps == -(-manifest.tokens("train") // (4 * 2 * 32))
    assert result.config["model"]["n_heads"] == result.config["model"]["d_model"] // 64


def test_sigterm_finishes_the_step_and_writes_a_resumable_checkpoint(markov_shards: Path, tmp_path: Path):
    import os
    import signal

    from trainer.train import default_loader

    class SignallingLoader:
        def __init__(self, manifest, cfg, di, state):
            self.inner = default_loader(manifest, cfg, di, state)

        def state_dict(self):
            return self.inner.state_dict()

        def __iter__(self):
            for i, batch in enumerate(self.inner):
                if i == 2 * 5:  # while fetching step 6's micro-batches (2 per step)
                    os.kill(os.getpid(), signal.SIGTERM)
                yield batch

    cfg = replace(TINY, max_steps=10)
    stopped = train(cfg, markov_shards, tmp_path / "a", log=None, loader_factory=SignallingLoader)
    assert (stopped.step, stopped.completed) == (6, False)
    assert latest_checkpoint(tmp_path / "a" / "checkpoints").name == "step-00000006.pt"
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handler restored
    resumed = train(cfg, markov_shards, tmp_path / "a", resume=True, log=None)
    full = train(cfg, markov_shards, tmp_path / "b", log=None)
    assert resumed.loss == full.loss and resumed.completed


def test_on_checkpoint_runs_after_each_checkpoint_is_written(markov_shards: Path, tmp_path: Path):
    seen = []

    def hook(step: int) -> None:  # what a bucket run uploads then: the checkpoint and the metrics up to it
        metrics = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
        seen.append((step, latest_checkpoint(tmp_path / "out" / "checkpoints").name, json.loads(metrics[-1])["step"]))

    train(replace(TINY, max_steps=8, checkpoint_interval=4), markov_shards, tmp_path / "out", log=None,
          on_checkpoint=hook)
    assert [(s, m) for s, _, m in seen] == [(4, 4), (8, 8)]
    assert all(f"{s:08d}" in name for s, name, _ in seen)
