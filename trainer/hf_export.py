"""curate's decoder as a Hugging Face Llama: config, weights (name by name, shapes checked) and the rotary layout.

curate's `Transformer` is the Llama architecture (Touvron et al. 2023): pre-norm RMSNorm, rotary position
embeddings, SwiGLU MLP, no biases, here with tied input/output embeddings. The conversion is exact up to
float rounding:

- `attn.qkv` (3 d, d) is the row-wise concatenation of Llama's q, k and v projections, each (n_heads *
  head_dim, d) with head h in rows h*head_dim .. (h+1)*head_dim, as in `view(b, t, 3, H, D)`.
- `mlp.gate_up` (2 h, d) is gate then up (`split(hidden)`); `mlp.proj` is Llama's down projection.
- `attn_norm` / `mlp_norm` are Llama's input / post-attention layernorms (same formula:
  x * rsqrt(mean(x^2) + eps) * weight).
- Rotary embeddings: transformers' Llama rotates the two halves of each head ("rotate_half": dims i and
  i + D/2 form a pair); the original RoFormer / Meta layout rotates interleaved pairs (2i, 2i + 1). Which one
  curate uses is not assumed: `detect_rope_layout` probes `trainer.model.apply_rope` against both
  references, and an interleaved model gets its q and k rows permuted per head (pair i's two dims moved to
  i and i + D/2), which turns one rotation into the other while leaving every q.k dot product unchanged.

Pure: torch only; transformers is not needed to export (only to load the result).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trainer.config import ModelConfig

HALVES = "halves"  # transformers' rotate_half: dims (i, i + D/2) rotate together
INTERLEAVED = "interleaved"  # RoFormer / Meta: dims (2i, 2i + 1) rotate together
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"

_BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.(.+)$")


class ConversionError(ValueError):
    """The checkpoint's weights do not have the names or shapes of the model its config describes."""


# ---- rotary layout --------------------------------------------------------------------------------------


def _inv_freq(head_dim: int, theta: float) -> torch.Tensor:
    return 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))


def reference_rope(x: torch.Tensor, theta: float, layout: str) -> torch.Tensor:
    """RoPE (Su et al. 2021) on x (B, H, T, D) at positions 0..T-1, in float64, in either layout."""
    t, d = x.shape[-2], x.shape[-1]
    angles = torch.outer(torch.arange(t, dtype=torch.float64), _inv_freq(d, theta))  # (T, D/2)
    cos, sin = angles.cos(), angles.sin()
    x = x.double()
    if layout == HALVES:
        a, b = x[..., : d // 2], x[..., d // 2 :]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
    if layout == INTERLEAVED:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * cos - b * sin, b * cos + a * sin], dim=-1).flatten(-2)
    raise ValueError(f"unknown rotary layout {layout!r}")


def detect_rope_layout(
    apply_rope: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    rope_tables: Callable[[int, int, float], tuple[torch.Tensor, torch.Tensor]] | None = None,
    *,
    head_dim: int = 8,
    theta: float = 10000.0,
) -> str:
    """Which layout curate's rotary embedding uses, found by running it (default: trainer.model's) on a
    random input and comparing with both references. Raises when it matches neither."""
    if apply_rope is None or rope_tables is None:
        from trainer import model as curate_model

        apply_rope = apply_rope or curate_model.apply_rope
        rope_tables = rope_tables or curate_model.rope_tables
    seq = 16
    x = torch.randn(2, 3, seq, head_dim, generator=torch.Generator().manual_seed(0))
    cos, sin = rope_tables(seq, head_dim, theta)
    got = apply_rope(x, cos, sin).double()
    errors = {layout: float((got - reference_rope(x, theta, layout)).abs().max()) for layout in (HALVES, INTERLEAVED)}
    matches = [layout for layout, err in errors.items() if err < 1e-4]
    if len(matches) != 1:
        raise ConversionError(f"curate's rotary embedding matches no known layout (max errors {errors})")
    return matches[0]


