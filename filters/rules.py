"""The rule chain: every filter in order, cheapest first, stopping at the first rule that drops.

    url -> lid -> gopher_quality -> c4 -> gopher_repetition -> fineweb -> badwords -> book_quality -> quality -> pii

The URL rule needs only the URL; language ID is one native fastText call per batch and its label
decides which language-specific rules apply; the Gopher quality checks are counts over one
tokenization; C4 is one pass over the lines; the repetition n-grams are the most expensive heuristic;
FineWeb and bad words read the C4-cleaned text (as in the FineWeb recipe, where C4's line cleaning
runs before FineWeb's rules, while Gopher's rules see the text as extracted); the model-based score
is another batched fastText call; PII redaction rewrites only the documents that are kept.

Every rule writes its measurements into `doc.signals`; a dropped document becomes a `Rejected` with
the reason, the measured value and the limit it failed.
"""

from __future__ import annotations

from typing import Any

from filters.badwords import BadWords
from filters.book_quality import SIGNALS as BOOK_QUALITY_SIGNALS
from filters.book_quality import book_quality
from filters.c4 import c4_clean
from filters.config import FilterConfig
from filters.document import Document, Rejected
from filters.fineweb import fineweb_quality
from filters.gopher import DUP_NGRAMS, TOP_NGRAMS, gopher_quality, gopher_repetition
from filters.lid import LanguageId
from filters.pii import PiiRedactor
from filters.quality import QualityModel
from filters.text import TextStats
from filters.url import UrlFilter
from filters.verdict import Drop

#: Signals written on kept documents (column name -> type), None where a rule did not run.
SIGNALS: dict[str, str] = {
    "lang": "string",
    "lang_score": "float",
    "gopher_words": "int",
    "gopher_mean_word_length": "float",
    "gopher_hash_ratio": "float",
    "gopher_ellipsis_ratio": "float",
    "gopher_bullet_lines": "float",
    "gopher_ellipsis_lines": "float",
    "gopher_alpha_words": "float",
    "gopher_stop_words": "int",
    "c4_lines_removed": "int",
    "c4_sentences": "int",
    "rep_dup_para_frac": "float",
    "rep_dup_para_char_frac": "float",
    "rep_dup_line_frac": "float",
    "rep_dup_line_char_frac": "float",
    **{f"rep_top_{n}gram_char_frac": "float" for n in TOP_NGRAMS},
    **{f"rep_dup_{n}gram_char_frac": "float" for n in DUP_NGRAMS},
    "fw_line_punct_ratio": "float",
    "fw_short_line_ratio": "float",
    "fw_char_dup_ratio": "float",
    "fw_newline_ratio": "float",
    "badwords_frac": "float",
    "quality_score": "float",
    "pii_email": "int",
    "pii_ip": "int",
    "pii_phone": "int",
    **BOOK_QUALITY_SIGNALS,
}

#: Extra columns of a rejected record.
REJECTED_EXTRAS: dict[str, str] = {
    "lang": "string",
    "lang_score": "float",
    "value": "float",
    "threshold": "float",
}

