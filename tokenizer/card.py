"""`tokenizer_card.json`: what a trained tokenizer is, and the fingerprint the shards refer to.

The fingerprint hashes what decides the ids of a text: the pieces with their scores and types, the model
type, byte fallback and the normalizer spec. It does not hash the model file, whose bytes embed the
trainer's input path and thread count: the same tokenizer trained from two folders has one fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from tokenizer.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from tokenizer.model import CONTROL, UNKNOWN, USER_DEFINED, SpModel, parse_model

CARD_FILE = "tokenizer_card.json"
CARD_FORMAT = "curate-tokenizer/1"


def fingerprint(model: SpModel | bytes) -> str:
    m = parse_model(model) if isinstance(model, bytes) else model
    h = hashlib.sha256()
    header = {
        "model_type": m.model_type,
        "byte_fallback": m.byte_fallback,
        "treat_whitespace_as_suffix": m.treat_whitespace_as_suffix,
        "normalizer": hashlib.sha256(m.normalizer_bytes).hexdigest(),
    }
    h.update(json.dumps(header, sort_keys=True).encode())
    for p in m.pieces:
        piece = p.piece.encode("utf-8")
        # float32 bytes of the score: exact, and -0.0 == 0.0 made equal
        h.update(struct.pack("<I", len(piece)) + piece + struct.pack("<fB", p.score + 0.0, p.type))
    return h.hexdigest()


def special_ids(m: SpModel) -> dict[str, Any]:
    """The fixed special ids, checked against the model (a model trained elsewhere may differ)."""
    ids: dict[str, Any] = {"pad_id": PAD_ID, "unk_id": UNK_ID, "bos_id": BOS_ID, "eos_id": EOS_ID}
    names = {PAD_ID: "pad", UNK_ID: "unk", BOS_ID: "bos", EOS_ID: "eos"}
    expected = {PAD_ID: CONTROL, UNK_ID: UNKNOWN, BOS_ID: CONTROL, EOS_ID: CONTROL}
    for i, kind in expected.items():
        if len(m.pieces) <= i or m.pieces[i].type != kind:
            raise ValueError(f"the model's id {i} is not the {names[i]} token curate expects")
    ids["tokens"] = {names[i]: m.pieces[i].piece for i in names}
    ids["user_defined"] = {p.piece: i for i, p in enumerate(m.pieces) if p.type == USER_DEFINED}
    return ids


def build_card(model_bytes: bytes, **sections: Any) -> dict[str, Any]:
    """The card of a model: format, fingerprint, vocab size, special ids, plus the caller's sections
    (sample, trainer options, held-out rule, export check...)."""
    m = parse_model(model_bytes)
    return {
        "format": CARD_FORMAT,
        "fingerprint": fingerprint(m),
        "model_type": m.model_type,
        "vocab_size": len(m.pieces),
        "byte_fallback": m.byte_fallback,
        "special": special_ids(m),
        **sections,
    }


def read_card(tokenizer_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(tokenizer_dir) / CARD_FILE).read_text())
