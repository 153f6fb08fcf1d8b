"""The shared splitting every rule reads: tokens, words, lines, paragraphs, sentences."""

from __future__ import annotations

import pytest

from filters.text import (
    TextStats,
    count_sentences,
    duplicates,
    is_word,
    split_lines,
    split_paragraphs,
    tokenize,
)


def test_punctuation_is_its_own_token_and_words_keep_their_inner_marks():
    assert tokenize("Hello, world! Don't stop... now -- ok") == [
        "Hello", ",", "world", "!", "Don't", "stop", "...", "now", "--", "ok",
    ]  # spaCy: "Do", "n't"


def test_numbers_dates_and_digit_hyphens_stay_whole():
    assert tokenize("3.5 1,000 10:30 02/10/2020 Covid-19 well-known 6-4") == [
        "3.5", "1,000", "10:30", "02/10/2020", "Covid-19", "well", "-", "known", "6", "-", "4",
    ]


@pytest.mark.parametrize(
    ("chunk", "tokens"),
    [  # as spaCy's English tokenizer splits them
        ("(hello)", ["(", "hello", ")"]),
        ('"quoted"', ['"', "quoted", '"']),
        ("requirements.txt", ["requirements.txt"]),
        ("path/to/file.txt", ["path", "/", "to", "/", "file.txt"]),
        ("end.The", ["end", ".", "The"]),
        ("word,word", ["word", ",", "word"]),
        ("Spain's", ["Spain", "'s"]),
        ("we've", ["we", "'ve"]),
        ("rock'n'roll", ["rock'n'roll"]),
        ("U.S.", ["U.S."]),
        ("e.g.", ["e.g."]),
        ("Mr.", ["Mr."]),
        ("etc.", ["etc", "."]),
        ("--flag", ["--flag"]),
        ("-5", ["-5"]),
        ("/usr/lib", ["/usr", "/", "lib"]),
        ("$100", ["$", "100"]),
        ("5%", ["5", "%"]),
        ("a+b", ["a+b"]),
        ("ok?!", ["ok", "?", "!"]),
        ("....", ["...."]),
    ],
)
def test_chunks_split_like_spacy(chunk, tokens):
    assert tokenize(chunk) == tokens


def test_urls_and_emails_are_single_tokens():
    assert tokenize("see https://example.com/a?b=1. or mail a.b@example.org now") == [
        "see", "https://example.com/a?b=1", ".", "or", "mail", "a.b@example.org", "now",
    ]


def test_combining_marks_stay_inside_words():
    # Bengali and Devanagari vowel signs are combining marks, not word characters for Python's \w.
    assert tokenize("এমপির ভাইকে") == ["এমপির", "ভাইকে"]
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert TextStats("हिन्दी भाषा").words == ["हिन्दी", "भाषा"]


def test_is_word():
    assert all(map(is_word, ["a", "_", "U.S.", ".tar", "'s", "-5", "हिन्दी"]))
    assert not any(map(is_word, [",", "...", "-", "—", "ि"]))


def test_words_are_the_non_punctuation_tokens_and_alpha_counts_words_with_letters():
    stats = TextStats("The 3 cats, 2 dogs and 1,000 birds!")
    assert stats.tokens == ["The", "3", "cats", ",", "2", "dogs", "and", "1,000", "birds", "!"]
    assert stats.words == ["The", "3", "cats", "2", "dogs", "and", "1,000", "birds"]
    assert stats.n_tokens == 10
    assert stats.alpha_words == 5
    assert stats.lower_word_set == {"the", "3", "cats", "2", "dogs", "and", "1,000", "birds"}


def test_lines_skip_blank_ones_and_paragraphs_split_on_blank_lines():
    text = "a b\n\n  \nc d\ne f\n\n\ng"
    assert split_lines(text) == ["a b", "c d", "e f", "g"]
    assert split_paragraphs(text) == ["a b", "c d\ne f", "g"]
    assert split_paragraphs("") == []


def test_duplicates_count_every_occurrence_after_the_first():
    assert duplicates(["aa", "b", "aa", "aa", "b", "c"]) == (3, 5)
    assert duplicates([]) == (0, 0)


def test_sentences_end_at_terminal_punctuation_followed_by_text_and_at_line_ends():
    assert count_sentences("One. Two? Three! Four") == 4
    assert count_sentences('He said "Stop." Then he left.') == 2
    assert count_sentences("Mr. Smith met Dr. Jones. They talked.") == 2
    assert count_sentences("Pi is 3.14 exactly. e.g. this") == 2
    assert count_sentences("first line\nsecond line. third") == 3
    assert count_sentences("") == 0
    assert count_sentences(" \n ") == 0


def test_tokens_of_the_text_and_of_its_cleaned_lines_come_from_the_shared_chunk_cache():
    text = (
        "  Mr. Smith paid $1,000 at 10:30 -- see www.example.com/a?b=1. e-mail: a.b@example.org\n"
        "\n"
        "it's rock'n'roll, e.g. U.S. 8m (Covid-19)...\n"
        "\tend.The a/b 6-4 --flag /usr .tar @user\r\n"
        "हिन्दी भाषा\n"
    )
    stats = TextStats(text)
    assert stats.tokens == tokenize(text)
    assert stats.n_tokens == len(tokenize(text))
    # C4's cleaned text: the third line kept as it was, and a line that is new
    cleaned = "it's rock'n'roll, e.g. U.S. 8m (Covid-19)...\nनई पंक्ति"
    sizes = [len(line.split()) for line in text.splitlines() if line.split()]
    derived = stats.of_lines(cleaned, sizes, [False, True, False, False], ["नई", "पंक्ति"])
    assert derived.n_tokens == len(tokenize(cleaned))
    assert "chunks" not in derived.__dict__  # counted from the source's chunk ids: not split or looked up again
    assert derived.tokens == tokenize(cleaned)