ORDER = ("url", "lid", "gopher_quality", "c4", "gopher_repetition", "fineweb", "badwords", "book_quality", "quality",
         "pii")


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

    def __init__(self, cfg: FilterConfig):
        self.cfg = cfg
        self.url = UrlFilter(cfg.url) if cfg.url.enabled else None
        self.lid = LanguageId(cfg.lid) if cfg.lid.enabled else None
        self.badwords = BadWords(cfg.badwords) if cfg.badwords.enabled else None
        self.quality = QualityModel(cfg.quality) if cfg.quality.enabled and cfg.quality.model else None
        self.pii = PiiRedactor(cfg.pii) if cfg.pii.enabled else None

    def load(self) -> None:
        if self.lid:
            self.lid.load()
        if self.quality:
            self.quality.load()

    def active_rules(self) -> list[str]:
        cfg = self.cfg
        on = {
            "url": self.url is not None,
            "lid": self.lid is not None,
            "gopher_quality": cfg.gopher_quality.enabled,
            "c4": cfg.c4.enabled,
            "gopher_repetition": cfg.gopher_repetition.enabled,
            "fineweb": cfg.fineweb.enabled,
            "badwords": self.badwords is not None,
            "book_quality": cfg.book_quality.enabled,
            "quality": self.quality is not None,
            "pii": self.pii is not None,
        }
        return [name for name in ORDER if on[name]]

    def apply(self, docs: list[Document]) -> list[Document | Rejected]:
        """Each document kept (text possibly cleaned, signals added) or rejected, in input order."""
        out: list[Document | Rejected] = list(docs)
        live = list(range(len(docs)))

        if self.url is not None:
            kinds = self.cfg.url.kinds
            live = self._keep(out, live, lambda d: self.url.check(d.url) if kinds is None or d.kind in kinds else None)

        if self.lid is not None:
            preds = self.lid.predict([docs[i].text for i in live])
            for i, (lang, score) in zip(live, preds, strict=True):
                docs[i].signals["lang"] = lang
                docs[i].signals["lang_score"] = score
            live = self._keep(out, live, lambda d: self.lid.check(d.signals["lang"], d.signals["lang_score"]))
        elif self.cfg.lid.assume_language:
            for i in live:
                docs[i].signals["lang"] = self.cfg.lid.assume_language

        live = self._keep(out, live, self._text_rules)

        if self.quality is not None:
            kinds = self.cfg.quality.kinds
            scored = [i for i in live if kinds is None or docs[i].kind in kinds]
            for i, score in zip(scored, self.quality.scores([docs[i].text for i in scored]), strict=True):
                docs[i].signals["quality_score"] = score
            live = self._keep(out, live, lambda d: self.quality.check(d.signals["quality_score"])
                              if "quality_score" in d.signals else None)

        if self.pii is not None:
            kinds = self.cfg.pii.kinds
            for i in live:
                doc = docs[i]
                if kinds is None or doc.kind in kinds:
                    doc.text, counts = self.pii.redact(doc.text)
                    for kind, n in counts.items():
                        doc.signals[f"pii_{kind}"] = n
        return out

    @staticmethod
    def _keep(out: list[Document | Rejected], live: list[int], rule) -> list[int]:
        kept = []
        for i in live:
            drop = rule(out[i])
            if drop is None:
                kept.append(i)
            else:
                out[i] = _reject(out[i], drop)
        return kept

    def _text_rules(self, doc: Document) -> Drop | None:
        """The heuristic rules on one document; on success `doc.text` becomes the C4-cleaned text."""
        cfg = self.cfg
        lang = doc.signals.get("lang")
        kind = doc.kind
        signals: dict[str, Any] = doc.signals
        stats = TextStats(doc.text)
        if cfg.gopher_quality.applies(kind, lang):
            drop = gopher_quality(stats, cfg.gopher_quality, lang, signals)
            if drop:
                return drop

        text = doc.text
        if cfg.c4.applies(kind, lang):
            c4 = c4_clean(text, cfg.c4)
            signals["c4_lines_removed"] = c4.lines_removed
            signals["c4_sentences"] = c4.sentences
            if c4.drop:
                return c4.drop
            text = c4.text

        if cfg.gopher_repetition.applies(kind, lang):
            drop = gopher_repetition(stats, cfg.gopher_repetition, signals)
            if drop:
                return drop

        if text is not doc.text:
            stats = TextStats(text)
        if cfg.fineweb.applies(kind, lang):
            drop = fineweb_quality(stats, cfg.fineweb, signals)
            if drop:
                return drop

        if self.badwords is not None and cfg.badwords.applies(kind, lang):
            drop = self.badwords.check(text, lang, signals)
            if drop:
                return drop

        if cfg.book_quality.applies(kind, lang) and (drop := book_quality(doc.text, cfg.book_quality, signals)):
            return drop

        doc.text = text
        return None
