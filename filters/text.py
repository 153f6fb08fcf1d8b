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
import threading
import unicodedata
from collections import Counter
from functools import cached_property
from itertools import chain, repeat

import numpy as np

from filters.stopwords import STOP_WORDS

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


# Every whitespace-separated chunk seen so far, numbered, with its tokens and the numbers the rules add
# up (bounded: replaced when full, which changes nothing but speed). No token spans whitespace and no
# pattern looks across it (every lookaround reads whitespace as it reads the start or end of the text,
# and `str.split` and `\s` agree on what is whitespace), so a text's tokens are its chunks' tokens in
# order; a chunk of letters only is one token. Most chunks are words seen before, so the regex runs on
# a small part of a document, and a document's word statistics are sums over its chunks' ids in numpy.
_CHUNK_CACHE_MAX = 200_000  # distinct chunks (~50 MB); the whole shared web corpus has ~200,000

# The stop words of every built-in list, each a bit of a chunk's stop-word mask.
_STOP_BITS: dict[str, int] = {w: 1 << i for i, w in enumerate(sorted(set().union(*STOP_WORDS.values())))}
assert len(_STOP_BITS) <= 63, "stop-word masks are int64"


def grow_array(arr: np.ndarray, need: int) -> np.ndarray:
    """`arr` or a copy with room for `need` items (a reader holding the old array keeps valid data)."""
    if len(arr) >= need:
        return arr
    out = np.zeros(max(need, 2 * len(arr), 1024), dtype=arr.dtype)
    out[: len(arr)] = arr
    return out


class ChunkTable:
    """Distinct chunks, append-only: `ids` numbers them; per chunk id its tokens and, in arrays, its
    numbers of tokens, words, characters in words, words with a letter and its stop-word mask; per
    token of every chunk, in one flat array in chunk order, its hash and length (for n-grams)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.chunks: list[str] = []
        self.tokens: list[tuple[str, ...]] = []
        self.n_tokens = np.zeros(0, np.int64)
        self.n_words = np.zeros(0, np.int64)
        self.word_chars = np.zeros(0, np.int64)
        self.alpha_words = np.zeros(0, np.int64)
        self.stop_mask = np.zeros(0, np.int64)
        self.first = np.zeros(0, np.int64)  # index of a chunk's first token in the flat arrays
        self.hash = np.zeros(0, np.int64)
        self.length = np.zeros(0, np.int64)
        self.n_flat = 0

    def add(self, new: list[str]) -> None:
        start, k = len(self.tokens), len(new)
        toks = [(c,) if c.isalpha() else _chunk_tokens(c) for c in new]
        flat = list(chain.from_iterable(toks))
        f0, nf = self.n_flat, len(flat)
        ntok = np.fromiter(map(len, toks), np.int64, k)
        starts = np.zeros(k, np.int64)
        np.cumsum(ntok[:-1], out=starts[1:])
        lengths = np.fromiter(map(len, flat), np.int64, nf)
        # A token of letters is a word with a letter; only the others need a look in Python.
        word = np.fromiter(map(str.isalpha, flat), bool, nf)
        letter = word.copy()
        others = np.flatnonzero(~word).tolist()
        if others:
            flags = _token_flags([flat[i] for i in others])
            word[others] = flags & 1
            letter[others] = flags >> 1
        # (stop words are words: a punctuation token never lower-cases to one)
        stop = np.fromiter(map(_STOP_BITS.get, map(str.lower, flat), repeat(0, nf)), np.int64, nf)

        def per_chunk(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
            # (a chunk always has a token, as every non-space character is one or is in one; the padding
            # and the masking keep the sums right even if one had none)
            out = ufunc.reduceat(np.append(values, 0), starts)
            out[ntok == 0] = 0
            return out

        # Flat arrays first, then per-chunk ones, then the ids: a chunk is visible once complete.
        self.hash = h = grow_array(self.hash, f0 + nf)
        h[f0 : f0 + nf] = np.fromiter(map(hash, flat), np.int64, nf)
        self.length = ln = grow_array(self.length, f0 + nf)
        ln[f0 : f0 + nf] = lengths
        end = start + k
        for name, values in (
            ("n_tokens", ntok),
            ("first", starts + f0),
            ("n_words", per_chunk(np.add, word.astype(np.int64))),
            ("word_chars", per_chunk(np.add, np.where(word, lengths, 0))),
            ("alpha_words", per_chunk(np.add, (word & letter).astype(np.int64))),
            ("stop_mask", per_chunk(np.bitwise_or, stop)),
        ):
            arr = grow_array(getattr(self, name), end)
            arr[start:end] = values
            setattr(self, name, arr)
        self.n_flat = f0 + nf
        self.tokens.extend(toks)
        self.chunks.extend(new)
        self.ids.update(zip(new, range(start, end), strict=True))


def _runs_of(first: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Indices `first[i]`, ..., `first[i] + n[i] - 1` for each i, in order."""
    if len(n) == 0:
        return first
    ends = np.cumsum(n)
    return np.repeat(first - (ends - n), n) + np.arange(int(ends[-1]))