def test_word_statistics_from_token_counts_equal_the_word_list():
    stats = TextStats("The 3 cats, 2 dogs and 1,000 birds! The end... ÉTÉ été 42")
    words = stats.words
    assert stats.n_words == len(words)
    assert stats.word_chars == sum(map(len, words))
    assert stats.lower_word_set == frozenset(w.lower() for w in words)
    assert stats.alpha_words == sum(1 for w in words if any(c.isalpha() for c in w))


def test_tokens_by_chunk_equal_the_one_regex_pass_also_when_the_chunk_cache_fills(monkeypatch):
    import random

    import filters.text as text_module
    from filters.text import tokenize_regex

    texts = [
        "Mr. Smith paid $1,000 at 10:30 -- see www.example.com/a?b=1. e-mail: a.b@example.org",
        "it's rock'n'roll, e.g. U.S. 8m (Covid-19)... end.The a/b 6-4 --flag /usr .tar @user",
        "..g. «quoted» „so“ x\u00a0y\u2003z \x1c\u0915\u093f ß é\u0301 _under_ 100km 3.5",
    ]
    rng = random.Random(0)
    alphabet = list("aZe.,'’-/:<>=+*^@~_()[]\"“«…!?;&%#19 \t\n\u00a0\u3000é\u0301\u0915\u093f")
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    monkeypatch.setattr(text_module, "_CHUNK_CACHE_MAX", 50)
    for text in texts:
        assert text_module.tokenize(text) == tokenize_regex(text), repr(text)


def test_word_and_mark_chunks_skip_the_regex_with_the_same_tokens():
    from filters.text import _chunk_tokens, tokenize_regex

    words = ["word", "Mr", "Mrs", "Ms", "Dr", "St", "vs", "Prof", "ABC", "abC", "É", "é", "www", "awww", "x", "ß"]
    chunks = [w + m for w in words for m in ",;:?!).-'’\"”…"] + [m + w for w in [*words, "s", "re", "ll"]
                                                                  for m in "(\"“„«['’-/.@"]
    for chunk in chunks:
        assert _chunk_tokens(chunk) == tuple(tokenize_regex(chunk)), chunk


def test_counts_from_the_chunk_table_equal_their_definitions_also_when_the_table_fills(monkeypatch):
    import random

    import filters.text as text_module
    from filters.stopwords import STOP_WORDS
    from filters.text import _LETTER_RE, tokenize_regex

    rng = random.Random(1)
    pieces = ["The", "the", "THE", "und", "Die", "że", "não", "NÃO", "½", "İ", "x", "é\u0301", "3.5", ",", ".",
              "...", "--", "(", ")", "e.g.", "U.S.", "Mr.", "a_b", "_", "www.x.org", "a@b.co", "8m", "’s", "\u0915\u093f"]
    texts = ["", "   ", *(" ".join(rng.choice(pieces) + rng.choice(["", "", ",", ".", "!", "'"])
                                for _ in range(rng.randint(1, 40))) for _ in range(500))]
    monkeypatch.setattr(text_module, "_CHUNK_CACHE_MAX", 60)
    for text in texts:
        stats = TextStats(text)
        tokens = tokenize_regex(text)
        words = [t for t in tokens if is_word(t)]
        assert stats.n_tokens == len(tokens)
        assert stats.n_words == len(words)
        assert stats.word_chars == sum(map(len, words))
        assert stats.alpha_words == sum(1 for w in words if _LETTER_RE.search(w))
        lower = {w.lower() for w in words}
        for stop in [*STOP_WORDS.values(), frozenset({"x", "½"})]:  # the last one is not a built-in list
            assert stats.stop_words_found(stop) == len(stop & lower)
        hashes, lengths = stats.token_arrays()
        assert hashes.tolist() == [hash(t) for t in tokens] and lengths.tolist() == [len(t) for t in tokens]
        assert stats.tokens == tokens


def test_threads_sharing_the_chunk_table_get_the_tokens_of_their_texts(monkeypatch):
    """Beam runs a worker's bundles on threads that share the table, also while it fills and is replaced."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    import filters.text as text_module
    from filters.text import tokenize_regex

    rng = random.Random(2)
    words = ["alpha", "Beta,", "(gamma)", "d.e.", "8m", "it's", "x-y", "U.S.", "ß", "1,000", "…", "www.a.org"]
    texts = [" ".join(rng.choice(words) + str(rng.randint(0, 300)) * rng.randint(0, 1) for _ in range(60))
             for _ in range(400)]
    monkeypatch.setattr(text_module, "_CHUNK_CACHE_MAX", 500)
    text_module.clear_cache()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(text_module.tokenize, texts))
    assert got == [tokenize_regex(t) for t in texts]
