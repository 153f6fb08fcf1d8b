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


def test_cheap_mojibake_test_equals_ftfys_and_skips_only_lines_ftfy_leaves_alone():
    import random

    import ftfy
    from ftfy.badness import is_bad

    from filters.normalize import _ANCHORS, _FTFY_CONFIG, _is_bad, fix_mojibake_lines

    assert _ANCHORS is not None  # ftfy's pattern has the expected form: the cheap test is in use
    # ASCII, Latin-1 and Latin Extended-A (accented letters, most of them no anchors) and the anchors
    alphabet = ([chr(c) for c in range(0x20, 0x7F)] + [chr(c) for c in range(0xA0, 0x180)]
                + list(_ANCHORS.pattern[1:-1]) + list("\n\t’–—…·´"))
    rng = random.Random(0)
    for _ in range(20_000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        assert _is_bad(s) == is_bad(s), repr(s)
    lines = [
        "Grüße aus München, “quoted” – dash … ellipsis\n",  # not mojibake: no ftfy call, same result
        "sÃ³ mojibake\n", "Ã mojibake at the start\n", "a Ã  b\n", "caf\u00c3\u00a9\n",
        "e\u0301te\u0301 decomposed\n", "C1 \x93quoted\x94\n", "ﬁ ligature kept\n", "\ufffd replacement\n",
    ]
    for text in ["".join(lines), *lines]:
        assert fix_mojibake_lines(text) == ftfy.fix_text(text, config=_FTFY_CONFIG), repr(text)


def test_ftfy_on_lines_equals_ftfy_on_a_text_longer_than_its_decode_limit(monkeypatch):
    """Past `max_decode_length` ftfy cuts over-long lines into pieces; the line-wise shortcut must still
    agree (a small limit stands in for the real 1,000,000 characters, to keep the test fast)."""
    import ftfy

    from filters import normalize

    config = normalize._FTFY_CONFIG._replace(max_decode_length=16)
    monkeypatch.setattr(normalize, "_FTFY_CONFIG", config)
    texts = [
        "short caf\u00c3\u00a9\n" + "a long ascii line, longer than the limit\n" + "Gr\u00fc\u00dfe\n" * 5,
        "a long line with mojibake: caf\u00c3\u00a9 caf\u00c3\u00a9 caf\u00c3\u00a9 caf\u00c3\u00a9\nend",
        "e\u0301te\u0301 decomposed, then cut: " + "\u00e9" * 40 + "e\u0301\n\u201cquoted\u201d\n",
        "caf\u00c3\u00a9 " * 20,
    ]
    for text in texts:
        assert len(text) > config.max_decode_length
        assert normalize.fix_mojibake_lines(text) == ftfy.fix_text(text, config=config), repr(text)


def test_space_runs_become_one_space_as_defined():
    """Every run of spaces (tabs, no-break and CJK spaces included) is one space, as `_SPACES` defines."""
    import random

    from filters.normalize import _SPACES

    rng = random.Random(0)
    alphabet = [" ", " ", " ", "\t", "\u00a0", "\u3000", "\u2009", "a", "b", "\n"]
    for _ in range(2_000):
        text = "x" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) + "y"
        want = _SPACES.sub(" ", text).replace(" \n", "\n")
        while "\n\n\n" in want:
            want = want.replace("\n\n\n", "\n\n")
        assert normalize_text(text) == want, repr(text)
