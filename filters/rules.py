"""The rule chain: every filter in order, cheapest first, stopping at the first rule that drops.

`RULES` below is the chain: the order of that list is the order that runs. Each rule is one class that
says which documents it looks at (`applies`: kinds, languages), which signals it writes (`signals`,
column name -> type; the filter stage's output schema is built from them), and how it decides
(`check` on one document, or `check_batch` where one native call serves a batch). Adding a rule is one
class here (its logic in its own module) and one entry in `RULES`.

    url -> lid -> gopher_quality -> c4 -> gopher_repetition -> fineweb -> badwords -> book_quality -> quality -> pii

The URL rule needs only the URL; language ID is one native fastText call per batch and its label
decides which language-specific rules apply; the Gopher quality checks are counts over one
tokenization; C4 is one pass over the lines; the repetition n-grams are the most expensive heuristic;
FineWeb and bad words read the C4-cleaned text (as in the FineWeb recipe, where C4's line cleaning
runs before FineWeb's rules, while Gopher's rules see the text as extracted); the model-based score
is another batched fastText call; PII redaction rewrites only the documents that are kept.

Every rule writes its measurements into `doc.signals`; a dropped document becomes a `Rejected` with
the reason, the measured value and the limit it failed, and the start of its text as it came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from filters.badwords import BadWords
from filters.book_quality import SIGNALS as BOOK_QUALITY_SIGNALS
from filters.book_quality import book_quality
from filters.c4 import C4Result, c4_clean
from filters.config import FilterConfig, RuleScope
from filters.document import Document, Rejected
from filters.fineweb import fineweb_quality
from filters.gopher import DUP_NGRAMS, TOP_NGRAMS, gopher_quality, gopher_repetition
from filters.lid import LanguageId
from filters.pii import PiiRedactor
from filters.quality import QualityModel
from filters.text import TextStats
from filters.url import UrlFilter
from filters.verdict import Drop


class Work:
    """One document on its way through the chain: the text as cleaned so far, and its splits.

    `source_stats` are the splits of the text as it came in (Gopher's rules read these); `stats` are
    those of the current text. Where C4 cleaned it, they count from the chunk ids of the first (which
    lines C4 kept, and the few chunks it changed), so a document is tokenized once however many rules
    read it.
    """

    __slots__ = ("doc", "text", "given", "_source_stats", "_stats")

    def __init__(self, doc: Document):
        self.doc = doc
        self.text = doc.text
        self.given = frozenset(doc.signals)  # signals the document came with (normally none)
        self._source_stats: TextStats | None = None
        self._stats: TextStats | None = None

    @property
    def signals(self) -> dict[str, Any]:
        return self.doc.signals

    @property
    def lang(self) -> str | None:
        return self.doc.signals.get("lang")

    @property
    def source_stats(self) -> TextStats:
        if self._source_stats is None:
            self._source_stats = TextStats(self.doc.text)
        return self._source_stats

    def set_text(self, text: str, c4: C4Result | None = None) -> None:
        """The text as cleaned so far; `c4`, where C4 made it from the text as it came in, says which
        of that text's chunks it kept."""
        self.text = text
        if c4 is not None and c4.line_sizes is not None:
            self._stats = self.source_stats.of_lines(text, c4.line_sizes, c4.line_kept, c4.new_chunks)

    @property
    def stats(self) -> TextStats:
        if self.text is self.doc.text:
            return self.source_stats
        if self._stats is None or self._stats.text is not self.text:
            self._stats = TextStats(self.text)
        return self._stats


class Rule:
    """One step of the chain. Subclasses set `name` and `signals` and implement `check`."""

    name: ClassVar[str]
    #: Signals this rule may write into `doc.signals` (column name -> "string" | "float" | "int").
    signals: ClassVar[dict[str, str]] = {}
    #: Whether `FilterChain.active_rules` lists it (helpers that decide nothing are not listed).
    listed: ClassVar[bool] = True

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        """The rule for this config, or None when the config turns it off."""
        raise NotImplementedError

    def load(self) -> None:
        """Load models (once per worker)."""

    def applies(self, work: Work) -> bool:
        """Whether the rule looks at this document at all (its scope)."""
        return True

    def check(self, work: Work) -> Drop | None:
        raise NotImplementedError

    def check_batch(self, works: Sequence[Work]) -> list[Drop | None]:
        return [self.check(w) for w in works]


class _Scoped(Rule):
    """A heuristic rule whose config is a `RuleScope` (kinds and languages)."""

    scope: RuleScope

    def applies(self, work: Work) -> bool:
        return self.scope.applies(work.doc.kind, work.lang)


class _Kinds(Rule):
    """A rule scoped by document kind only (`kinds: null` = every kind)."""

    kinds: list[str] | None

    def applies(self, work: Work) -> bool:
        return self.kinds is None or work.doc.kind in self.kinds


# ---- the rules, in chain order ---------------------------------------------------------------------------


class UrlRule(_Kinds):
    name = "url"

    def __init__(self, cfg: FilterConfig):
        self.filter = UrlFilter(cfg.url)
        self.kinds = cfg.url.kinds

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.url.enabled else None

    def check(self, work: Work) -> Drop | None:
        return self.filter.check(work.doc.url)


class LidRule(Rule):
    """fastText language ID on a batch; the label scopes the language-specific rules after it."""

    name = "lid"
    signals = {"lang": "string", "lang_score": "float"}

    def __init__(self, cfg: FilterConfig):
        self.model = LanguageId(cfg.lid)

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        if cfg.lid.enabled:
            return cls(cfg)
        return AssumedLanguage(cfg.lid.assume_language) if cfg.lid.assume_language else None

    def load(self) -> None:
        self.model.load()

    def check_batch(self, works: Sequence[Work]) -> list[Drop | None]:
        out: list[Drop | None] = []
        for w, (lang, score) in zip(works, self.model.predict([w.text for w in works]), strict=True):
            w.signals["lang"] = lang
            w.signals["lang_score"] = score
            out.append(self.model.check(lang, score))
        return out


class AssumedLanguage(Rule):
    """With language ID off, `lid.assume_language` labels every document (for single-language input)."""

    name = "assume_language"
    signals = {"lang": "string"}
    listed = False

    def __init__(self, lang: str):
        self.lang = lang

    def check(self, work: Work) -> Drop | None:
        work.signals["lang"] = self.lang
        return None


class GopherQualityRule(_Scoped):
    name = "gopher_quality"
    signals = {
        "gopher_words": "int",
        "gopher_mean_word_length": "float",
        "gopher_hash_ratio": "float",
        "gopher_ellipsis_ratio": "float",
        "gopher_bullet_lines": "float",
        "gopher_ellipsis_lines": "float",
        "gopher_alpha_words": "float",
        "gopher_stop_words": "int",
    }

    def __init__(self, cfg: FilterConfig):
        self.scope = self.cfg = cfg.gopher_quality

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.gopher_quality.enabled else None

    def check(self, work: Work) -> Drop | None:
        return gopher_quality(work.source_stats, self.cfg, work.lang, work.signals)


class C4Rule(_Scoped):
    """C4's line cleaning: on success the cleaned text is what the following rules read."""

    name = "c4"
    signals = {"c4_lines_removed": "int", "c4_sentences": "int"}

    def __init__(self, cfg: FilterConfig):
        self.scope = self.cfg = cfg.c4

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.c4.enabled else None

    def check(self, work: Work) -> Drop | None:
        given = work.text
        c4 = c4_clean(given, self.cfg, work.source_stats.line_chunks if given is work.doc.text else None)
        work.signals["c4_lines_removed"] = c4.lines_removed
        work.signals["c4_sentences"] = c4.sentences
        if c4.drop:
            return c4.drop
        work.set_text(c4.text, c4 if given is work.doc.text else None)
        return None


class GopherRepetitionRule(_Scoped):
    """Reads the text as extracted, as Gopher's rules do (not C4's cleaned text)."""

    name = "gopher_repetition"
    signals = {
        "rep_dup_para_frac": "float",
        "rep_dup_para_char_frac": "float",
        "rep_dup_line_frac": "float",
        "rep_dup_line_char_frac": "float",
        **{f"rep_top_{n}gram_char_frac": "float" for n in TOP_NGRAMS},
        **{f"rep_dup_{n}gram_char_frac": "float" for n in DUP_NGRAMS},
    }

    def __init__(self, cfg: FilterConfig):
        self.scope = self.cfg = cfg.gopher_repetition

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.gopher_repetition.enabled else None

    def check(self, work: Work) -> Drop | None:
        return gopher_repetition(work.source_stats, self.cfg, work.signals)


class FineWebRule(_Scoped):
    name = "fineweb"
    signals = {
        "fw_line_punct_ratio": "float",
        "fw_short_line_ratio": "float",
        "fw_char_dup_ratio": "float",
        "fw_newline_ratio": "float",
    }

    def __init__(self, cfg: FilterConfig):
        self.scope = self.cfg = cfg.fineweb

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.fineweb.enabled else None

    def check(self, work: Work) -> Drop | None:
        return fineweb_quality(work.stats, self.cfg, work.signals)


class BadWordsRule(_Scoped):
    name = "badwords"
    signals = {"badwords_frac": "float"}

    def __init__(self, cfg: FilterConfig):
        self.scope = cfg.badwords
        self.words = BadWords(cfg.badwords)

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.badwords.enabled else None

    def check(self, work: Work) -> Drop | None:
        return self.words.check(work.text, work.lang, work.signals)


class BookQualityRule(_Scoped):
    """Garbage from a bad PDF text layer (filters/book_quality.py); reads the text as extracted."""

    name = "book_quality"
    signals = BOOK_QUALITY_SIGNALS

    def __init__(self, cfg: FilterConfig):
        self.scope = self.cfg = cfg.book_quality

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.book_quality.enabled else None

    def check(self, work: Work) -> Drop | None:
        return book_quality(work.doc.text, self.cfg, work.signals)


class QualityRule(_Kinds):
    """The fastText quality classifier (`curate quality train`) on a batch; off without a model."""

    name = "quality"
    signals = {"quality_score": "float"}

    def __init__(self, cfg: FilterConfig):
        self.model = QualityModel(cfg.quality)
        self.kinds = cfg.quality.kinds

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.quality.enabled and cfg.quality.model else None

    def load(self) -> None:
        self.model.load()

    def check_batch(self, works: Sequence[Work]) -> list[Drop | None]:
        out: list[Drop | None] = []
        for w, score in zip(works, self.model.scores([w.text for w in works]), strict=True):
            w.signals["quality_score"] = score
            out.append(self.model.check(score))
        return out


class PiiRule(_Kinds):
    """Redacts e-mail addresses, IPs and phone numbers in the kept text; never drops."""

    name = "pii"
    signals = {"pii_email": "int", "pii_ip": "int", "pii_phone": "int"}

    def __init__(self, cfg: FilterConfig):
        self.redactor = PiiRedactor(cfg.pii)
        self.kinds = cfg.pii.kinds

    @classmethod
    def build(cls, cfg: FilterConfig) -> Rule | None:
        return cls(cfg) if cfg.pii.enabled else None

    def check(self, work: Work) -> Drop | None:
        work.text, counts = self.redactor.redact(work.text)
        for kind, n in counts.items():
            work.signals[f"pii_{kind}"] = n
        return None


#: The chain, in the order it runs.
RULES: tuple[type[Rule], ...] = (
    UrlRule,
    LidRule,
    GopherQualityRule,
    C4Rule,
    GopherRepetitionRule,
    FineWebRule,
    BadWordsRule,
    BookQualityRule,
    QualityRule,
    PiiRule,
)

ORDER = tuple(r.name for r in RULES)


def _signals() -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in (*RULES, AssumedLanguage):
        for name, kind in rule.signals.items():
            if out.setdefault(name, kind) != kind:
                raise TypeError(f"signal {name!r} declared as {out[name]} and as {kind} ({rule.__name__})")
    return out


#: Signals written on kept documents (column name -> type), None where a rule did not run: every
#: rule's declared signals, in chain order (the filter stage's output columns).
SIGNALS: dict[str, str] = _signals()

#: Extra columns of a rejected record.
REJECTED_EXTRAS: dict[str, str] = {
    "lang": "string",
    "lang_score": "float",
    "value": "float",
    "threshold": "float",
}


class UndeclaredSignalError(KeyError):
    """A rule wrote a signal that no rule declares: it would never reach the output columns."""


def _reject(doc: Document, drop: Drop) -> Rejected:
    return Rejected.of(
        doc,
        drop.reason,
        lang=doc.signals.get("lang"),
        lang_score=doc.signals.get("lang_score"),
        value=None if drop.value is None else float(drop.value),
        threshold=None if drop.threshold is None else float(drop.threshold),
    )


class FilterChain:
    """All configured rules. Build once per worker, `load()` the models, then `apply` batches."""

    def __init__(self, cfg: FilterConfig, rules: Sequence[type[Rule]] = RULES):
        self.cfg = cfg
        self.rules: list[Rule] = [r for r in (cls.build(cfg) for cls in rules) if r is not None]
        self._declared = frozenset(name for r in self.rules for name in r.signals)

    def load(self) -> None:
        for rule in self.rules:
            rule.load()

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    @property
    def lid(self) -> LanguageId | None:
        rule = self.rule("lid")
        return rule.model if isinstance(rule, LidRule) else None

    @property
    def quality(self) -> QualityModel | None:
        rule = self.rule("quality")
        return rule.model if isinstance(rule, QualityRule) else None

    def active_rules(self) -> list[str]:
        return [r.name for r in self.rules if r.listed]

    def apply(self, docs: list[Document]) -> list[Document | Rejected]:
        """Each document kept (text possibly cleaned, signals added) or rejected, in input order.

        Each rule runs over the documents still in the chain that are in its scope. A rejected
        document keeps the text it came in with (its snippet shows that); a kept one gets the text as
        the rules left it.
        """
        out: list[Document | Rejected] = list(docs)
        live = [(i, Work(d)) for i, d in enumerate(docs)]
        for rule in self.rules:
            scoped = [(i, w) for i, w in live if rule.applies(w)]
            if not scoped:
                continue
            dropped = set()
            for (i, w), drop in zip(scoped, rule.check_batch([w for _, w in scoped]), strict=True):
                if drop is not None:
                    out[i] = _reject(w.doc, drop)
                    dropped.add(i)
            if dropped:
                live = [(i, w) for i, w in live if i not in dropped]
        for _, w in live:
            doc = w.doc
            doc.text = w.text
            if not doc.signals.keys() <= self._declared and (doc.signals.keys() - self._declared - w.given):
                unknown = sorted(doc.signals.keys() - self._declared - w.given)
                raise UndeclaredSignalError(
                    f"filter rules wrote undeclared signal(s) {unknown}: declare them in the rule's `signals`"
                )
        return out
