"""Export: a run's trained model and tokenizer as a Hugging Face folder.

    curate export --run RUN [--out DIR] [--step N]

DIR (default RUN/export/) is what `transformers` loads with `AutoModelForCausalLM.from_pretrained(DIR)` and
`AutoTokenizer.from_pretrained(DIR)`, and what lm-evaluation-harness, vLLM and fine-tuning scripts read:
config.json (LlamaConfig), model.safetensors, generation_config.json (trainer/hf_export.py), tokenizer.json,
tokenizer_config.json, special_tokens_map.json (tokenizer/hf_folder.py), a model card README.md naming the
run, its data and its losses, and curate_export.json (where it came from and what was checked).

The checkpoint (the latest, or `--step N`) must have been trained with the run's tokenizer: its
fingerprint is compared with the one of RUN/tokenizer/tokenizer.model (and its card). The folder is
written beside DIR and renamed into place, so a reader never sees half an export.

A run in object storage (`--run s3://bucket/runs/x`) is read from the bucket (the checkpoint and the
tokenizer files, see pipelines/stages/train.py `model_files`), and DIR may be a URL (default RUN/export):
it is committed like a stage's output, the files under DIR/_attempts/<nonce>/ and DIR/_SUCCESS, listing
them, written last; the command prints the folder that holds them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml

from pipelines import storage
from pipelines.config import JobConfig
from pipelines.stages import get_stage
from tokenizer.card import CARD_FILE as TOKENIZER_CARD
from tokenizer.train import MODEL_FILE
from trainer.shards_format import MANIFEST

DEFAULT_OUT = "export"
TRAIN = get_stage("train").folder
TOKENIZER = get_stage("tokenizer").folder
SHARDS = get_stage("tokenize").folder
INFO_FILE = "curate_export.json"
CARD_FILE = "README.md"


class ExportRefused(ValueError):
    """The run cannot be exported as asked (no checkpoint, another tokenizer, an occupied folder...)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help=f"output folder (default RUN/{DEFAULT_OUT}/)")
    parser.add_argument("--step", type=int, help="export the checkpoint of this step (default: the latest)")


# ---- reading the run ------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def pick_checkpoint(train_dir: Path, step: int | None) -> tuple[int, Path]:
    from trainer.checkpoint import list_checkpoints
    from trainer.train import CHECKPOINTS

    found = list_checkpoints(train_dir / CHECKPOINTS)
    if not found:
        raise ExportRefused(f"no checkpoint in {train_dir / CHECKPOINTS} (run `curate train` first)")
    if step is None:
        return found[-1]
    for s, path in found:
        if s == step:
            return s, path
    raise ExportRefused(f"no checkpoint of step {step} in {train_dir / CHECKPOINTS}; "
                        f"there are steps {[s for s, _ in found]}")


def losses_at(metrics_path: Path, step: int) -> dict[str, Any]:
    """The train loss logged at `step` and the last validation loss at or before it (metrics.jsonl)."""
    out: dict[str, Any] = {"train_loss": None, "val_loss": None, "val_step": None, "tokens": None}
    if not metrics_path.is_file():
        return out
    for line in metrics_path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        s = rec.get("step")
        if not isinstance(s, int) or s > step:
            continue
        if s == step:
            out["train_loss"], out["tokens"] = rec.get("loss"), rec.get("tokens")
        if rec.get("val_loss") is not None:
            out["val_loss"], out["val_step"] = rec["val_loss"], s
    return out


def dataset_card_meta(card: str) -> dict[str, Any]:
    """The YAML front matter of the dataset card RUN/shards/README.md (`curate report`), if any."""
    if not storage.exists(card):
        return {}
    text = storage.read_bytes(card).decode("utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---", 4)
    try:
        meta = yaml.safe_load(text[4:end]) if end > 0 else None
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


