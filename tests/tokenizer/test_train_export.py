"""Training a tiny BPE, exporting it to `tokenizers`, the card's fingerprint, batched encoding."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm
from tokenizers import Tokenizer

from filters.normalize import normalize_text
from tokenizer.card import build_card, fingerprint
from tokenizer.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, TokenizerConfig
from tokenizer.encode import DocumentEncoder, token_dtype
from tokenizer.export import EDGE_TEXTS, ExportError, check_export, compare_ids, exact_for, export
from tokenizer.model import BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, read_model
from tokenizer.sample import sentences
from tokenizer.train import TrainingError, train_bpe

CFG = TokenizerConfig(vocab_size=600, num_threads=1)


@pytest.fixture(scope="module")
def texts(sample_dir: Path) -> list[str]:
    """Ingest-normalized documents: 38 UDHR translations (many scripts) and a Gutenberg book."""
    rows = [json.loads(line) for line in (sample_dir / "udhr" / "udhr-sample.jsonl").open()]
    book = (sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8")
    return [normalize_text(r["text"]) for r in rows] + [normalize_text(book)]


def _train(texts: list[str], folder: Path, cfg: TokenizerConfig = CFG, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    sample = folder / "sample.txt"
    with open(sample, "w", encoding="utf-8") as f:
        for t in texts:
            for s in sentences(t, cfg.max_sentence_bytes):
                f.write(s + "\n")
    return train_bpe(sample, folder / "tok", cfg, seed).model_path


@pytest.fixture(scope="module")
def model(texts, tmp_path_factory) -> Path:
    return _train(texts, tmp_path_factory.mktemp("tok"))


def test_model_has_the_fixed_special_ids_and_byte_fallback(model):
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert sp.get_piece_size() == 600
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD_ID, UNK_ID, BOS_ID, EOS_ID)
    m = read_model(model)
    assert [p.type for p in m.pieces[:4]] == [CONTROL, UNKNOWN, CONTROL, CONTROL]
    assert sum(p.type == BYTE for p in m.pieces) == 256
    assert m.model_type == "bpe" and m.byte_fallback and m.normalizer_name == "identity"
    assert not m.remove_extra_whitespaces
    # the reader agrees with SentencePiece on every piece
    assert [p.piece for p in m.pieces] == [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    assert [p.type == BYTE for p in m.pieces] == [sp.is_byte(i) for i in range(sp.get_piece_size())]


def test_digits_are_split_and_unknown_text_falls_back_to_bytes(model):
    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = sp.encode("in 2024 🦜", out_type=str)
    assert [p for p in pieces if p.isdigit()] == ["2", "0", "2", "4"]
    assert not any(p.isdigit() and len(p) > 1 for p in pieces)
    assert UNK_ID not in sp.encode("🦜 ꙮ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢")
    assert "<0xF0>" in pieces  # the parrot's first UTF-8 byte


def test_round_trip_is_the_normalized_text(model, texts):
    sp = spm.SentencePieceProcessor(model_file=str(model))
    extra = [normalize_text(t) for t in EDGE_TEXTS if "\u2581" not in t]
    for text in [*texts, *extra]:
        assert sp.decode(sp.encode(text)) == text


def test_tokenizers_export_gives_the_same_ids(model, texts, tmp_path):
    tok = export(model, tmp_path / "tokenizer.json")
    reloaded = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    sp = spm.SentencePieceProcessor(model_file=str(model))
    report = check_export(sp, reloaded, texts)
    assert report["mismatches"] == 0 and report["texts"] == len(texts) + len(EDGE_TEXTS) + 1
    assert report["tokens"] > 100_000
    # decoding agrees too, and control tokens are never read out of the text
    ids = sp.encode(texts[0])
    assert tok.decode(ids) == sp.decode(ids) == texts[0]
    literal = "an <eos> in the text"
    assert EOS_ID not in tok.encode(literal).ids and EOS_ID not in sp.encode(literal)
    assert tok.token_to_id("<eos>") == EOS_ID and tok.token_to_id("<pad>") == PAD_ID
    assert reloaded.encode(literal).ids == sp.encode(literal)


def test_check_export_catches_a_different_tokenizer(model, texts, tmp_path):
    tok = export(model, tmp_path / "tokenizer.json")
    broken = Tokenizer.from_str(tok.to_str())
    broken.normalizer = None  # no dummy prefix, no space escaping: ids must differ
    sp = spm.SentencePieceProcessor(model_file=str(model))
    assert compare_ids(sp, broken, texts[:3])["mismatches"] == 3
    with pytest.raises(ExportError, match="differently"):
        check_export(sp, broken, texts[:3])


def test_user_defined_symbols_get_the_next_ids_and_match_verbatim(texts, tmp_path):
    cfg = replace(CFG, user_defined_symbols=["<|sep|>", "<|code|>"])
    path = _train(texts[:10], tmp_path / "user", cfg)
    sp = spm.SentencePieceProcessor(model_file=str(path))
    assert [sp.id_to_piece(i) for i in (4, 5)] == ["<|sep|>", "<|code|>"]
    assert [p.type for p in read_model(path).pieces[4:6]] == [USER_DEFINED, USER_DEFINED]
    tok = export(path, tmp_path / "user.json")
    text = "first part<|sep|>second part <|code|> x = 1<|sep|>"
    assert sp.encode(text).count(4) == 2 and compare_ids(sp, tok, [text])["mismatches"] == 0
    report = check_export(sp, tok, [text, *texts[:10], "<|sep|> at the start"])
    assert report["mismatches"] == 0 and report["not_exact"] >= 1  # texts starting with a symbol
    m = read_model(path)
    assert not exact_for(m, "<|sep|> at the start") and exact_for(m, "text <|sep|>")


def test_fingerprint_ignores_paths_and_threads_but_not_the_vocabulary(model, texts, tmp_path):
    other_dir = tmp_path / "elsewhere" / "deeper"
    same = _train(texts, tmp_path / "same-config-elsewhere")
    assert model.read_bytes() == same.read_bytes()  # no training paths in the file: same job, same bytes
    again = _train(texts, other_dir, replace(CFG, num_threads=2))
    assert model.read_bytes() != again.read_bytes()  # the trainer spec records the thread count
    assert fingerprint(model.read_bytes()) == fingerprint(again.read_bytes())
    smaller = _train(texts, tmp_path / "small", replace(CFG, vocab_size=500))
    assert fingerprint(smaller.read_bytes()) != fingerprint(model.read_bytes())
    m = read_model(model)
    bumped = replace(m, pieces=[*m.pieces[:-1], replace(m.pieces[-1], score=m.pieces[-1].score - 1)])
    assert fingerprint(bumped) != fingerprint(m)
    shutil.rmtree(tmp_path / "elsewhere")


def test_card_lists_ids_and_sections(model):
    card = build_card(model.read_bytes(), sample={"docs": 3})
    assert card["vocab_size"] == 600 and card["model_type"] == "bpe"
    assert card["special"]["eos_id"] == EOS_ID and card["special"]["tokens"]["eos"] == "<eos>"
    assert card["fingerprint"] == fingerprint(model.read_bytes()) and card["sample"] == {"docs": 3}
    assert read_model(model).pieces[300].type == NORMAL


def test_vocabulary_larger_than_the_sample_allows_is_a_clear_error(texts, tmp_path):
    with pytest.raises(TrainingError, match="vocab_size"):
        _train(["tiny text only"], tmp_path / "tiny", replace(CFG, vocab_size=5000))


def test_encoder_appends_eos_and_optionally_bos(model, texts):
    enc = DocumentEncoder(model)
    arrays = enc.encode(texts[:5] + [""])
    assert all(a.dtype == np.uint16 and a[-1] == EOS_ID for a in arrays)
    assert arrays[-1].tolist() == [EOS_ID]
    assert enc.decode(arrays[0]) == texts[0]
    with_bos = DocumentEncoder(model, add_bos=True).encode(texts[:2])
    assert all(a[0] == BOS_ID and a[-1] == EOS_ID for a in with_bos)
    assert with_bos[0][1:].tolist() == arrays[0].tolist()
    assert token_dtype(65535) == np.uint16 and token_dtype(65536) == np.uint32
