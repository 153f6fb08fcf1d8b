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


def test_ftfy_on_the_lines_that_need_it_equals_ftfy_on_the_whole_text():
    import ftfy

    from filters.normalize import _FTFY_CONFIG, fix_mojibake_lines

    texts = [
        "plain line\ncaf\u00c3\u00a9 au lait\nanother plain line\n",
        "\ufeffstarts with a BOM\r\nthen CRLF lines\r\nand caf\u00c3\u00a9\r\n",
        "no newline at all but caf\u00c3\u00a9 and \x1b[31mred\x1b[0m",
        "a\rb\u2028c\n\n\u0085x\n\u00e9t\u00e9\n",
        "ascii only\nstill ascii\n",
        "",
    ]
    for text in texts:
        assert fix_mojibake_lines(text) == ftfy.fix_text(text, config=_FTFY_CONFIG), repr(text)
