from __future__ import annotations

import xxhash

from filters.dedup.normalize import normalize_bytes, normalize_text, normalize_words
from filters.dedup.shingles import shingle_texts


def test_case_punctuation_digits_and_spacing_vanish():
    assert normalize_text("Hello,   WORLD!\n\tIt's 1984...") == "hello world it s 0000"
    assert normalize_text("The_quick-brown (fox)") == "the quick brown fox"


def test_diacritics_and_compatibility_forms():
    assert normalize_text("Café naïve ÉLAN") == "cafe naive elan"
    assert normalize_text("ﬁne ①") == "fine 0"  # ligature and circled digit decompose (NFKD)
    assert normalize_text("Ｆｕｌｌ") == "full"


def test_non_ascii_punctuation_and_digits():
    assert normalize_text("“Quoted” — dash… ٣ ४") == "quoted dash 0 0"
    assert normalize_text("中文，测试。") == "中文 测试"


def test_indic_vowel_signs_are_kept():
    # Devanagari vowel signs are combining marks but part of the word: only Latin-style diacritics go.
    assert normalize_text("हिन्दी भाषा") == "हिन्दी भाषा"


def test_ascii_and_unicode_paths_agree():
    text = "Plain ASCII text, with 42 numbers & symbols!"
    assert normalize_bytes(text).split() == normalize_bytes(text + " é").split()[:-1]
    assert normalize_words("A b") == [b"a", b"b"]


def test_exact_key_is_xxh128_of_canonical_text():
    texts = ["Hello, World!", "  hello world  ", "", "Ünïcödé  text 12"]
    keys = shingle_texts(texts).exact_keys
    for t, k in zip(texts, keys, strict=True):
        assert k == xxhash.xxh3_128_digest(normalize_text(t).encode())
    assert keys[0] == keys[1]
    assert keys[2] == xxhash.xxh3_128_digest(b"")
