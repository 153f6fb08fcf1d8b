from filters.normalize import normalize_text


def test_mojibake_is_repaired_and_quotes_kept():
    assert normalize_text("The cafÃ© said â€œhelloâ€\x9d") == "The café said “hello”"


def test_nfc_control_characters_and_whitespace():
    decomposed = "e\u0301te\u0301"  # é written as e + combining accent
    assert normalize_text(decomposed) == "\u00e9t\u00e9"
    assert normalize_text("a\x00b\x07c\u200bd\u00ade\u2060f") == "abcdef"
    assert normalize_text("\u0645\u06cc\u200c\u0634\u0648\u062f") == "\u0645\u06cc\u200c\u0634\u0648\u062f"  # ZWNJ kept
    assert normalize_text("  one  \t two \r\nthree   \r\n\r\n\r\n\r\nfour  ") == "one two\nthree\n\nfour"


def test_ascii_fast_path_still_tidies():
    assert normalize_text("x\r\ny", fix_mojibake=True) == "x\ny"


def test_cjk_full_width_is_left_alone():
    assert normalize_text("東京ＡＢＣ") == "東京ＡＢＣ"