def interleaved_to_halves(head_dim: int) -> torch.Tensor:
    """Index order taking one head's dims from the interleaved layout to the halves one: the even dims
    (the first of each pair) then the odd dims. `x[..., perm]` under the halves rotation equals the
    interleaved rotation of x, permuted the same way."""
    return torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])


def permute_heads(weight: torch.Tensor, n_heads: int, head_dim: int, perm: torch.Tensor) -> torch.Tensor:
    """Reorder the output rows of a q or k projection (n_heads * head_dim, d_in) within each head."""
    d_in = weight.shape[1]
    return weight.view(n_heads, head_dim, d_in)[:, perm, :].reshape(n_heads * head_dim, d_in)


# ---- weights --------------------------------------------------------------------------------------------


def _strip_wrappers(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Names as `Transformer` has them, without the prefixes of torch.compile and DDP wrappers."""
    out = {}
    for name, tensor in state_dict.items():
        for prefix in ("_orig_mod.", "module."):
            while name.startswith(prefix):
                name = name[len(prefix) :]
        out[name] = tensor
    return out


def to_llama_state_dict(
    state_dict: dict[str, torch.Tensor], cfg: ModelConfig, vocab_size: int, rope_layout: str = HALVES
) -> dict[str, torch.Tensor]:
    """curate `Transformer` weights -> transformers `LlamaForCausalLM` weights (float32, contiguous).

    Every name is mapped and every shape checked against `cfg`; a missing, unknown or misshapen weight
    raises ConversionError naming it. The tied output projection is checked equal to the embedding and
    left out (transformers ties `lm_head.weight` to `model.embed_tokens.weight` on load)."""
    sd = _strip_wrappers(state_dict)
    d, h, hd, nh = cfg.d_model, cfg.hidden, cfg.head_dim, cfg.n_heads
    expected: dict[str, tuple[int, ...]] = {"embed.weight": (vocab_size, d), "norm.weight": (d,),
                                            "lm_head.weight": (vocab_size, d)}
    for i in range(cfg.n_layers):
        expected |= {
            f"blocks.{i}.attn_norm.weight": (d,),
            f"blocks.{i}.attn.qkv.weight": (3 * d, d),
            f"blocks.{i}.attn.proj.weight": (d, d),
            f"blocks.{i}.mlp_norm.weight": (d,),
            f"blocks.{i}.mlp.gate_up.weight": (2 * h, d),
            f"blocks.{i}.mlp.proj.weight": (d, h),
        }
    missing = sorted(set(expected) - set(sd))
    unknown = sorted(set(sd) - set(expected))
    if missing or unknown:
        raise ConversionError(f"checkpoint weights do not match the model config: missing {missing}, "
                              f"unexpected {unknown}")
    for name, shape in expected.items():
        if tuple(sd[name].shape) != shape:
            raise ConversionError(f"{name}: shape {tuple(sd[name].shape)}, the model config gives {shape}")
    if not torch.equal(sd["lm_head.weight"], sd["embed.weight"]):
        raise ConversionError("lm_head.weight differs from embed.weight: the checkpoint's embeddings are not tied")
    if rope_layout == HALVES:
        perm = None
    elif rope_layout == INTERLEAVED:
        perm = interleaved_to_halves(hd)
    else:
        raise ValueError(f"unknown rotary layout {rope_layout!r}")

    def f32(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to("cpu", torch.float32).contiguous()

    out = {"model.embed_tokens.weight": f32(sd["embed.weight"]), "model.norm.weight": f32(sd["norm.weight"])}
    for i in range(cfg.n_layers):
        p, b = f"model.layers.{i}", f"blocks.{i}"
        q, k, v = sd[f"{b}.attn.qkv.weight"].split(d, dim=0)
        if perm is not None:
            q, k = permute_heads(q, nh, hd, perm), permute_heads(k, nh, hd, perm)
        gate, up = sd[f"{b}.mlp.gate_up.weight"].split(h, dim=0)
        out |= {
            f"{p}.input_layernorm.weight": f32(sd[f"{b}.attn_norm.weight"]),
            f"{p}.self_attn.q_proj.weight": f32(q),
            f"{p}.self_attn.k_proj.weight": f32(k),
            f"{p}.self_attn.v_proj.weight": f32(v),
            f"{p}.self_attn.o_proj.weight": f32(sd[f"{b}.attn.proj.weight"]),
            f"{p}.post_attention_layernorm.weight": f32(sd[f"{b}.mlp_norm.weight"]),
            f"{p}.mlp.gate_proj.weight": f32(gate),
            f"{p}.mlp.up_proj.weight": f32(up),
            f"{p}.mlp.down_proj.weight": f32(sd[f"{b}.mlp.proj.weight"]),
        }
    return out


# ---- config files ---------------------------------------------------------------------------------------


def llama_config(cfg: ModelConfig, vocab_size: int, special: dict[str, int]) -> dict[str, Any]:
    """config.json for `LlamaConfig`: the run's sizes, RoPE theta, norm epsilon, tied embeddings and the
    special token ids (`special`: pad_id, bos_id, eos_id). Multi-head attention (as many k/v heads as
    query heads), no biases, SiLU-gated MLP."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.hidden,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.seq_len,
        "rms_norm_eps": cfg.norm_eps,
        # transformers < 5 reads rope_theta; 5 reads rope_parameters (and still accepts rope_theta).
        "rope_theta": cfg.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "pretraining_tp": 1,
        "initializer_range": cfg.init_std,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": int(special["bos_id"]),
        "eos_token_id": int(special["eos_id"]),
        "pad_token_id": int(special["pad_id"]),
        "torch_dtype": "float32",
        "dtype": "float32",
    }


