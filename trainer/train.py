"""The training loop: AdamW, warmup + cosine, clipping, accumulation, validation, checkpoints, DDP.

`train(cfg, shards_dir, out_dir)` trains on the shards listed in `shards_dir/manifest.json` and writes
`out_dir/`: `checkpoints/step-*.pt` (one is always written when the run ends), `metrics.jsonl` (one JSON
object per logged step: step, loss, lr, tokens, tokens_per_s, grad_norm, elapsed_s, val_loss when
evaluated, mfu on a GPU) and `config.json` (the resolved configuration).

Under `torchrun` (WORLD_SIZE > 1) it runs DistributedDataParallel: NCCL on GPUs, gloo on CPU. Every rank
reads its own lanes of the shards (trainer/data.py); the loss is normalized by a constant (tokens per
micro-batch times micro-batches), so the averaged gradient equals one process's on the same global batch.

Exact resume: a checkpoint holds the model, AdamW state, schedule, step, every rank's RNG states and data
loader position; on CPU a run resumed at step k reproduces the uninterrupted run bit for bit.

Imports nothing beyond torch at module level (the loader needs pyarrow; it is imported when used), so the
model and step code also run where only torch is installed (benchmarks/gpu_check.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from trainer.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from trainer.config import ModelConfig, TrainConfig
from trainer.model import IGNORE_INDEX, Transformer

if TYPE_CHECKING:
    from trainer.data import Manifest
    from trainer.evaluate import TokenizedEvalSet
    from trainer.shardcache import ShardCache

CHECKPOINTS = "checkpoints"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
CHECKPOINT_FORMAT = "curate-train/1"

#: Dense bf16 tensor-core peak FLOP/s from the vendors' datasheets, for MFU (Chowdhery et al. 2022).
#: First match of the substring in torch.cuda.get_device_name() wins.
PEAK_BF16_FLOPS = (
    ("H200", 989e12), ("GH200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("H800", 989e12),
    ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12), ("L4", 121e12), ("V100", 125e12),
)


# ---- schedule ------------------------------------------------------------------------------------------


class CosineSchedule:
    """Linear warmup to `lr` over `warmup` steps, then cosine decay to `min_lr` at `total` steps
    (Loshchilov & Hutter 2017 without restarts, as used for GPT-3 and Chinchilla)."""

    def __init__(self, lr: float, min_lr: float, warmup: int, total: int):
        self.lr, self.min_lr, self.warmup, self.total = lr, min_lr, warmup, total

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (self.lr - self.min_lr)

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "min_lr": self.min_lr, "warmup": self.warmup, "total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # The horizon follows the current configuration (extending max_steps extends the decay).
        self.lr, self.min_lr, self.warmup = float(state["lr"]), float(state["min_lr"]), int(state["warmup"])


# ---- devices, processes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(pref: str, local_rank: int = 0) -> torch.device:
    if pref == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if pref == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(pref)


def setup_distributed(device_pref: str) -> tuple[DistInfo, bool]:
    """(this process's rank/world/device, whether we created the process group). Uses an existing process
    group if there is one; starts one when launched by torchrun with WORLD_SIZE > 1."""
    created = False
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_pref, local_rank)
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        created = True
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device), created
    return DistInfo(0, 1, 0, device), created


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on a GPU that supports it ("auto"), or where asked; None trains in float32."""
    if cfg.dtype == "bfloat16":
        return torch.bfloat16
    if cfg.dtype == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def peak_flops(cfg: TrainConfig, device: torch.device) -> float | None:
    if cfg.peak_tflops:
        return cfg.peak_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_BF16_FLOPS:
        if key in name:
            return flops
    return None


# ---- model, optimizer, one step ------------------------------------------------------------------------


def build_model(model_cfg: ModelConfig, vocab_size: int, device: torch.device, seed: int) -> Transformer:
    torch.manual_seed(seed)  # every rank builds the same initial weights
    return Transformer(model_cfg, vocab_size).to(device)


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices (embeddings and linear weights), none on norm gains (GPT-3/nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8,
                             fused=device.type == "cuda")


def wrap_model(model: Transformer, di: DistInfo, *, compile_model: bool) -> nn.Module:
    """torch.compile (optional), then DDP when distributed (the order nanoGPT uses)."""
    engine: nn.Module = model
    if compile_model:
        engine = torch.compile(model)
    if di.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # The rotary tables are the only buffers and are equal on every rank: no syncing each forward.
        no_sync_kw = ({"forward_sync_buffers": False}
                      if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                      else {"broadcast_buffers": False})
        engine = DDP(engine, device_ids=[di.device.index] if di.device.type == "cuda" else None,
                     gradient_as_bucket_view=True, **no_sync_kw)
    return engine


@dataclass
class StepOut:
    loss_sum: torch.Tensor  # summed token losses on this rank (float32, on device)
    tokens: torch.Tensor  # target tokens that counted on this rank
    grad_norm: torch.Tensor


class Stepper:
    """One optimizer step over micro-batches of packed windows (int64, (B, seq_len + 1), -1 = padding).

    Each micro-batch's summed loss is divided by the step's positions on this rank (B * T * micro-batches),
    a constant, so accumulation and DDP averaging give exactly the gradient of one big batch. DDP syncs
    gradients only on the last micro-batch."""

    def __init__(self, engine: nn.Module, optimizer: torch.optim.Optimizer, *, device: torch.device,
                 amp_dtype: torch.dtype | None, grad_clip: float):
        self.engine, self.optimizer, self.device = engine, optimizer, device
        self.amp_dtype, self.grad_clip = amp_dtype, grad_clip
        self.params = [p for g in optimizer.param_groups for p in g["params"]]

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def __call__(self, micro_batches: list[torch.Tensor], lr: float) -> StepOut:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        positions = sum(b.shape[0] * (b.shape[1] - 1) for b in micro_batches)
        loss_sum = torch.zeros((), device=self.device)
        tokens = torch.zeros((), device=self.device, dtype=torch.long)
        last = len(micro_batches) - 1
        for i, batch in enumerate(micro_batches):
            batch = batch.to(self.device, non_blocking=True)
            x, y = batch[:, :-1].clamp_min(0), batch[:, 1:]
            no_sync = getattr(self.engine, "no_sync", None)
            sync_ctx = no_sync() if (no_sync is not None and i < last) else contextlib.nullcontext()
            with sync_ctx:
                with self.autocast():
                    loss = self.engine(x, y)
                (loss / positions).backward()
            loss_sum += loss.detach().float()
            tokens += (y != IGNORE_INDEX).sum()
        if self.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepOut(loss_sum, tokens, grad_norm)


@torch.no_grad()
def evaluate(model: nn.Module, batches: list[torch.Tensor], device: torch.device,
             amp_dtype: torch.dtype | None, di: DistInfo) -> float | None:
    """Mean next-token loss in nats over the targets of `batches`, summed over all ranks."""
    was_training = model.training
    model.eval()
    total = torch.zeros(2, device=device, dtype=torch.float64)
    ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()
    for batch in batches:
        batch = batch.to(device, non_blocking=True)
        x, y = batch[:, :-1].clamp_min(0), batch[:, 1:]
        with ctx:
            total[0] += model(x, y).double()
        total[1] += (y != IGNORE_INDEX).sum()
    model.train(was_training)
    if di.distributed:
        dist.all_reduce(total)
    return float(total[0] / total[1]) if total[1] > 0 else None


def _eval_bpb(model: nn.Module, eval_sets: list[TokenizedEvalSet], eos_id: int, cfg: TrainConfig,
              device: torch.device, amp_dtype: torch.dtype | None) -> dict[str, float]:
    """Bits per byte on each eval set (every rank computes the same figures; only rank 0 logs them)."""
    from trainer.evaluate import bits_per_byte

    return {s.name: round(bits_per_byte(model, s, eos_id=eos_id, seq_len=cfg.model.seq_len,
                                        batch_size=cfg.batch_size, device=device,
                                        amp_dtype=amp_dtype).bits_per_byte, 6)
            for s in eval_sets}


# ---- the run -------------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    step: int
    max_steps: int
    loss: float | None  # train loss of the last step
    val_loss: float | None  # last validation loss
    tokens: int  # train tokens consumed (global)
    elapsed_s: float
    checkpoint: str | None
    completed: bool  # reached max_steps (False: stopped early, resumable)
    params: int
    config: dict[str, Any]
    eval_bpb: dict[str, float] | None = None  # bits per byte on the eval sets at the last validation


def config_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def model_config_from_dict(d: dict[str, Any]) -> ModelConfig:
    return ModelConfig(**d)


def resolve_config(cfg: TrainConfig, manifest: Manifest, world_size: int) -> tuple[TrainConfig, str | None]:
    """Apply `size_from_plan` and a null `max_steps`; returns the resolved config and the plan's text."""
    from trainer.plan import format_plan, make_plan

    tokens_per_step = cfg.batch_size * cfg.grad_accum * world_size * cfg.model.seq_len
    train_tokens = manifest.tokens("train")
    plan_text = None
    model_cfg, max_steps = cfg.model, cfg.max_steps
    if cfg.size_from_plan:
        plan = make_plan(train_tokens, manifest.vocab_size, tokens_per_step, base=cfg.model)
        model_cfg = plan.model
        max_steps = max_steps or plan.steps
        plan_text = format_plan(plan, vocab_size=manifest.vocab_size)
    if max_steps is None:
        max_steps = max(1, math.ceil(train_tokens / tokens_per_step))
    return dataclasses.replace(cfg, model=model_cfg, max_steps=max_steps), plan_text


LoaderFactory = Callable[["Manifest", TrainConfig, DistInfo, "dict[str, Any] | None"], Iterable[torch.Tensor]]


def default_loader(manifest: Manifest, cfg: TrainConfig, di: DistInfo, state: dict[str, Any] | None):
    from trainer.data import TrainLoader

    return TrainLoader(
        manifest, "train", seq_len=cfg.model.seq_len, batch_size=cfg.batch_size, rank=di.rank,
        world_size=di.world_size, num_workers=cfg.num_workers, seed=cfg.seed,
        pin_memory=di.device.type == "cuda", state=state,
    )


class _StopFlag:
    """First Ctrl-C or SIGTERM (what schedulers send before killing a job): finish the step, write a
    checkpoint, stop. A second Ctrl-C: the usual KeyboardInterrupt."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool):
        self.set = False
        self.previous: dict[int, Any] = {}
        if enabled:
            for sig in self.SIGNALS:
                with contextlib.suppress(ValueError):  # not the main thread: no graceful stop
                    self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.set = True
        self.restore()

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self.previous = {}


def _print(msg: str) -> None:
    print(msg, flush=True)


def train(
    cfg: TrainConfig,
    shards_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    expected_fingerprint: str | None = None,
    stop_at: int | None = None,
    log: Callable[[str], None] | None = _print,
    loader_factory: LoaderFactory | None = None,
    eval_sets: list[TokenizedEvalSet] | None = None,
    shard_cache: ShardCache | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train (or with `resume`, continue from the latest checkpoint in `out_dir/checkpoints`).

    `eval_sets`: tokenized held-out text whose bits per byte is logged (`eval_bpb`) with each validation.

    `stop_at`: stop after that step as if interrupted (a checkpoint is written; the run is resumable).
    `loader_factory(manifest, cfg, dist_info, loader_state)`: the train batches (default: TrainLoader).
    `shard_cache`: the shards are in an object store, fetched and verified through this cache
    (`shards_dir` then only names them in messages).
    `on_checkpoint(step)`: called on the main rank after each checkpoint is written (and the metrics
    before it), e.g. to upload `out_dir` to object storage.
    """
    di, created = setup_distributed(cfg.device)
    try:
        return _train(cfg, Path(shards_dir), Path(out_dir), di, resume=resume,
                      expected_fingerprint=expected_fingerprint, stop_at=stop_at,
                      log=(log if di.is_main and log else (lambda _m: None)),
                      loader_factory=loader_factory or default_loader, eval_sets=eval_sets or [],
                      shard_cache=shard_cache, on_checkpoint=on_checkpoint)
    finally:
        if created:
            dist.destroy_process_group()


def _gather(obj: Any, di: DistInfo) -> list[Any]:
    if not di.distributed:
        return [obj]
    out: list[Any] = [None] * di.world_size
    dist.all_gather_object(out, obj)
    return out


def _truncate_metrics(path: Path, keep_until: int) -> None:
    """Keep the records of steps <= keep_until (a resumed run rewrites what came after its checkpoint)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            if json.loads(line).get("step", 0) <= keep_until:
                kept.append(line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(k + "\n" for k in kept))
    os.replace(tmp, path)


def _train(cfg: TrainConfig, shards_dir: Path, out_dir: Path, di: DistInfo, *, resume: bool,
           expected_fingerprint: str | None, stop_at: int | None, log: Callable[[str], None],
           loader_factory: LoaderFactory, eval_sets: list[TokenizedEvalSet],
           shard_cache: ShardCache | None = None,
           on_checkpoint: Callable[[int], None] | None = None) -> TrainResult:
    from trainer.data import ShardError, eval_batches, load_manifest

    t_start = time.perf_counter()
    device = di.device
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    manifest = load_manifest(shards_dir, expected_fingerprint, cache=shard_cache)
    if not manifest.split("train"):
        raise ShardError(f"{manifest.where('manifest.json')}: no train shards")
    cfg, plan_text = resolve_config(cfg, manifest, di.world_size)
    assert cfg.max_steps is not None
    max_steps = cfg.max_steps
    if plan_text:
        log(f"sizing the model from the data (size_from_plan):\n{plan_text}")

    ckpt_dir = out_dir / CHECKPOINTS
    latest = latest_checkpoint(ckpt_dir)
    if latest is not None and not resume:
        raise FileExistsError(
            f"{out_dir} already has checkpoints (latest {latest.name}): resume, or delete the folder to start over"
        )
    ckpt = load_checkpoint(latest) if (resume and latest is not None) else None

    model = build_model(cfg.model, manifest.vocab_size, device, cfg.seed)
    optimizer = build_optimizer(model, cfg, device)
    schedule = CosineSchedule(cfg.lr, cfg.min_lr, cfg.warmup_steps, max_steps)
    torch.manual_seed(cfg.seed + 1 + di.rank)  # dropout and sampling differ per rank
    step, tokens_seen, loader_state = 0, 0, None
    if ckpt is not None:
        meta = ckpt["meta"]
        if meta["fingerprint"] != manifest.fingerprint:
            raise ShardError(
                f"{latest}: trained with tokenizer {meta['fingerprint']}, but {manifest.where('manifest.json')} "
                f"has {manifest.fingerprint}"
            )
        saved_model = json.loads(ckpt["config"])["model"]
        if saved_model != config_dict(cfg.model):
            raise ValueError(f"{latest}: model config {saved_model} differs from the current {config_dict(cfg.model)}")
        if len(ckpt["ranks"]) != di.world_size:
            raise ValueError(f"{latest}: written by {len(ckpt['ranks'])} processes, resuming with {di.world_size}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["scheduler"])
        step, tokens_seen = int(ckpt["step"]), int(ckpt["tokens"])
        rank_state = ckpt["ranks"][di.rank]
        set_rng_state(rank_state["rng"])
        loader_state = rank_state["loader"]
        log(f"resuming from {latest} (step {step})")
    elif resume:
        log(f"no checkpoint in {ckpt_dir}: starting from step 0")
    del ckpt

    amp_dtype = autocast_dtype(cfg, device)
    compile_model = cfg.compile and device.type == "cuda"
    engine = wrap_model(model, di, compile_model=compile_model)
    stepper = Stepper(engine, optimizer, device=device, amp_dtype=amp_dtype, grad_clip=cfg.grad_clip)
    loader = loader_factory(manifest, cfg, di, loader_state or None)
    batches: Iterator[torch.Tensor] = iter(loader)
    val_batches: list[torch.Tensor] | None = None
    has_val = bool(manifest.split("val"))
    if not has_val:
        log("warning: no val shards in the manifest: no validation loss")

    n_params = model.num_params()
    flops_per_token = model.flops_per_token()
    peak = peak_flops(cfg, device)
    tokens_per_step = cfg.batch_size * cfg.grad_accum * di.world_size * cfg.model.seq_len
    metrics_path = out_dir / METRICS
    resolved = config_dict(cfg)
    if di.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if step > 0:
            _truncate_metrics(metrics_path, step)
        else:
            metrics_path.write_text("")
        info = {"train": resolved, "vocab_size": manifest.vocab_size, "tokenizer": manifest.tokenizer,
                "world_size": di.world_size, "params": n_params, "tokens_per_step": tokens_per_step,
                "train_tokens": manifest.tokens("train"), "val_tokens": manifest.tokens("val"),
                "device": str(device), "autocast": str(amp_dtype) if amp_dtype else None,
                "compile": compile_model}
        tmp = out_dir / f".{CONFIG}.tmp"
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, out_dir / CONFIG)
        log(f"model: {n_params / 1e6:.2f}M params, d_model={cfg.model.d_model} n_layers={cfg.model.n_layers} "
            f"n_heads={cfg.model.n_heads} seq_len={cfg.model.seq_len}, vocab {manifest.vocab_size}; "
            f"{tokens_per_step:,} tokens/step x {max_steps} steps on {device} x{di.world_size}"
            + (f", {amp_dtype} autocast" if amp_dtype else "") + (", compiled" if compile_model else ""))

    def save(at_step: int) -> str | None:
        local = {"rng": rng_state(), "loader": loader.state_dict() if hasattr(loader, "state_dict") else {}}
        ranks = _gather(local, di)
        if not di.is_main:
            return None
        state = {
            "format": CHECKPOINT_FORMAT, "step": at_step, "tokens": tokens_seen,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": schedule.state_dict(), "config": json.dumps(resolved),
            "meta": {"fingerprint": manifest.fingerprint, "vocab_size": manifest.vocab_size,
                     "tokenizer": json.dumps(manifest.tokenizer), "world_size": di.world_size},
            "ranks": ranks,
        }
        return str(save_checkpoint(ckpt_dir, at_step, state, cfg.keep_last))

    stop = _StopFlag(enabled=not di.distributed)
    bar = None
    if di.is_main and sys.stderr.isatty():
        with contextlib.suppress(ImportError):
            from tqdm import tqdm

            bar = tqdm(total=max_steps, initial=step, unit="step", dynamic_ncols=True)
    last_loss: float | None = None
    val_loss: float | None = None
    last_bpb: dict[str, float] | None = None
    last_ckpt: str | None = None
    interval_t0, interval_tokens = time.perf_counter(), 0
    compiled_ok = not compile_model
    if step >= max_steps and has_val:  # nothing left to train: report where the run stands
        val_batches = eval_batches(manifest, "val", seq_len=cfg.model.seq_len, batch_size=cfg.batch_size,
                                   max_batches=cfg.eval_batches, rank=di.rank, world_size=di.world_size)
        val_loss = evaluate(model, val_batches, device, amp_dtype, di)
        log(f"already at step {step} of {max_steps}: val_loss {val_loss}")
    try:
        while step < max_steps:
            micro = [next(batches) for _ in range(cfg.grad_accum)]
            lr = schedule(step)
            try:
                out = stepper(micro, lr)
                compiled_ok = True
            except Exception as e:  # torch.compile can fail on exotic setups: fall back to eager once
                if compiled_ok:
                    raise
                log(f"warning: torch.compile failed ({type(e).__name__}: {str(e)[:300]}); training eager")
                optimizer.zero_grad(set_to_none=True)
                compiled_ok = True
                engine = wrap_model(model, di, compile_model=False)
                stepper.engine = engine
                out = stepper(micro, lr)
            step += 1
            tokens_seen += tokens_per_step
            interval_tokens += tokens_per_step
            if bar is not None:
                bar.update(1)
            stopping = step == max_steps or (stop_at is not None and step >= stop_at) or stop.set
            do_eval = (has_val or bool(eval_sets)) and (
                stopping or (cfg.eval_interval > 0 and step % cfg.eval_interval == 0))
            do_log = stopping or do_eval or step % cfg.log_interval == 0
            do_ckpt = stopping or (cfg.checkpoint_interval > 0 and step % cfg.checkpoint_interval == 0)
            if not (do_log or do_ckpt):
                continue
            now = time.perf_counter()
            totals = torch.stack([out.loss_sum.double(), out.tokens.double()])
            if di.distributed:
                dist.all_reduce(totals)
            last_loss = float(totals[0] / totals[1]) if totals[1] > 0 else float("nan")
            record: dict[str, Any] = {
                "step": step, "loss": round(last_loss, 6), "lr": lr, "tokens": tokens_seen,
                "tokens_per_s": round(interval_tokens / max(now - interval_t0, 1e-9), 1),
                "grad_norm": round(float(out.grad_norm), 4), "elapsed_s": round(now - t_start, 2),
            }
            if peak:
                record["mfu"] = round(record["tokens_per_s"] * flops_per_token / (peak * di.world_size), 4)
            if do_eval and eval_sets:
                record["eval_bpb"] = last_bpb = _eval_bpb(model, eval_sets, manifest.eos_id, cfg, device, amp_dtype)
            if do_eval and has_val:
                if val_batches is None:
                    val_batches = eval_batches(manifest, "val", seq_len=cfg.model.seq_len,
                                               batch_size=cfg.batch_size, max_batches=cfg.eval_batches,
                                               rank=di.rank, world_size=di.world_size)
                val_loss = evaluate(model, val_batches, device, amp_dtype, di)
                if val_loss is not None:
                    record["val_loss"] = round(val_loss, 6)
            if di.is_main:
                with open(metrics_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                if bar is not None:
                    bar.set_postfix(loss=f"{last_loss:.3f}", lr=f"{lr:.2e}",
                                    tok_s=f"{record['tokens_per_s']:.0f}",
                                    **({"val": f"{val_loss:.3f}"} if do_eval and val_loss is not None else {}))
                elif do_eval or stopping:
                    log(f"step {step}/{max_steps} loss {last_loss:.4f}"
                        + (f" val_loss {val_loss:.4f}" if do_eval and val_loss is not None else "")
                        + f" lr {lr:.2e} {record['tokens_per_s']:,.0f} tok/s"
                        + (f" mfu {record['mfu']:.1%}" if "mfu" in record else ""))
            if do_ckpt:
                last_ckpt = save(step) or last_ckpt
                if di.is_main and on_checkpoint is not None:
                    on_checkpoint(step)
            interval_t0, interval_tokens = time.perf_counter(), 0  # eval and checkpoint time excluded
            if stopping:
                break
    finally:
        stop.restore()
        if bar is not None:
            bar.close()
    if stop.set:
        log(f"interrupted: checkpoint at step {step} written; continue with --resume")
    return TrainResult(
        step=step, max_steps=max_steps, loss=last_loss, val_loss=val_loss, tokens=tokens_seen,
        elapsed_s=time.perf_counter() - t_start, checkpoint=last_ckpt, completed=step >= max_steps,
        params=n_params, config=resolved, eval_bpb=last_bpb,
    )