_TABLE = ChunkTable()
_TABLE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the chunks seen so far (for measurements that must start cold)."""
    global _TABLE
    with _TABLE_LOCK:
        _TABLE = ChunkTable()


def chunk_ids(chunks: list[str]) -> tuple[ChunkTable, np.ndarray]:
    """The chunk table, holding every chunk in `chunks` (one fill for a whole text), and their ids."""
    global _TABLE
    table = _TABLE
    n = len(chunks)
    # One lookup per chunk; most are found, and only the positions of the others are looked at again.
    ids = np.fromiter(map(table.ids.get, chunks, repeat(-1, n)), np.int64, n)
    missing = np.flatnonzero(ids < 0)
    if len(missing):
        with _TABLE_LOCK:
            if table is not _TABLE:  # replaced meanwhile: every chunk is looked up in that one
                table = _TABLE
                ids = np.fromiter(map(table.ids.get, chunks, repeat(-1, n)), np.int64, n)
                missing = np.flatnonzero(ids < 0)
            missed = [chunks[i] for i in missing.tolist()]
            # (in order of first occurrence; another thread may have added some meanwhile)
            new = [c for c in dict.fromkeys(missed) if c not in table.ids]
            if len(table.ids) + len(new) > _CHUNK_CACHE_MAX:
                # A new table rather than clearing this one: a thread reading it meanwhile keeps it.
                table = _TABLE = ChunkTable()
                missing, missed = np.arange(n), chunks
                new = list(dict.fromkeys(chunks))
            if new:
                table.add(new)
        ids[missing] = np.fromiter(map(table.ids.__getitem__, missed), np.int64, len(missed))
    return table, ids


def tokenize(text: str) -> list[str]:
    """All tokens (words, numbers, URLs, e-mail addresses, punctuation marks) in order."""
    table, ids = chunk_ids(text.split())
    return list(chain.from_iterable(map(table.tokens.__getitem__, ids.tolist())))


# The commonest chunks after plain words are a word and one punctuation mark ("word," "end." "(see"),
# whose tokens follow from the regex's rules without running it: a mark among these after letters
# never joins them (nothing follows it), nor one of these before them (no `_LEAD` or clitic quote).
_SPLIT_AFTER = frozenset(",;:?!)")
_SPLIT_BEFORE = frozenset("(\"“„«[")
# A period after letters stays with them after an upper-case A-Z or in a title (`_TITLE`).
_TITLE_WORDS = frozenset({"Mr", "Mrs", "Ms", "Dr", "St", "vs", "Prof"})


def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    """`tuple(tokenize_regex(chunk))` for a chunk that is not all letters."""
    if len(chunk) > 1 and "www." not in chunk:
        head, last = chunk[:-1], chunk[-1]
        if head.isalpha():
            if last in _SPLIT_AFTER:
                return head, last
            if last == ".":
                return (chunk,) if "A" <= head[-1] <= "Z" or head in _TITLE_WORDS else (head, ".")
        elif chunk[0] in _SPLIT_BEFORE and chunk[1:].isalpha():
            return chunk[0], chunk[1:]
    return tuple(tokenize_regex(chunk))


# Word (1) and has-a-letter (2) flags of tokens not all letters: mostly punctuation marks and numbers,
# which recur across chunks (bounded: replaced when full, which changes nothing but speed).
_TOKEN_FLAGS: dict[str, int] = {}
_TOKEN_FLAGS_MAX = 100_000


def _token_flags(tokens: list[str]) -> np.ndarray:
    global _TOKEN_FLAGS
    memo = _TOKEN_FLAGS
    flags = list(map(memo.get, tokens))
    if None in flags:
        if len(memo) > _TOKEN_FLAGS_MAX:
            memo = _TOKEN_FLAGS = {}
        for i, (t, f) in enumerate(zip(tokens, flags, strict=True)):
            if f is None:
                flags[i] = memo[t] = is_word(t) | (_has_letter(t) << 1)
    return np.array(flags, dtype=np.int64)


def _has_letter(token: str) -> bool:
    return token.isalpha() or _LETTER_RE.search(token) is not None


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

    The text is split into whitespace chunks once and each chunk looked up in the chunk table (see
    `ChunkTable`), which tokenizes only chunks it has not seen; the word statistics are sums over the
    table's per-chunk numbers, the n-gram inputs gathers from its per-token arrays. `of_lines` gives
    the stats of a text made of this one's lines (C4's cleaned text): told which lines were kept, it
    takes their chunk ids from this text's instead of looking the chunks up again, so a document is
    tokenized once although rules read both texts.
    """

    def __init__(self, text: str):
        self.text = text
        # (source stats, which of its chunks this text keeps, chunks of this text not in the source)
        self._from: tuple[TextStats, list[int], list[bool], list[str]] | None = None

    def of_lines(self, text: str, line_sizes: list[int], line_kept: list[bool], new: list[str]) -> TextStats:
        """Stats of `text`, whose lines come from this text (their chunks are tokenized already):
        `line_sizes` and `line_kept` are, for each non-blank line of this text, its number of chunks
        and whether they are all in `text`, and `new` the chunks of `text` not from this text. The
        counts then come from ids looked up already."""
        out = TextStats(text)
        out._from = (self, line_sizes, line_kept, new)
        return out

    @cached_property
    def line_chunks(self) -> list[list[str]]:
        """The chunks of each line (`str.splitlines`), blank lines included: C4 reads them, and all
        of them are the text's chunks (every line break is whitespace)."""
        return [line.split() for line in self.text.splitlines()]

    @cached_property
    def chunks(self) -> list[str]:
        """The whitespace-separated pieces of the text (`str.split()`), which tokens never cross."""
        if "line_chunks" in self.__dict__ or self._from is None:
            return list(chain.from_iterable(self.line_chunks))
        return self.text.split()

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return split_paragraphs(self.text)

    @cached_property
    def chunk_ids(self) -> tuple[ChunkTable, np.ndarray]:
        """The chunk table and the id of each chunk of the text in it."""
        return chunk_ids(self.chunks)

    @cached_property
    def tokens(self) -> list[str]:
        """Every token including punctuation marks (what datatrove's rules call `words`)."""
        table, ids = self.chunk_ids
        return list(chain.from_iterable(map(table.tokens.__getitem__, ids.tolist())))

    def token_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The hash (`hash(token)`) and the length of every token, in order, as int64 arrays."""
        table, ids = self.chunk_ids
        flat = _runs_of(table.first[ids], table.n_tokens[ids])  # each chunk's tokens in the flat arrays
        return table.hash[flat], table.length[flat]

    @cached_property
    def token_counts(self) -> Counter[str]:
        """How often each distinct token occurs."""
        return Counter(self.tokens)

    @cached_property
    def word_counts(self) -> dict[str, int]:
        """`token_counts` of the tokens that are words (see `is_word`)."""
        return {t: n for t, n in self.token_counts.items() if is_word(t)}

    @cached_property
    def words(self) -> list[str]:
        """Tokens that are not punctuation (see `is_word`): words, numbers, URLs."""
        return [t for t in self.tokens if is_word(t)]

    @cached_property
    def chunk_bag(self) -> tuple[ChunkTable, np.ndarray]:
        """The chunk table and the ids of the text's chunks in some order (what counts need)."""
        if self._from is None:
            return self.chunk_ids
        source, sizes, kept, new = self._from
        table, ids = source.chunk_ids
        if sum(sizes) != len(ids):
            raise ValueError("of_lines: line sizes do not add up to the source's chunks")
        ids = ids[np.repeat(np.array(kept, dtype=bool), sizes)]
        if new:
            new_table, new_ids = chunk_ids(new)
            if new_table is not table:  # the table was replaced in between: look every chunk up
                return self.chunk_ids
            ids = np.concatenate([ids, new_ids])
        return table, ids

    @cached_property
    def n_words(self) -> int:
        table, ids = self.chunk_bag
        return int(table.n_words[ids].sum())

    @cached_property
    def word_chars(self) -> int:
        """Characters in all words (a word occurring k times counts k times)."""
        table, ids = self.chunk_bag
        return int(table.word_chars[ids].sum())

    @cached_property
    def n_tokens(self) -> int:
        table, ids = self.chunk_bag
        return int(table.n_tokens[ids].sum())

    @cached_property
    def alpha_words(self) -> int:
        """Words with at least one letter."""
        table, ids = self.chunk_bag
        return int(table.alpha_words[ids].sum())

    @cached_property
    def lower_word_set(self) -> frozenset[str]:
        return frozenset(map(str.lower, self.word_counts))

    def stop_words_found(self, stop_words: frozenset[str]) -> int:
        """`len(stop_words & self.lower_word_set)`: from the chunks' stop-word masks where every
        stop word is in a built-in list."""
        bits = 0
        for w in stop_words:
            bit = _STOP_BITS.get(w)
            if bit is None:
                return len(stop_words & self.lower_word_set)
            bits |= bit
        table, ids = self.chunk_bag
        found = int(np.bitwise_or.reduce(table.stop_mask[ids])) if len(ids) else 0
        return (found & bits).bit_count()

    @cached_property
    def n_newlines(self) -> int:
        return self.text.count("\n")
