"""DistributedDataParallel on 2 CPU processes (gloo) equals one process on the same global batches."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.trainer.conftest import markov_source, write_shards
from tests.trainer.test_train import TINY
from trainer.checkpoint import latest_checkpoint, load_checkpoint
from trainer.data import TrainLoader
from trainer.train import train

CFG = replace(TINY, batch_size=2, grad_accum=2, max_steps=10, eval_interval=5, eval_batches=1000,
              log_interval=1, checkpoint_interval=0)


def _worker(rank: int, world: int, shards: str, out: str, init_file: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        result = train(CFG, shards, out, log=None)
        Path(out, f"result-{rank}.json").write_text(json.dumps({"loss": result.loss, "val": result.val_loss}))
    finally:
        dist.destroy_process_group()


def _both_lanes(manifest, cfg, di, state):
    """One process reading what ranks 0 and 1 of 2 read, concatenated: the same global batches."""
    half = cfg.batch_size // 2
    ranks = [iter(TrainLoader(manifest, seq_len=cfg.model.seq_len, batch_size=half, rank=r, world_size=2,
                              seed=cfg.seed)) for r in range(2)]
    while True:
        yield torch.cat([next(it) for it in ranks])


def _metrics(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not dist.is_gloo_available(), reason="no gloo backend")
def test_two_cpu_processes_match_one_with_the_same_global_batch(tmp_path: Path):
    shards = write_shards(tmp_path / "shards", vocab_size=128, docs_per_shard=30, token_source=markov_source(128))
    ddp_out, ref_out = tmp_path / "ddp", tmp_path / "ref"
    os.environ.pop("WORLD_SIZE", None)
    mp.spawn(_worker, args=(2, str(shards), str(ddp_out), str(tmp_path / "init")), nprocs=2, join=True)
    ref = train(replace(CFG, batch_size=2 * CFG.batch_size), shards, ref_out, log=None,
                loader_factory=_both_lanes)

    ddp_metrics, ref_metrics = _metrics(ddp_out), _metrics(ref_out)
    assert [m["step"] for m in ddp_metrics] == [m["step"] for m in ref_metrics] == list(range(1, 11))
    for a, b in zip(ddp_metrics, ref_metrics, strict=True):
        assert a["tokens"] == b["tokens"]
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-6)
        assert a["lr"] == b["lr"]
        if "val_loss" in b:
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5, abs=1e-6)
    assert json.loads((ddp_out / "result-0.json").read_text())["loss"] == pytest.approx(ref.loss, rel=1e-5)
    # both ranks saw the same final loss (it is all-reduced), and the weights agree with the reference
    assert json.loads((ddp_out / "result-1.json").read_text())["loss"] == pytest.approx(ref.loss, rel=1e-5)
    a = load_checkpoint(latest_checkpoint(ddp_out / "checkpoints"))
    b = load_checkpoint(latest_checkpoint(ref_out / "checkpoints"))
    for k in b["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-4, atol=1e-5)
    assert len(a["ranks"]) == 2 and a["ranks"][0]["loader"] != a["ranks"][1]["loader"]