# ---- the model card -------------------------------------------------------------------------------------


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def render_model_card(info: dict[str, Any], model_cfg: dict[str, Any], manifest: dict[str, Any] | None,
                      summary: dict[str, Any] | None, data_meta: dict[str, Any]) -> str:
    """README.md in the Hugging Face model-card style: YAML front matter, then the run, the data (the
    manifest's tokens, sources and mixture), the training steps and the final losses."""
    front: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": "text-generation",
                             "tags": ["curate", "llama", "pretraining"]}
    if data_meta.get("language"):
        front["language"] = data_meta["language"]
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {info['run_name']}: a causal LM pretrained with curate", "",
             f"Exported by `curate export` from the run `{info['run']}`, checkpoint "
             f"`{info['checkpoint']}` (step {info['step']}).", "",
             "## Model", "",
             f"Llama architecture (RMSNorm, rotary position embeddings, SwiGLU, tied embeddings): "
             f"{_num(info['params'])} parameters, {model_cfg['n_layers']} layers, d_model {model_cfg['d_model']}, "
             f"{model_cfg['n_heads']} heads, SwiGLU hidden {info['ffn_hidden']}, context {model_cfg['seq_len']} "
             f"tokens, RoPE theta {model_cfg['rope_theta']:g}, RMSNorm eps {model_cfg['norm_eps']:g}, "
             f"vocabulary {info['vocab_size']:,} (SentencePiece BPE, fingerprint `{info['tokenizer_fingerprint']}`). "
             f"Weights in float32.", ""]
    lines += ["## Training", "",
              "| | |", "| --- | --- |",
              f"| steps | {_num(info['step'])}" + (f" of {_num(summary['max_steps'])}" if summary else "") + " |",
              f"| tokens seen | {_num(info['losses']['tokens'])} |",
              f"| final train loss | {_num(info['losses']['train_loss'])} nats/token (step {info['step']}) |",
              f"| final validation loss | {_num(info['losses']['val_loss'])} nats/token"
              + (f" (step {info['losses']['val_step']})" if info["losses"]["val_step"] is not None else "") + " |"]
    if summary and summary.get("unigram_entropy") is not None:
        lines.append(f"| unigram entropy of the train tokens | {_num(summary['unigram_entropy'])} nats/token |")
    lines.append("")
    if manifest:
        totals = manifest.get("totals") or {}
        described = ", described in its dataset card `shards/README.md`" if info.get("dataset_card") else ""
        lines += ["## Data", "",
                  f"Token shards of the run (`{info['run']}/shards`{described}): {_num((totals.get('train') or {}).get('tokens'))} train tokens in "
                  f"{_num((totals.get('train') or {}).get('rows'))} documents, "
                  f"{_num((totals.get('val') or {}).get('tokens'))} validation tokens in "
                  f"{_num((totals.get('val') or {}).get('rows'))} documents.", ""]
        by_source = manifest.get("by_source") or {}
        if by_source:
            lines += ["| source | documents | train tokens | share | target share |",
                      "| --- | --- | --- | --- | --- |"]
            for name, e in sorted(by_source.items()):
                lines.append(f"| {name} | {_num(e.get('rows'))} | {_num(e.get('tokens'))} | "
                             f"{_num(e.get('fraction'), 3)} | {_num(e.get('target_fraction'), 3)} |")
            lines.append("")
        mixture = manifest.get("mixture") or {}
        if mixture.get("weights"):
            weights = ", ".join(f"{k} {v:g}" for k, v in sorted(mixture["weights"].items()))
            lines += [f"Mixture weights: {weights}.", ""]
        elif mixture:
            lines += ["Mixture: every source at its natural share.", ""]
    lines += ["## Use", "", "With PATH this folder:", "", "```python",
              "from transformers import AutoModelForCausalLM, AutoTokenizer",
              "",
              'tok = AutoTokenizer.from_pretrained("PATH")',
              'model = AutoModelForCausalLM.from_pretrained("PATH")',
              'ids = tok("Once upon a time", return_tensors="pt").input_ids',
              "print(tok.decode(model.generate(ids, max_new_tokens=50, do_sample=True)[0], skip_special_tokens=True))",
              "```", "",
              "Generation stops at `<eos>`, the token curate ends every document with.", ""]
    return "\n".join(lines)


# ---- the export -----------------------------------------------------------------------------------------


