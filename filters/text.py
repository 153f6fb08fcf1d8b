"""Word, line, paragraph and sentence splitting shared by every rule, computed once per document.

`TextStats(text)` is a small lazy cache: each split is computed on first use and reused by every rule
that needs it, so a document is tokenized once however many rules look at its words.

Tokenization is one regex (C speed, no per-character Python) reproducing spaCy's English tokenizer,
which datatrove uses for the same rules, closely enough that the rules decide alike (see
benchmarks/filters.py): text splits at whitespace; punctuation at the edges of a chunk comes off as
tokens of its own ("(", '"', ",", "!", "..."), as do the clitics "'s", "'re", "'ve", "'ll", "'m", "'d";
inside a chunk punctuation splits only where spaCy's infix rules split it (a hyphen before a letter,
"word,word", "end.The", "a/b", "6-4") and otherwise stays ("file.txt", "3.5", "1,000", "10:30",
"Covid-19", "rock'n'roll", "a+b", "--flag", "/usr"); "U.S.", "e.g.", "Mr." keep their period; URLs and
e-mail addresses are single tokens. Counting punctuation tokens matters: Gopher's "80% of words contain
a letter" and FineWeb's "newlines per word" divide by the number of tokens, punctuation included.
Numbers and their units are two tokens ("8m", "100km"). Known difference: spaCy splits "don't" into
"do" + "n't", here it is one token (both are words with letters, so the ratios barely move).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cached_property
from itertools import chain, compress, filterfalse
from operator import mul

# Sentence-terminal punctuation of the common scripts (a subset of Unicode's Sentence_Terminal
# property, which datatrove's TERMINAL_PUNCTUATION lists in full; the rest are rare scripts).
TERMINAL_PUNCTUATION: tuple[str, ...] = (
    ".", "!", "?", "։", "؟", "۔", "܀", "܁", "܂", "߹", "।", "॥", "၊", "။", "።", "፧", "፨", "᙮",
    "᠃", "᠉", "‼", "‽", "⁇", "⁈", "⁉", "⸮", "⸼", "。", "｡", "．", "！", "？", "꓿", "﹒", "﹖", "﹗",
)
TERMINAL_CLASS = "".join(re.escape(c) for c in TERMINAL_PUNCTUATION)


def _combining_marks() -> str:
    """A regex class body of every combining mark (Unicode category M) in planes 0-1.

    Python's `\\w` excludes them, which would cut Indic, Thai or Hebrew words at every vowel sign;
    inside words they are word characters.
    """

    def esc(cp: int) -> str:
        return f"\\U{cp:08x}"

    parts, start = [], None
    for cp in range(0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if start is None:
                start = cp
        elif start is not None:
            parts.append(f"{esc(start)}-{esc(cp - 1)}" if cp - 1 > start else esc(start))
            start = None
    return "".join(parts) + f"{esc(0xE0100)}-{esc(0xE01EF)}"


_MARK = f"[{_combining_marks()}]"
_URL = r"(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
# Word characters and the combining marks inside a word: a word character, then any of either.
_RUN = rf"\w[\w{_MARK[1:-1]}]*"
# Punctuation inside a chunk that does not split it: everything but spaCy's infix split points.
_JOIN = "(?:" + "|".join([
    r"[^\w\s\-,/:<>=+*^.'’…]",  # most marks join: a;b a@b a&b
    r"-(?<!\w-)", r"(?<=[^\W\d_])-(?=\d)",  # a hyphen after punctuation; Covid-19 (not well-known, 6-4)
    r"[/:<>=](?<!\w[/:<>=])", r"[/:<>=](?![^\W\d_])",  # 10:30 1/2 </li> (not a/b)
    r",(?<![^\W\d_],)", r",(?![^\W\d_])",  # 1,000 (not word,word)
    r"(?<![a-z.])\.(?!\.)", r"\.(?![A-Z.])",  # file.txt 3.5 (not end.The, nor a "..")
    r"[+*^](?<!\d[+*^])", r"[+*^](?!\d)",  # a+b (not 6+4)
    r"['’](?!(?:[sSmMdD]|re|ve|ll|RE|VE|LL)\b)",  # rock'n'roll (not it's, we've)
]) + ")"
# A chunk may start with - / . @ ~ + ("-5", "--flag", "/usr", ".tar", "@user") when nothing but
# whitespace or an opening bracket or quote is before it.
_LEAD = r"""(?:(?=[-/.@~+])[-/.@~+](?<![^\s(\[{"'“‘«„][-/.@~+])-?(?=\w))?"""
# The period of a title or of an abbreviation with an upper-case or one-letter last part stays.
# (Each optional part starts with a cheap look at the next character, `(?=\.)` here, `(?=[^\w\s])`
# before the infix loop below, so that the common case, a word followed by a space, fails at once
# instead of trying every alternative and lookbehind; the tokens are the same.)
_TITLE = r"(?:(?=\.)(?:(?<=[A-Z])|(?<=\.[^\W\d_])|(?<=\bMr)|(?<=\bMrs)|(?<=\bMs)|(?<=\bDr)|(?<=\bSt)|(?<=\bvs)|(?<=\bProf))\.)?"
_WORD = rf"{_LEAD}{_RUN}(?:(?=[^\w\s])(?={_JOIN}){_JOIN}+{_RUN})*{_TITLE}"
_CLITIC = r"['’](?:[sSmMdD]|re|ve|ll|RE|VE|LL)\b"
# A number before a unit is a token of its own, the unit another ("8m" -> "8", "m"), as in spaCy.
_UNITS = "km|m|cm|mm|kg|g|mg|t|lb|lbs|oz|ft|yd|mi|mph|kmh|ha|kb|KB|mb|MB|gb|GB|tb|TB|M|G|K|T"
_NUMBER = rf"\d+(?:[.,]\d+)*(?=(?:{_UNITS})\b)"
_PUNCT = r"\.{2,}|-{2,}|[^\w\s]"
_TOKEN_RE = re.compile(rf"{_NUMBER}|{_WORD}|{_CLITIC}|{_PUNCT}")
# URLs and e-mail addresses are single tokens; the pattern that knows them is slower, so it is used
# only for texts that contain one.
_TOKEN_URL_RE = re.compile(rf"{_URL}|{_EMAIL}|{_NUMBER}|{_WORD}|{_CLITIC}|{_PUNCT}")
_LETTER_RE = re.compile(r"[^\W\d_]")
_PARAGRAPH_SPLIT_RE = re.compile(r"\n[ \t]*\n\s*")
# A sentence boundary inside a line: terminal punctuation (not the period of a title such as "Mr."
# or of a dotted abbreviation), optional closing quotes/brackets, then spaces and more text, or a
# capitalized word right away ("ended.Then", a missing space spaCy splits too). The character class
# comes first so the lookbehinds run only at punctuation.
_TITLES = ("Mr", "Mrs", "Ms", "Dr", "St", "vs", "No", "Jr", "Sr", "Prof")
_SENTENCE_END_RE = re.compile(
    rf"[{TERMINAL_CLASS}]"
    + "".join(rf"(?<!\b{t}\.)" for t in _TITLES)
    + r"(?<!\.[^\W\d_]\.)"  # nor the last period of "e.g." or "U.S."
    + rf"[{TERMINAL_CLASS}]*[\"'”’»)\]]*(?:[ \t]+(?=\S)|(?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]))"
)


def tokenize_regex(text: str) -> list[str]:
    """`tokenize` by one regex pass over the whole text (its definition; `tokenize` is faster)."""
    if "@" in text or "://" in text or "www." in text:
        return _TOKEN_URL_RE.findall(text)
    return _TOKEN_RE.findall(text)


# The tokens of each whitespace-separated chunk seen so far (bounded: cleared when full, which changes
# nothing but speed). No token spans whitespace and no pattern looks across it (every lookaround reads
# whitespace as it reads the start or end of the text, and `str.split` and `\s` agree on what is
# whitespace), so a text's tokens are its chunks' tokens in order; a chunk of letters only is one
# token. Most chunks are words seen before, so the regex runs on a small part of a document.
_CHUNK_TOKENS: dict[str, tuple[str, ...]] = {}
_CHUNK_CACHE_MAX = 200_000  # distinct chunks (~25 MB); the whole shared web corpus has ~190,000


def clear_cache() -> None:
    """Forget the chunks seen so far (for measurements that must start cold)."""
    global _CHUNK_TOKENS
    _CHUNK_TOKENS = {}


def chunk_tokens(chunks: list[str]) -> dict[str, tuple[str, ...]]:
    """The chunk cache, holding the tokens of every chunk in `chunks` (one fill for a whole text)."""
    global _CHUNK_TOKENS
    cache = _CHUNK_TOKENS
    new = set(chunks).difference(cache)
    if new:
        if len(cache) + len(new) > _CHUNK_CACHE_MAX:
            # A new dictionary rather than clearing this one: a thread reading it meanwhile keeps it.
            cache = _CHUNK_TOKENS = {}
            new = set(chunks)
        for chunk in new:
            cache[chunk] = (chunk,) if chunk.isalpha() else tuple(tokenize_regex(chunk))
    return cache


def tokenize(text: str) -> list[str]:
    """All tokens (words, numbers, URLs, e-mail addresses, punctuation marks) in order."""
    chunks = text.split()
    return list(chain.from_iterable(map(chunk_tokens(chunks).__getitem__, chunks)))


def count_tokens(chunks: list[str]) -> int:
    """`len(tokenize(text))` without building the list, from the text's chunks (`text.split()`)."""
    try:
        # Usually every chunk is cached already (the text's lines were tokenized as another text's).
        return sum(map(len, map(_CHUNK_TOKENS.__getitem__, chunks)))
    except KeyError:
        return sum(map(len, map(chunk_tokens(chunks).__getitem__, chunks)))


def is_word(token: str) -> bool:
    """Not a punctuation token. Punctuation tokens are one character that is no word character
    (`\\w` is exactly `isalnum` or "_"), or a run of periods."""
    if len(token) > 1:
        return token[0] != "." or token[-1] != "."
    return token.isalnum() or token == "_"


def count_sentences(text: str) -> int:
    """Number of sentences in a text, each non-blank line ending one (spaCy's sentencizer, which
    datatrove runs on every C4 line, also splits after terminal punctuation followed by a word)."""
    lines = sum(1 for line in text.split("\n") if line and not line.isspace())
    return lines + len(_SENTENCE_END_RE.findall(text)) if lines else 0


def split_paragraphs(text: str) -> list[str]:
    """Blocks separated by blank lines (the text is stripped first)."""
    text = text.strip()
    return _PARAGRAPH_SPLIT_RE.split(text) if text else []


def split_lines(text: str) -> list[str]:
    """Non-blank lines, unstripped."""
    return [line for line in text.split("\n") if line and not line.isspace()]


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in them): every occurrence after the first counts."""
    unique = set(items)
    return len(items) - len(unique), sum(map(len, items)) - sum(map(len, unique))


class TextStats:
    """Splits of one text, each computed on first use. Rules receive this, never re-split the text.

    The whole text is tokenized in one go (its whitespace chunks through the chunk cache of
    `tokenize`); `of_lines` gives the stats of a text made of this one's lines (C4's cleaned text),
    whose chunks are then nearly all in the cache already, so a document is tokenized once although
    rules read both texts.
    """

    def __init__(self, text: str, chunks: list[str] | None = None):
        self.text = text
        if chunks is not None:
            self.chunks = chunks  # the caller split it already
        # (source stats, chunks of the source not in this text, chunks of this text not in the source)
        self._diff: tuple[TextStats, list[str], list[str]] | None = None

    def of_lines(self, text: str, chunks: list[str] | None = None, gone: list[str] | None = None,
                 new: list[str] | None = None) -> TextStats:
        """Stats of `text`, whose lines come from this text (their chunks are tokenized already).
        Where given, `chunks` is `text.split()`, and `gone` and `new` are the chunks of this text not
        in `text` and those of `text` not in this text (multisets): `n_tokens` then counts only those,
        if this text's count is known and they are fewer."""
        out = TextStats(text, chunks)
        if gone is not None and new is not None:
            out._diff = (self, gone, new)
        return out

    @cached_property
    def chunks(self) -> list[str]:
        """The whitespace-separated pieces of the text (`str.split()`), which tokens never cross."""
        return self.text.split()

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.text)

    @cached_property
    def tokens(self) -> list[str]:
        """Every token including punctuation marks (what datatrove's rules call `words`)."""
        chunks = self.chunks
        return list(chain.from_iterable(map(chunk_tokens(chunks).__getitem__, chunks)))

    @cached_property
    def token_counts(self) -> Counter[str]:
        """How often each distinct token occurs (one C-speed pass; the word statistics read this)."""
        return Counter(self.tokens)

    @cached_property
    def word_counts(self) -> dict[str, int]:
        """`token_counts` of the tokens that are words (see `is_word`)."""
        # (`is_word` inlined: this runs once per distinct token of every document)
        return {t: n for t, n in self.token_counts.items()
                if ((t[0] != "." or t[-1] != ".") if len(t) > 1 else (t.isalnum() or t == "_"))}

    @cached_property
    def words(self) -> list[str]:
        """Tokens that are not punctuation (see `is_word`): words, numbers, URLs."""
        return [t for t in self.tokens if (len(t) > 1 and (t[0] != "." or t[-1] != ".")) or t.isalnum() or t == "_"]

    @cached_property
    def n_words(self) -> int:
        return sum(self.word_counts.values())

    @cached_property
    def word_chars(self) -> int:
        """Characters in all words (a word occurring k times counts k times)."""
        counts = self.word_counts
        return sum(map(mul, map(len, counts), counts.values()))

    @cached_property
    def n_tokens(self) -> int:
        if "tokens" in self.__dict__:
            return len(self.tokens)
        if self._diff is not None:
            source, gone, new = self._diff
            if ("n_tokens" in source.__dict__ or "tokens" in source.__dict__) and len(gone) + len(new) < len(self.chunks):
                return source.n_tokens - count_tokens(gone) + count_tokens(new)
        return count_tokens(self.chunks)

    @cached_property
    def alpha_words(self) -> int:
        """Words with at least one letter (most are all letters: `isalpha` settles them in C)."""
        counts = self.word_counts
        all_letters = sum(compress(counts.values(), map(str.isalpha, counts)))
        return all_letters + sum(counts[w] for w in filterfalse(str.isalpha, counts) if _LETTER_RE.search(w))

    @cached_property
    def lower_word_set(self) -> frozenset[str]:
        return frozenset(map(str.lower, self.word_counts))

    @cached_property
    def n_newlines(self) -> int:
        return self.text.count("\n")
