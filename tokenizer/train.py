"""SentencePiece BPE training on a text file of sentences (one per line).

The options follow LLaMA's tokenizer (Touvron et al. 2023, section 2.1): BPE, byte fallback for
characters outside the vocabulary, every digit its own token, and no text normalization beyond what
ingest already did (NFC, whitespace tidy): `identity` normalization with extra whitespace kept, so that
decode(encode(text)) == text for ingested documents.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm

from tokenizer.config import (
    BOS,
    BOS_ID,
    EOS,
    EOS_ID,
    NUM_BYTE_PIECES,
    PAD,
    PAD_ID,
    UNK,
    UNK_ID,
    TokenizerConfig,
)
from tokenizer.model import without_training_paths

MODEL_FILE = "tokenizer.model"


class TrainingError(RuntimeError):
    """SentencePiece refused the sample or the options (e.g. a vocabulary larger than the sample allows)."""


def trainer_options(cfg: TokenizerConfig, input_path: str | Path, model_prefix: str | Path) -> dict[str, Any]:
    """The SentencePiece trainer options for `cfg` (all of them recorded in the tokenizer card)."""
    return {
        "input": str(input_path),
        "model_prefix": str(model_prefix),
        "model_type": "bpe",
        "vocab_size": cfg.vocab_size,
        "character_coverage": cfg.character_coverage,
        "byte_fallback": cfg.byte_fallback,
        "split_digits": cfg.split_digits,
        "allow_whitespace_only_pieces": cfg.allow_whitespace_only_pieces,
        "split_by_unicode_script": cfg.split_by_unicode_script,
        "max_sentencepiece_length": cfg.max_sentencepiece_length,
        "max_sentence_length": cfg.max_sentence_bytes,
        "user_defined_symbols": list(cfg.user_defined_symbols),
        "pad_id": PAD_ID,
        "unk_id": UNK_ID,
        "bos_id": BOS_ID,
        "eos_id": EOS_ID,
        "pad_piece": PAD,
        "unk_piece": UNK,
        "bos_piece": BOS,
        "eos_piece": EOS,
        # The sample is already chosen and bounded upstream: train on all of it, in file order.
        "input_sentence_size": 0,
        "shuffle_input_sentence": False,
        "normalization_rule_name": "identity",
        "remove_extra_whitespaces": False,
        "add_dummy_prefix": True,
        "num_threads": cfg.num_threads,
        "train_extremely_large_corpus": False,
        "minloglevel": 2,
    }


def portable_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options without the machine-specific paths (for the card and fingerprints)."""
    return {k: v for k, v in options.items() if k not in ("input", "model_prefix", "num_threads", "minloglevel")}


@dataclass(frozen=True)
class TrainResult:
    model_path: Path
    distinct_chars: int  # in the sample
    chars_in_vocab: int  # at most: the characters the coverage puts in the vocabulary
    masked_chars: int  # rare characters kept out of training (they are encoded as bytes)


def count_chars(path: str | Path) -> Counter[str]:
    """Character counts of a sentences file (spaces as SentencePiece sees them, "▁")."""
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            counts.update(line.rstrip("\n"))
    if " " in counts:
        counts["\u2581"] += counts.pop(" ")
    return counts


def chars_to_mask(counts: Counter[str], vocab_size: int, reserved: int, coverage: float,
                  max_share: float = 0.15) -> tuple[set[str], int]:
    """Rare characters to keep out of training, and how many characters go into the vocabulary.

    SentencePiece puts every character of the `character_coverage` share of the text into the
    vocabulary (and refuses a coverage below 0.98). With many scripts (CJK alone has thousands of
    characters) that can take most of a small vocabulary: a quarter of 8k pieces on our multilingual web
    sample, or more pieces than there are (training then fails). So at most `max_share` of the pieces
    left after the `reserved` ones (specials, bytes) go to characters: printable ASCII always, then the
    most frequent others; the rest are masked out of the training text (replaced by spaces) and byte
    fallback encodes them as UTF-8 bytes, as LLaMA does for characters outside its vocabulary.
    """
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(counts.values())
    if not total:
        return set(), 0
    cum = np.cumsum([n for _, n in ranked])
    needed = min(len(ranked), int(np.searchsorted(cum, coverage * total, side="left")) + 1)
    limit = max(1, int((vocab_size - reserved) * max_share))
    if needed <= limit:
        return set(), needed
    # printable ASCII (digits, punctuation, code) always stays, then the most frequent others
    keep = {c for c, _ in ranked if " " <= c <= "~"}
    for c, _ in ranked:
        if len(keep) >= limit:
            break
        keep.add(c)
    return {c for c, _ in ranked if c not in keep}, len(keep)


def _mask_file(src: Path, dst: Path, masked: set[str]) -> None:
    table = dict.fromkeys(map(ord, masked), " ")
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for line in fin:
            line = line.rstrip("\n").translate(table)
            if line.strip():
                fout.write(line + "\n")


def train_bpe(input_path: str | Path, out_dir: str | Path, cfg: TokenizerConfig, seed: int) -> TrainResult:
    """Train on `input_path` (one sentence a line) and write `out_dir/tokenizer.model`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = count_chars(input_path)
    reserved = 4 + len(cfg.user_defined_symbols) + (NUM_BYTE_PIECES if cfg.byte_fallback else 0)
    masked, in_vocab = (
        chars_to_mask(counts, cfg.vocab_size, reserved, cfg.character_coverage, cfg.max_char_share)
        if cfg.byte_fallback else (set(), len(counts))
    )
    work = Path(tempfile.mkdtemp(prefix="spm-", dir=out_dir.parent))
    try:
        source = Path(input_path)
        if masked:
            source = work / "masked.txt"
            _mask_file(Path(input_path), source, masked)
        options = trainer_options(cfg, source, work / "tokenizer")
        spm.set_random_generator_seed(seed)
        try:
            spm.SentencePieceTrainer.train(**options)
        except RuntimeError as e:
            raise TrainingError(
                f"SentencePiece training failed: {e}. With a small sample, lower tokenizer.vocab_size "
                f"(now {cfg.vocab_size}) or raise tokenizer.sample_bytes."
            ) from None
        final = out_dir / MODEL_FILE
        model = work / "tokenizer.model"
        model.write_bytes(without_training_paths(model.read_bytes()))
        model.replace(final)
        return TrainResult(final, len(counts), in_vocab, len(masked))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load(model_path: str | Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(model_path))