def _commit(tmp: Path, out: Path) -> None:
    """Move the finished folder `tmp` to `out`, replacing an earlier export there."""
    if out.exists():
        if not (out / INFO_FILE).is_file():
            raise ExportRefused(f"{out} exists and is not a curate export: choose another --out")
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        tmp.rename(out)


def _commit_remote(tmp: Path, out: str) -> str:
    """Upload the finished folder `tmp` to the URL `out` as a stage commits (runlayout.StageCommit): the
    files under OUT/_attempts/<nonce>/, then OUT/_SUCCESS listing them, written last; an earlier export
    there is replaced whole. Returns the folder holding the files."""
    from pipelines.runlayout import RunLayout

    parent, name = storage.dirname(out.rstrip("/")), out.rstrip("/").rsplit("/", 1)[-1]
    target = RunLayout(parent)
    if storage.walk_files(out, hidden=True) and target.find_file(name, INFO_FILE) is None:
        raise ExportRefused(f"{storage.redact(out)} exists and is not a curate export: choose another --out")
    attempt = target.begin(name)
    try:
        for p in sorted(tmp.iterdir()):
            storage.copy(str(p), storage.join(attempt.out, p.name))
        attempt.commit({"format": "curate-export/1"})
    except BaseException:
        attempt.abort()
        raise
    return target.file(name, INFO_FILE).rsplit("/", 1)[0]


def _run_json(layout: Any, stage: str, name: str) -> Any:
    """A JSON file a stage of the run committed (None if there is none)."""
    if not layout.remote:  # (a local run's file is read where it is, committed by a stage or not)
        return _read_json(Path(layout.root) / stage / name)
    path = layout.find_file(stage, name)
    return None if path is None else json.loads(storage.read_bytes(path))


