"""The run's tokenizer as the files `transformers.AutoTokenizer.from_pretrained(folder)` reads.

- tokenizer.json: `tokenizer.export.to_hf_tokenizer` (same ids as SentencePiece), plus a post-processor
  that puts <bos> first when the shards were tokenized with `add_bos`, so that `tokenizer(text)` gives the
  ids the model was trained on.
- tokenizer_config.json: the generic fast tokenizer class (a Llama tokenizer class would rebuild the
  pipeline from its own defaults), the special tokens, the context length, no clean-up of decoded spaces
  (decode(encode(text)) stays the text), and `split_special_tokens`: a literal "<eos>" in a text is text,
  as in SentencePiece, not the end-of-sequence id.
- special_tokens_map.json: <bos> <eos> <pad> <unk>, so that generation stops at <eos>.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenizers import processors

from tokenizer.export import TOKENIZER_JSON, to_hf_tokenizer
from tokenizer.model import CONTROL, UNKNOWN, parse_model

TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ROLES = ("bos", "eos", "pad", "unk")


def special_tokens(model_bytes: bytes, ids: dict[str, int]) -> dict[str, str]:
    """role -> piece for bos/eos/pad/unk at the ids the shards' manifest names (pad_id, bos_id...),
    checked against the model: each must be a control token (<unk>: the unknown token)."""
    m = parse_model(model_bytes)
    out = {}
    for role in ROLES:
        i = int(ids[f"{role}_id"])
        want = UNKNOWN if role == "unk" else CONTROL
        if not 0 <= i < len(m.pieces) or m.pieces[i].type != want:
            raise ValueError(f"{role}_id {i} is not a {role} token of the tokenizer model")
        out[role] = m.pieces[i].piece
    return out


def tokenizer_files(model_bytes: bytes, ids: dict[str, Any], *, model_max_length: int) -> dict[str, str]:
    """file name -> content of the three tokenizer files. `ids`: the manifest's tokenizer section
    (pad_id, unk_id, bos_id, eos_id, add_bos)."""
    tokens = special_tokens(model_bytes, ids)
    tok = to_hf_tokenizer(model_bytes)
    if ids.get("add_bos"):
        bos = tokens["bos"]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, int(ids["bos_id"]))]
        )
    added = {
        str(int(ids[f"{role}_id"])): {"content": tokens[role], "lstrip": False, "normalized": False,
                                       "rstrip": False, "single_word": False, "special": True}
        for role in ROLES
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **{f"{role}_token": tokens[role] for role in ROLES},
        "added_tokens_decoder": dict(sorted(added.items(), key=lambda kv: int(kv[0]))),
        "model_max_length": int(model_max_length),
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": True,
        "add_bos_token": bool(ids.get("add_bos")),
        "add_eos_token": False,
    }
    special_map = {f"{role}_token": tokens[role] for role in ROLES}
    return {
        TOKENIZER_JSON: tok.to_str(pretty=True),
        TOKENIZER_CONFIG: json.dumps(config, indent=2, ensure_ascii=False) + "\n",
        SPECIAL_TOKENS_MAP: json.dumps(special_map, indent=2, ensure_ascii=False) + "\n",
    }


def write_tokenizer_files(folder: str | Path, model_bytes: bytes, ids: dict[str, Any], *,
                          model_max_length: int) -> list[str]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = tokenizer_files(model_bytes, ids, model_max_length=model_max_length)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(files)
