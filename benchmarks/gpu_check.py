"""One-shot GPU check of the trainer (issue 6): a GPT-2-small-shaped model (~124M parameters) in bf16
autocast with torch.compile, reporting tokens/s and model FLOPs utilization (target MFU >= 40%).

    python3 benchmarks/gpu_check.py                 # on the GPU machine, from the repository root (~5 min)
    python3 benchmarks/gpu_check.py --tiny          # a few seconds on CPU: checks that the script runs

What it runs, printing progress as it goes:
1. the environment, and the bf16 matmul rate measured on this GPU (8192^3 products; the practical ceiling);
2. "trainer": when pyarrow is importable, random-token shards following the tokenize contract are written
   to a temporary folder and `trainer.train.train` runs on them end to end (loader, AdamW, schedule,
   clipping, compile, metrics.jsonl); tokens/s and MFU are read from its metrics after the compile warmup;
3. "step": the same model and `trainer.train.Stepper` fed random tensors already on the GPU (no loader),
   which isolates the model + optimizer step (this is all that runs without pyarrow).
A torch.compile failure falls back to eager and is reported. MFU = 6N + 12*L*d*T FLOPs per token (PaLM
appendix B) * tokens/s / peak, with the datasheet dense bf16 peak (989 TFLOP/s for H100/H200 SXM) and
also against the measured matmul rate. The JSON result goes to $OUT/gpu_check.json when OUT is set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/trainer.py would shadow the
# trainer package: put the repository root first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from trainer.config import ModelConfig, TrainConfig  # noqa: E402

T0 = time.perf_counter()


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def measured_matmul_flops(device: torch.device, n: int = 8192, reps: int = 10) -> float | None:
    if device.type != "cuda":
        return None
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - start)


def trainer_mode(cfg: TrainConfig, steps: int, warmup: int, tmp: Path) -> dict:
    """train() end to end on synthetic shards; rates from metrics.jsonl after `warmup` steps."""
    from benchmarks.trainer import write_synthetic_shards
    from trainer.train import train

    tokens_needed = int((steps + 2) * cfg.batch_size * cfg.grad_accum * (cfg.model.seq_len + 1) * 1.1)
    say(f"trainer: writing {tokens_needed:,} random tokens of shards")
    shards = write_synthetic_shards(tmp / "shards", tokens=tokens_needed, vocab_size=VOCAB, mean_doc=800)
    messages: list[str] = []

    def log(msg: str) -> None:
        messages.append(msg)
        say(f"trainer: {msg}")

    cfg = replace(cfg, max_steps=steps, log_interval=max(1, warmup // 2), eval_interval=0,
                  checkpoint_interval=0, eval_batches=1, keep_last=1)
    say(f"trainer: training {steps} steps (the first ones compile)")
    result = train(cfg, shards, tmp / "out", log=log)
    recs = [json.loads(x) for x in (tmp / "out" / "metrics.jsonl").read_text().splitlines()]
    pairs = [(p, r) for p, r in zip(recs, recs[1:], strict=False) if p["step"] >= warmup]
    tokens = sum(r["tokens"] - p["tokens"] for p, r in pairs)
    seconds = sum((r["tokens"] - p["tokens"]) / r["tokens_per_s"] for p, r in pairs)
    out = {
        "tokens_per_s": tokens / seconds if seconds else None,
        "timed_steps": sum(r["step"] - p["step"] for p, r in pairs),
        "mfu_datasheet": None,
        "final_loss": result.loss,
        "params": result.params,
        "compile_fallback": any("torch.compile failed" in m for m in messages),
        "intervals": [{k: r.get(k) for k in ("step", "loss", "tokens_per_s", "mfu")} for r in recs],
        "elapsed_s": result.elapsed_s,
    }
    mfus = [r["mfu"] for _, r in pairs if "mfu" in r]
    if mfus and seconds:
        out["mfu_datasheet"] = sum(m * (r["tokens"] - p["tokens"]) / r["tokens_per_s"]
                                   for m, (p, r) in zip(mfus, pairs, strict=False)) / seconds
    return out


def step_mode(cfg: TrainConfig, steps: int, warmup: int, device: torch.device) -> dict:
    """The model and Stepper alone on random batches already on the device."""
    from trainer.train import (
        DistInfo,
        Stepper,
        autocast_dtype,
        build_model,
        build_optimizer,
        wrap_model,
    )

    model = build_model(cfg.model, VOCAB, device, cfg.seed)
    opt = build_optimizer(model, cfg, device)
    di = DistInfo(0, 1, 0, device)
    want_compile = cfg.compile and device.type == "cuda"
    stepper = Stepper(wrap_model(model, di, compile_model=want_compile), opt, device=device,
                      amp_dtype=autocast_dtype(cfg, device), grad_clip=cfg.grad_clip)
    gen = torch.Generator(device=device).manual_seed(0)
    batches = [torch.randint(0, VOCAB, (cfg.batch_size, cfg.model.seq_len + 1), device=device, generator=gen)
               for _ in range(4)]
    fallback, error = False, None
    try:
        say("step: first step (compiling)" if want_compile else "step: first step")
        stepper([batches[0]] * cfg.grad_accum, cfg.lr)
    except Exception as e:  # compile failure: report and continue eagerly
        fallback, error = True, f"{type(e).__name__}: {str(e)[:500]}"
        say(f"step: torch.compile failed, falling back to eager: {error}")
        opt.zero_grad(set_to_none=True)
        stepper.engine = wrap_model(model, di, compile_model=False)
        stepper([batches[0]] * cfg.grad_accum, cfg.lr)
    for i in range(warmup):
        stepper([batches[i % 4]] * cfg.grad_accum, cfg.lr)
    if device.type == "cuda":
        torch.cuda.synchronize()
    say(f"step: timing {steps} steps")
    start = time.perf_counter()
    for i in range(steps):
        out = stepper([batches[i % 4]] * cfg.grad_accum, cfg.lr)
    loss = float(out.loss_sum / out.tokens)
    elapsed = time.perf_counter() - start
    tokens = steps * cfg.grad_accum * cfg.batch_size * cfg.model.seq_len
    result = {"tokens_per_s": tokens / elapsed, "timed_steps": steps, "final_loss": loss,
              "params": model.num_params(), "flops_per_token": model.flops_per_token(),
              "compile_fallback": fallback, "compile_error": error}
    if device.type == "cuda":
        result["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return result


VOCAB = 50304  # GPT-2's 50257 padded to a multiple of 64 (as nanoGPT does)


def main(argv: list[str] | None = None) -> int:
    global VOCAB
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="a tiny model on CPU for a few steps (script check)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--vocab", type=int, default=50304)
    p.add_argument("--steps", type=int, default=60, help="timed steps per mode")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps after the first (compile)")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--skip-trainer", action="store_true", help="only the step mode")
    args = p.parse_args(argv)
    VOCAB = args.vocab

    gpt2_small = ModelConfig(d_model=768, n_layers=12, n_heads=12, seq_len=args.seq_len)
    cfg = TrainConfig(model=gpt2_small, batch_size=args.batch_size, grad_accum=1, lr=6e-4, min_lr=6e-5,
                      warmup_steps=10, compile=not args.no_compile)
    if args.tiny:
        VOCAB = 512
        cfg = replace(cfg, model=ModelConfig(d_model=64, n_layers=2, n_heads=2, seq_len=64), batch_size=4,
                      device="cpu")
        args.steps, args.warmup = min(args.steps, 6), min(args.warmup, 2)

    from trainer.model import count_params
    from trainer.train import peak_flops, resolve_device

    device = resolve_device(cfg.device)
    result: dict = {
        "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cuda": torch.version.cuda, "model": dataclasses.asdict(cfg.model),
        "vocab": VOCAB, "params": count_params(cfg.model, VOCAB), "batch_size": cfg.batch_size,
        "seq_len": cfg.model.seq_len, "compile": cfg.compile, "tiny": args.tiny, "modes": {},
    }
    say(f"torch {torch.__version__}, device {device} {result['gpu'] or ''}, "
        f"model {result['params'] / 1e6:.1f}M params, batch {cfg.batch_size} x {cfg.model.seq_len}")
    peak = peak_flops(cfg, device)
    result["peak_datasheet_flops"] = peak
    try:
        result["matmul_bf16_flops"] = measured_matmul_flops(device)
        if result["matmul_bf16_flops"]:
            say(f"measured bf16 matmul: {result['matmul_bf16_flops'] / 1e12:.0f} TFLOP/s "
                f"(datasheet {peak / 1e12 if peak else float('nan'):.0f})")
    except Exception as e:
        result["matmul_bf16_flops"] = None
        say(f"matmul measurement failed: {e}")

    from trainer.model import flops_per_token as model_flops

    flops_per_token = model_flops(cfg.model, VOCAB)
    result["flops_per_token"] = flops_per_token

    def add_mfu(mode: dict) -> None:
        tps = mode.get("tokens_per_s")
        if tps and peak:
            mode["mfu"] = tps * flops_per_token / peak
        if tps and result.get("matmul_bf16_flops"):
            mode["mfu_vs_measured_matmul"] = tps * flops_per_token / result["matmul_bf16_flops"]

    try:
        import pyarrow  # noqa: F401

        have_pyarrow = True
    except ImportError:
        have_pyarrow = False
        say("pyarrow not importable: skipping the trainer mode (step mode only)")
    with tempfile.TemporaryDirectory(prefix="curate-gpu-check-") as tmp:
        if have_pyarrow and not args.skip_trainer:
            try:
                mode = trainer_mode(cfg, args.steps + args.warmup, args.warmup, Path(tmp))
                add_mfu(mode)
                result["modes"]["trainer"] = mode
                say(f"trainer: {mode['tokens_per_s']:,.0f} tokens/s, MFU {mode.get('mfu', float('nan')):.1%}"
                    + (" (compile FAILED, eager)" if mode["compile_fallback"] else ""))
            except Exception as e:
                result["modes"]["trainer"] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
                say(f"trainer mode failed: {type(e).__name__}: {e}")
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        try:
            mode = step_mode(cfg, args.steps, args.warmup, device)
            add_mfu(mode)
            result["modes"]["step"] = mode
            say(f"step: {mode['tokens_per_s']:,.0f} tokens/s, MFU {mode.get('mfu', float('nan')):.1%}"
                + (" (compile FAILED, eager)" if mode["compile_fallback"] else ""))
        except Exception as e:
            result["modes"]["step"] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
            say(f"step mode failed: {type(e).__name__}: {e}")

    result["elapsed_s"] = time.perf_counter() - T0
    best = [m.get("mfu") for m in result["modes"].values() if m.get("mfu") is not None]
    result["mfu_target_met"] = bool(best) and max(best) >= 0.40
    text = json.dumps(result, indent=2, default=str)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"]).mkdir(parents=True, exist_ok=True)
        Path(os.environ["OUT"], "gpu_check.json").write_text(text)
        say(f"wrote {os.environ['OUT']}/gpu_check.json")
    print(text)
    failed = any("error" in m for m in result["modes"].values()) or not result["modes"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
