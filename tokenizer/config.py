"""Configuration of the tokenizer and tokenize stages (frozen dataclasses, loaded by pipelines.config)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The fixed special ids every curate tokenizer has (the trainer and the manifest rely on them).
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
#: Byte fallback needs one piece per byte value (SentencePiece `<0x00>`..`<0xFF>`).
NUM_BYTE_PIECES = 256


def _check_weights(name: str, weights: dict[str, float] | None) -> None:
    if weights is None:
        return
    for key, w in weights.items():
        if w < 0:
            raise ValueError(f"{name}.{key}: weight must be >= 0, got {w}")
    if weights and sum(weights.values()) <= 0:
        raise ValueError(f"{name}: at least one weight must be positive")


@dataclass(frozen=True)
class TokenizerConfig:
    """`curate tokenizer`: SentencePiece BPE trained on a deterministic, byte-bounded, balanced sample."""

    vocab_size: int = 8192
    # Upper bound of the training sample in UTF-8 bytes of text. SentencePiece holds its whole input in
    # memory (roughly 10-20x the text size while counting pairs), so this bounds the driver's memory.
    sample_bytes: int = 1_000_000_000
    # Share of the sample per dataset (the input name, the mixture key) and per language (the
    # `language_field` signal: the filter stage writes `lang`). Weights multiply and are normalized; null/empty: natural proportions.
    # A dataset or language missing from a non-empty map gets weight `default_weight`.
    dataset_weights: dict[str, float] | None = None
    language_weights: dict[str, float] | None = None
    default_weight: float = 1.0
    # Column (filter signal) holding a document's language; documents without it count as "unknown".
    language_field: str = "lang"
    # Unit of sampling: documents longer than this are cut into about-equal line-aligned chunks, each
    # chosen on its own, so a dataset of a few long books still fills its share (see tokenizer/sample.py).
    sample_chunk_bytes: int = 16384
    # Documents held out of the sample for `curate tokenizer-eval`, chosen by a hash of the id.
    heldout_fraction: float = 0.01
    # Special tokens besides <pad> <unk> <bos> <eos> (ids 0-3); they get ids 4, 5, ... in this order and
    # are matched verbatim in text (SentencePiece user_defined_symbols).
    user_defined_symbols: list[str] = field(default_factory=list)
    # SentencePiece trainer options (https://github.com/google/sentencepiece/blob/master/doc/options.md).
    # 0.9995 is SentencePiece's default and the value LLaMA used; rarer characters go to byte fallback.
    character_coverage: float = 0.9995
    byte_fallback: bool = True  # unknown characters become UTF-8 byte pieces, never <unk> (LLaMA)
    split_digits: bool = True  # every digit its own token (LLaMA, PaLM): better arithmetic
    # Keep runs of spaces as pieces (code indentation); SentencePiece's default merges them away.
    allow_whitespace_only_pieces: bool = True
    # Let pieces mix scripts ("'s", "s.", "),"): SentencePiece's default (true) keeps "'" and "s" apart,
    # which costs English text ~4% in bytes per token against byte-level BPE (benchmarks/tokenizer.py).
    split_by_unicode_script: bool = False
    # At most this share of the pieces left after specials and bytes goes to single characters; rarer
    # characters are left to byte fallback (see tokenizer/train.py `chars_to_mask`). On multilingual web
    # text at 8k pieces, character_coverage alone spends a quarter of the vocabulary on characters;
    # 0.15 gave the best bytes per token there (benchmarks/tokenizer.py).
    max_char_share: float = 0.15
    max_sentencepiece_length: int = 16
    # Lines longer than this (bytes) are cut at a space before training: SentencePiece skips longer ones.
    max_sentence_bytes: int = 16384
    num_threads: int = 2
    seed: int | None = None  # null: the job's seed

    def validate(self) -> None:
        specials = 4 + len(self.user_defined_symbols)
        minimum = specials + (NUM_BYTE_PIECES if self.byte_fallback else 0) + 1
        if self.vocab_size < minimum:
            raise ValueError(f"vocab_size: must be >= {minimum} (specials + byte pieces), got {self.vocab_size}")
        if self.vocab_size > 1 << 31:
            raise ValueError("vocab_size: too large")
        if self.sample_bytes < 1:
            raise ValueError("sample_bytes: must be >= 1")
        if self.sample_chunk_bytes < 256:
            raise ValueError("sample_chunk_bytes: must be >= 256")
        _check_weights("dataset_weights", self.dataset_weights)
        _check_weights("language_weights", self.language_weights)
        if self.default_weight < 0:
            raise ValueError("default_weight: must be >= 0")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError("heldout_fraction: must be in [0, 1)")
        if not 0.0 < self.character_coverage <= 1.0:
            raise ValueError("character_coverage: must be in (0, 1]")
        if self.num_threads < 1:
            raise ValueError("num_threads: must be >= 1")
        if self.max_sentence_bytes < 64:
            raise ValueError("max_sentence_bytes: must be >= 64")
        if not 0.0 < self.max_char_share <= 1.0:
            raise ValueError("max_char_share: must be in (0, 1]")
        if not 1 <= self.max_sentencepiece_length <= 64:
            raise ValueError("max_sentencepiece_length: must be in [1, 64]")
        seen = {PAD, UNK, BOS, EOS}
        for s in self.user_defined_symbols:
            if not s or s in seen:
                raise ValueError(f"user_defined_symbols: {s!r} is empty or repeated")
            seen.add(s)


@dataclass(frozen=True)
class TokenizeConfig:
    """`curate tokenize`: documents -> Parquet token shards + manifest (the trainer's input)."""

    # Fraction of documents (by a hash of the id) in the val split. A document and all its mixture
    # copies are always in the same split, so no text of val is ever trained on.
    val_fraction: float = 0.01
    # Target tokens per shard; the number of shards per split is ceil(tokens / shard_tokens).
    shard_tokens: int = 50_000_000
    # Share of the train tokens per dataset, e.g. {web: 0.6, books: 0.3, articles: 0.1}; normalized.
    # null: natural proportions (every document once). Datasets absent from the map are dropped.
    mixture: dict[str, float] | None = None
    # Train tokens after mixing; null: the same total as the natural data. Datasets below their share
    # are repeated (whole documents), those above it are subsampled, both by a hash of the id.
    mixture_tokens: int | None = None
    add_bos: bool = False  # <eos> always ends a document; <bos> starts it only when asked
    batch_size: int = 256  # documents per encode call
    num_threads: int = 1  # SentencePiece threads per encode call (per Beam worker)
    seed: int | None = None  # null: the job's seed

    def validate(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction: must be in [0, 1)")
        if self.shard_tokens < 1:
            raise ValueError("shard_tokens: must be >= 1")
        _check_weights("mixture", self.mixture)
        if self.mixture is not None and not self.mixture:
            raise ValueError("mixture: must be null or name at least one dataset")
        if self.mixture_tokens is not None and self.mixture_tokens < 1:
            raise ValueError("mixture_tokens: must be >= 1 or null")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
        if self.num_threads < 1:
            raise ValueError("num_threads: must be >= 1")