def export_run(run: str | Path, out: str | Path | None = None, step: int | None = None) -> dict[str, Any]:
    """Export RUN's checkpoint (latest or `step`) with RUN's tokenizer into `out`; returns the info
    written to curate_export.json. RUN and `out` may be in object storage (the checkpoint and tokenizer
    are then read from the bucket; the folder is committed like a stage, see `_commit_remote`)."""
    import sentencepiece as spm

    from pipelines.runlayout import RunLayout
    from pipelines.stages.train import model_files
    from tokenizer.card import fingerprint
    from tokenizer.export import check_export, to_hf_tokenizer
    from tokenizer.hf_folder import write_tokenizer_files
    from trainer.checkpoint import load_checkpoint
    from trainer.config import ModelConfig
    from trainer.hf_export import write_model_files

    layout = RunLayout(run)
    run_ref = storage.redact(layout.url) if layout.remote else str(Path(layout.root).resolve())
    run_name = run_ref.rstrip("/").rsplit("/", 1)[-1]
    out_ref = os.fspath(out) if out is not None else layout.join(DEFAULT_OUT)
    model_ref = layout.join(TOKENIZER, MODEL_FILE)  # for messages
    with model_files(layout.url, step) as (train_dir, tokenizer_dir), \
            tempfile.TemporaryDirectory(prefix="curate-export-") as scratch:
        at, ckpt_path = pick_checkpoint(train_dir, step)
        ckpt_rel = f"{TRAIN}/{ckpt_path.relative_to(train_dir).as_posix()}"
        ckpt_ref = storage.redact(layout.join(ckpt_rel)) if layout.remote else str(ckpt_path)
        model_file = tokenizer_dir / MODEL_FILE
        if not model_file.is_file():
            raise ExportRefused(f"{model_ref}: no tokenizer model (run `curate tokenizer` first)")
        model_bytes = model_file.read_bytes()
        run_fp = fingerprint(model_bytes)
        card = _read_json(tokenizer_dir / TOKENIZER_CARD) or {}
        if card.get("fingerprint") and card["fingerprint"] != run_fp:
            raise ExportRefused(f"{layout.join(TOKENIZER, TOKENIZER_CARD)} has fingerprint {card['fingerprint']}, "
                                f"but {model_ref} has {run_fp}")
        ckpt = load_checkpoint(ckpt_path)
        ckpt_fp = ckpt["meta"]["fingerprint"]
        if ckpt_fp != run_fp:
            raise ExportRefused(f"{ckpt_ref}: trained with tokenizer {ckpt_fp}, but the run's tokenizer {model_ref} "
                                f"has {run_fp}")
        tok_section = json.loads(ckpt["meta"]["tokenizer"])
        vocab_size = int(ckpt["meta"]["vocab_size"])
        sp = spm.SentencePieceProcessor(model_proto=model_bytes)
        if sp.get_piece_size() != vocab_size:
            raise ExportRefused(f"{ckpt_ref}: vocabulary of {vocab_size}, {model_ref} has {sp.get_piece_size()}")
        model_cfg_dict = json.loads(ckpt["config"])["model"]
        model_cfg = ModelConfig(**model_cfg_dict)

        remote_out = storage.is_remote(out_ref)
        if remote_out:
            tmp = Path(scratch) / "export"
        else:
            out_path = Path(out_ref)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = out_path.with_name(f".{out_path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            written = write_model_files(
                tmp, ckpt["model"], model_cfg, vocab_size, tok_section,
                metadata={"curate_run": run_name, "curate_step": str(at), "tokenizer_fingerprint": run_fp},
            )
            files = write_tokenizer_files(tmp, model_bytes, tok_section, model_max_length=model_cfg.seq_len)
            # the exported tokenizer.json encodes like SentencePiece (edge cases and every piece of the vocabulary)
            tokenizer_check = check_export(sp, to_hf_tokenizer(model_bytes), [])
            manifest = _run_json(layout, SHARDS, MANIFEST)
            summary = _read_json(train_dir / "_SUCCESS")
            data_card = storage.join(str(layout.stage_dir(SHARDS)), "README.md")
            info = {
                "format": "curate-export/1",
                "run": run_ref,
                "run_name": run_name,
                "checkpoint": ckpt_rel,
                "step": at,
                "tokens": int(ckpt.get("tokens", 0)),
                "tokenizer_fingerprint": run_fp,
                "vocab_size": vocab_size,
                "params": written["params"],
                "ffn_hidden": model_cfg.hidden,
                "rope_layout": written["rope_layout"],
                "losses": losses_at(train_dir / "metrics.jsonl", at),
                "dataset_card": storage.exists(data_card),
                "tokenizer_check": {k: tokenizer_check[k] for k in ("texts", "tokens", "mismatches")},
                "files": sorted([*files, "config.json", "generation_config.json", "model.safetensors", CARD_FILE,
                                 INFO_FILE]),
            }
            if summary is not None and summary.get("step") != at:
                summary = {k: summary[k] for k in ("max_steps", "unigram_entropy") if k in summary}
            card_text = render_model_card(info, model_cfg_dict, manifest, summary, dataset_card_meta(data_card))
            (tmp / CARD_FILE).write_text(card_text, encoding="utf-8")
            (tmp / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
            if remote_out:
                info["out"] = storage.redact(_commit_remote(tmp, out_ref))
            else:
                _commit(tmp, out_path)
                info["out"] = str(out_path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return info


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate export: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    from trainer.hf_export import ConversionError

    try:
        info = export_run(args.run, args.out, args.step)
    except (ExportRefused, ConversionError, FileNotFoundError) as e:
        print(f"curate export: {e}", file=sys.stderr)
        return 1
    losses = info["losses"]
    print(f"export: step {info['step']} ({info['params'] / 1e6:.2f}M params, rotary layout {info['rope_layout']}, "
          f"train loss {_num(losses['train_loss'])}, val loss {_num(losses['val_loss'])}) -> {info['out']}")
    where = info["out"]
    if storage.is_remote(where):  # transformers loads a local folder: copy the committed one down first
        print(f"  copy {where}/ to a folder DIR (e.g. `aws s3 cp --recursive`), then")
        where = "DIR"
    print(f'  AutoModelForCausalLM.from_pretrained("{where}"), AutoTokenizer.from_pretrained("{where}")')
    return 0
