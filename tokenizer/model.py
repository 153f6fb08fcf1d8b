"""Reading a SentencePiece model file without the generated protobuf module.

`sentencepiece_model_pb2` is generated for a newer protobuf runtime than Beam allows, so this module
reads the few fields the export and the fingerprint need straight from the protobuf wire format
(https://protobuf.dev/programming-guides/encoding/), following sentencepiece_model.proto:

    ModelProto      { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
                      NormalizerSpec normalizer_spec = 3; }
    SentencePiece   { string piece = 1; float score = 2; Type type = 3 [default = NORMAL]; }
    TrainerSpec     { ModelType model_type = 3; bool treat_whitespace_as_suffix = 24;
                      bool byte_fallback = 35; ... }
    NormalizerSpec  { string name = 1; bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3;
                      bool remove_extra_whitespaces = 4; bool escape_whitespaces = 5; }
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
# TrainerSpec.ModelType
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


class ModelFormatError(ValueError):
    """The bytes are not a SentencePiece model this reader understands."""


@dataclass(frozen=True)
class Piece:
    piece: str
    score: float
    type: int = NORMAL


@dataclass(frozen=True)
class SpModel:
    pieces: list[Piece]
    model_type: str = "unigram"
    byte_fallback: bool = False
    treat_whitespace_as_suffix: bool = False
    normalizer_name: str = ""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True
    precompiled_charsmap: bytes = b""
    #: The raw NormalizerSpec message: everything that changes how text is normalized before encoding.
    normalizer_bytes: bytes = field(default=b"", repr=False)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ModelFormatError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ModelFormatError("varint too long")


def _spans(buf: bytes) -> Iterator[tuple[int, int, int | bytes, int, int]]:
    """(field number, wire type, value, start, end) of one message's fields; value is an int or the raw
    bytes, `buf[start:end]` the whole field as written."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ModelFormatError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ModelFormatError("truncated message")
        yield num, wire, value, start, pos


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message; value is an int or the raw bytes."""
    for num, wire, value, _, _ in _spans(buf):
        yield num, wire, value


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


#: TrainerSpec fields that name files of the training run (`input`, `model_prefix`).
_TRAINER_PATH_FIELDS = (1, 2)


def without_training_paths(data: bytes) -> bytes:
    """The model with the training file paths cleared from its TrainerSpec. They name a temporary
    folder, so two runs of the same job wrote different `tokenizer.model` bytes; encoding never reads
    them (it reads the pieces and the NormalizerSpec)."""
    out = bytearray()
    for num, wire, value, start, end in _spans(data):
        if num == 2 and wire == 2:
            spec = bytes(value)
            kept = b"".join(spec[s:e] for n, _, _, s, e in _spans(spec) if n not in _TRAINER_PATH_FIELDS)
            out += _encode_varint(2 << 3 | 2) + _encode_varint(len(kept)) + kept
        else:
            out += data[start:end]
    return bytes(out)


def _piece(buf: bytes) -> Piece:
    piece, score, kind = "", 0.0, NORMAL
    for num, wire, value in _fields(buf):
        if num == 1 and wire == 2:
            piece = bytes(value).decode("utf-8")
        elif num == 2 and wire == 5:
            score = struct.unpack("<f", value)[0]
        elif num == 3 and wire == 0:
            kind = int(value)
    return Piece(piece, score, kind)


def parse_model(data: bytes) -> SpModel:
    pieces: list[Piece] = []
    trainer: dict[int, int | bytes] = {}
    normalizer: dict[int, int | bytes] = {}
    normalizer_bytes = b""
    for num, wire, value in _fields(data):
        if num == 1 and wire == 2:
            pieces.append(_piece(bytes(value)))
        elif num == 2 and wire == 2:
            trainer = {n: v for n, _, v in _fields(bytes(value))}
        elif num == 3 and wire == 2:
            normalizer_bytes = bytes(value)
            normalizer = {n: v for n, _, v in _fields(normalizer_bytes)}
    if not pieces:
        raise ModelFormatError("no pieces: not a SentencePiece model")
    return SpModel(
        pieces=pieces,
        model_type=MODEL_TYPES.get(int(trainer.get(3, 1)), "unknown"),
        byte_fallback=bool(trainer.get(35, 0)),
        treat_whitespace_as_suffix=bool(trainer.get(24, 0)),
        normalizer_name=bytes(normalizer.get(1, b"")).decode("utf-8"),
        add_dummy_prefix=bool(normalizer.get(3, 1)),
        remove_extra_whitespaces=bool(normalizer.get(4, 1)),
        escape_whitespaces=bool(normalizer.get(5, 1)),
        precompiled_charsmap=bytes(normalizer.get(2, b"")),
        normalizer_bytes=normalizer_bytes,
    )


def read_model(path: str | Path) -> SpModel:
    return parse_model(Path(path).read_bytes())
