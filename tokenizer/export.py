"""SentencePiece BPE model -> Hugging Face `tokenizers` tokenizer (tokenizer.json), with the same ids.

How SentencePiece encodes with a BPE model (bpe_model.cc): the text (spaces escaped to U+2581 "▁", one
"▁" prepended when `add_dummy_prefix`) is split into characters, user-defined symbols matched whole;
then, repeatedly, the adjacent pair whose concatenation is a vocabulary piece with the highest score is
merged (leftmost first on ties); characters left outside the vocabulary become their UTF-8 byte pieces
(`byte_fallback`) or <unk>.

The `tokenizers` BPE model does the same given merge ranks ordered by the score of the merged piece:
the merges are every split of every normal piece into two pieces of the vocabulary, ranked by the
merged piece's score (as in transformers' SentencePieceExtractor). Pre-tokenization splits the text
before each "▁" that follows another character, which no piece spans (checked on the vocabulary; when
some piece does, the text stays in one chunk, which is slower but still exact). Control tokens
(<pad> <bos> <eos>) are plain vocabulary entries, never matched in text, as in SentencePiece.
`compare_ids` checks the result on real texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from tokenizer.model import NORMAL, UNKNOWN, USER_DEFINED, SpModel, parse_model

SPACE = "\u2581"
TOKENIZER_JSON = "tokenizer.json"
# A "▁" after any other character starts a new chunk; runs of "▁" stay with the word that follows.
_CHUNK = f"{SPACE}*[^{SPACE}]+|{SPACE}+"
_SPANS_CHUNKS = re.compile(f"[^{SPACE}]{SPACE}")

#: Texts every export is checked on besides the caller's: whitespace runs, digits, newlines and tabs,
#: characters outside any small vocabulary (byte fallback), special-token look-alikes, empty text.
EDGE_TEXTS = [
    "",
    "a",
    "Hello, world!",
    "  two leading spaces and trailing  ",
    "tabs\tand\nnew\n\nlines\r\nwith CRLF",
    "numbers 1234567890 and 3.14159, 1,000,000 and 2024-05-01",
    "    def f(x):\n        return x ** 2  # code indentation",
    "Ünïcödé façade, naïve café: ÆØÅ æøå ß",
    "Русский текст, ελληνικά, 中文字符, 日本語のテキスト, 한국어, العربية, עברית, हिन्दी",
    "emoji 😀🎉👩‍👩‍👧 and symbols ∑∫√∞ ≠ ≤ ≥ → ✓",
    "literal <eos> and <bos> and <pad> and <unk> in text",
    "\u2581 a literal lower one eighth block ▁▁",
]


class ExportError(RuntimeError):
    """The SentencePiece model cannot be converted exactly (unsupported options, or ids differ)."""


def _check_supported(m: SpModel) -> None:
    problems = []
    if m.model_type != "bpe":
        problems.append(f"model_type={m.model_type} (only bpe)")
    if m.normalizer_name not in ("identity", "") or m.precompiled_charsmap:
        problems.append(f"normalization={m.normalizer_name!r} (only identity)")
    if m.remove_extra_whitespaces:
        problems.append("remove_extra_whitespaces=true")
    if not m.escape_whitespaces:
        problems.append("escape_whitespaces=false")
    if m.treat_whitespace_as_suffix:
        problems.append("treat_whitespace_as_suffix=true")
    if problems:
        raise ExportError("cannot export this SentencePiece model exactly: " + ", ".join(problems))


def has_user_symbols(m: SpModel) -> bool:
    return any(p.type == USER_DEFINED for p in m.pieces)


def merges_from_vocab(m: SpModel) -> list[tuple[str, str]]:
    """Every (left, right) whose concatenation is a normal piece, ranked by that piece's score
    (descending; ties by piece id, then by the ids of left and right)."""
    vocab = {p.piece: i for i, p in enumerate(m.pieces)}
    mergeable = {p.piece for p in m.pieces if p.type in (NORMAL, USER_DEFINED)}
    ranked: list[tuple[float, int, int, int, str, str]] = []
    for i, p in enumerate(m.pieces):
        if p.type != NORMAL or len(p.piece) < 2:
            continue
        s = p.piece
        for k in range(1, len(s)):
            left, right = s[:k], s[k:]
            if left in mergeable and right in mergeable:
                ranked.append((-p.score, i, vocab[left], vocab[right], left, right))
    ranked.sort()
    return [(r[4], r[5]) for r in ranked]


def to_hf_tokenizer(model: SpModel | bytes) -> Tokenizer:
    m = parse_model(model) if isinstance(model, bytes) else model
    _check_supported(m)
    vocab = {p.piece: i for i, p in enumerate(m.pieces)}
    if len(vocab) != len(m.pieces):
        raise ExportError("the SentencePiece vocabulary has repeated pieces")
    unk = next((p.piece for p in m.pieces if p.type == UNKNOWN), None)
    bpe = models.BPE(
        vocab=vocab,
        merges=merges_from_vocab(m),
        unk_token=unk,
        fuse_unk=True,
        byte_fallback=m.byte_fallback,
        ignore_merges=False,
    )
    tok = Tokenizer(bpe)
    steps_pre: list[Any] = []
    if has_user_symbols(m):
        # The text is cut at user-defined symbols before normalization, so the dummy prefix comes from
        # the pre-tokenizer, which gives it to the first segment only. Unlike SentencePiece it gives
        # none to a text that starts with a space or with a user-defined symbol (see `exact_for`).
        prepend = "first" if m.add_dummy_prefix else "never"
        steps_pre.append(pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme=prepend, split=False))
    else:
        # SentencePiece prepends one "▁" to the whole text and escapes every space: exact.
        steps_norm: list[Any] = [normalizers.Prepend(SPACE)] if m.add_dummy_prefix else []
        tok.normalizer = normalizers.Sequence([*steps_norm, normalizers.Replace(" ", SPACE)])
    normal_pieces = (p.piece for p in m.pieces if p.type in (NORMAL, USER_DEFINED))
    if not any(_SPANS_CHUNKS.search(piece) for piece in normal_pieces):
        steps_pre.append(pre_tokenizers.Split(Regex(_CHUNK), behavior="isolated"))
    if steps_pre:
        tok.pre_tokenizer = pre_tokenizers.Sequence(steps_pre)
    steps: list[Any] = [decoders.Replace(SPACE, " ")]
    if m.byte_fallback:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if m.add_dummy_prefix:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    tok.decoder = decoders.Sequence(steps)
    # User-defined symbols are matched verbatim anywhere in the text, before anything else.
    user = [AddedToken(p.piece, normalized=False, special=False) for p in m.pieces if p.type == USER_DEFINED]
    if user:
        tok.add_tokens(user)
    # Control tokens (<pad> <bos> <eos>) stay plain vocabulary entries, not added tokens: SentencePiece
    # never reads them out of the text ("<eos>" in a document is just text), while `tokenizers` would
    # match added tokens in the text (its `encode_special_tokens` switch is not saved in tokenizer.json).
    # A consequence: `decode` prints them instead of dropping them.
    return tok


def export(model_path: str | Path, out_path: str | Path) -> Tokenizer:
    """Write `tokenizer.json` for the SentencePiece model at `model_path`; returns the tokenizer."""
    tok = to_hf_tokenizer(Path(model_path).read_bytes())
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tok.save(str(tmp))
    tmp.replace(out_path)
    return tok


def compare_ids(sp: spm.SentencePieceProcessor, tok: Tokenizer, texts: Iterable[str]) -> dict[str, Any]:
    """Encode `texts` with both; returns {"texts", "tokens", "mismatches", "first_mismatch"}."""
    texts = list(texts)
    ours = sp.encode(texts)
    theirs = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    mismatches = [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    first = None
    if mismatches:
        i = mismatches[0]
        a, b = ours[i], theirs[i]
        at = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        first = {
            "text": texts[i][:200],
            "position": at,
            "sentencepiece": [sp.id_to_piece(x) for x in a[max(0, at - 3) : at + 5]],
            "tokenizers": [tok.id_to_token(x) for x in b[max(0, at - 3) : at + 5]],
        }
    return {
        "texts": len(texts),
        "tokens": sum(map(len, ours)),
        "mismatches": len(mismatches),
        "first_mismatch": first,
    }


def exact_for(m: SpModel, text: str) -> bool:
    """Whether the export is guaranteed to give SentencePiece's ids for `text`: always, except, with
    user-defined symbols, for a text starting with a space, "▁" or one of the symbols (where `tokenizers`
    gives no dummy prefix). Ingested documents are stripped, so only the last case can occur."""
    if not has_user_symbols(m) or not m.add_dummy_prefix:
        return True
    if text[:1] in (" ", SPACE):
        return False
    return not any(text.startswith(p.piece) for p in m.pieces if p.type == USER_DEFINED)


def check_export(sp: spm.SentencePieceProcessor, tok: Tokenizer, texts: Iterable[str]) -> dict[str, Any]:
    """`compare_ids` on `texts`, EDGE_TEXTS and the model's own pieces; raises ExportError on any
    difference. Texts `exact_for` excludes are left out and counted in "not_exact"."""
    m = parse_model(sp.serialized_model_proto())
    pieces = [sp.id_to_piece(i).replace(SPACE, " ") for i in range(sp.get_piece_size())
              if not (sp.is_control(i) or sp.is_byte(i) or sp.is_unknown(i))]
    candidates = [*EDGE_TEXTS, "x " + " ".join(pieces), *texts]
    checked = [t for t in candidates if exact_for(m, t)]
    report = compare_ids(sp, tok, checked)
    report["not_exact"] = len(candidates) - len(checked)
    if report["mismatches"]:
        raise ExportError(
            f"tokenizer.json encodes {report['mismatches']} of {report['texts']} texts differently from "
            f"SentencePiece; first: {report['first_mismatch']}"
        )
    return report


__all__ = [
    "EDGE_TEXTS",
    "ExportError",
    "TOKENIZER_JSON",
    "check_export",
    "compare_ids",
    "exact_for",
    "export",
    "has_user_symbols",
    "merges_from_vocab",
    "to_hf_tokenizer",
]