def generation_config(special: dict[str, int]) -> dict[str, Any]:
    """generation_config.json: generation stops at <eos>, pads with <pad>; greedy unless asked otherwise.
    (No max_length: transformers warns when a caller's max_new_tokens meets one.)"""
    return {
        "bos_token_id": int(special["bos_id"]),
        "eos_token_id": int(special["eos_id"]),
        "pad_token_id": int(special["pad_id"]),
    }


def write_model_files(
    folder: str | os.PathLike[str],
    state_dict: dict[str, torch.Tensor],
    cfg: ModelConfig,
    vocab_size: int,
    special: dict[str, int],
    *,
    rope_layout: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write config.json, generation_config.json and model.safetensors (never pickle) into `folder`.
    Returns {"rope_layout", "tensors", "params"}."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layout = rope_layout or detect_rope_layout()
    weights = to_llama_state_dict(state_dict, cfg, vocab_size, layout)
    # "format": "pt" is what transformers checks before reading the file as PyTorch weights.
    save_file(weights, str(folder / WEIGHTS_FILE), metadata={"format": "pt", **(metadata or {})})
    _sort_metadata(folder / WEIGHTS_FILE)
    for name, content in ((CONFIG_FILE, llama_config(cfg, vocab_size, special)),
                          (GENERATION_CONFIG_FILE, generation_config(special))):
        (folder / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return {"rope_layout": layout, "tensors": len(weights), "params": sum(t.numel() for t in weights.values())}


def _sort_metadata(path: Path) -> None:
    """safetensors writes its `__metadata__` map in a random order (a Rust HashMap: two exports of one
    checkpoint differed in their header); rewrite it sorted, in place. The header is the same JSON
    reordered, so of the same length, and the tensor data does not move."""
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n)
        header = json.loads(raw)
        if "__metadata__" in header:
            header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > n or len(text.rstrip()) != len(raw.rstrip()):
            raise ValueError(f"{path}: unexpected safetensors header")
        f.seek(8)
        f.write(text.ljust(n))


__all__ = [
    "HALVES",
    "INTERLEAVED",
    "ConversionError",
    "detect_rope_layout",
    "generation_config",
    "interleaved_to_halves",
    "llama_config",
    "permute_heads",
    "reference_rope",
    "to_llama_state_dict",
    "write_model_files",
]
