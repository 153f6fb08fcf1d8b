"""Batched encoding of documents into token arrays that end with <eos> (and start with <bos> if asked)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from tokenizer.config import BOS_ID, EOS_ID

#: Largest vocabulary whose ids fit in uint16 (the shard contract switches to uint32 above it).
UINT16_MAX_VOCAB = 65535


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16 if vocab_size <= UINT16_MAX_VOCAB else np.uint32)


class DocumentEncoder:
    """One SentencePiece model, encoding lists of texts in one call each (C++ loop, `num_threads`)."""

    def __init__(self, model_path: str | Path, *, add_bos: bool = False, num_threads: int = 1):
        self.sp = spm.SentencePieceProcessor(model_file=str(model_path))
        self.vocab_size = self.sp.get_piece_size()
        self.dtype = token_dtype(self.vocab_size)
        self.add_bos = add_bos
        self.num_threads = num_threads
        if self.sp.eos_id() != EOS_ID or self.sp.bos_id() != BOS_ID:
            raise ValueError(
                f"model {model_path}: eos/bos ids are {self.sp.eos_id()}/{self.sp.bos_id()}, "
                f"expected {EOS_ID}/{BOS_ID}"
            )

    def encode_plain(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text, no special tokens (int32)."""
        if not texts:
            return []
        return self.sp.encode_as_numpy(list(texts), num_threads=self.num_threads)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text as `self.dtype`, `<bos>`-prefixed if `add_bos`, `<eos>`-terminated."""
        head = 1 if self.add_bos else 0
        out = []
        for ids in self.encode_plain(texts):
            arr = np.empty(len(ids) + head + 1, dtype=self.dtype)
            if head:
                arr[0] = BOS_ID
            arr[head:-1] = ids
            arr[-1] = EOS_ID
            out.append(arr)
        return out

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Text of `ids`, special tokens dropped."""
        return self.sp.decode([int(i) for i in ids])
