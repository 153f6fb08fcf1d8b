"""Stop-word lists for Gopher's "at least two stop words" check, by language.

English is Gopher's own list (Rae et al. 2021, appendix A1.1.2). The other languages are ours: the
same idea (eight of the most frequent function words of the language, picked from the top of common
word-frequency lists), so that a document of running prose in that language has at least two of them
while menus, tables and keyword lists often do not. A language without a list is not checked.
Override or extend them with `filter.gopher_quality.stop_words`.
"""

from __future__ import annotations

STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"the", "be", "to", "of", "and", "that", "have", "with"}),
    "de": frozenset({"der", "die", "und", "das", "ist", "nicht", "mit", "sich"}),
    "fr": frozenset({"le", "la", "les", "et", "des", "est", "que", "une"}),
    "es": frozenset({"el", "la", "que", "y", "los", "del", "las", "por"}),
    "it": frozenset({"il", "di", "che", "la", "e", "per", "un", "non"}),
    "nl": frozenset({"de", "het", "een", "van", "en", "dat", "is", "niet"}),
    "pt": frozenset({"o", "que", "e", "do", "da", "em", "um", "não"}),
    "pl": frozenset({"i", "w", "na", "się", "nie", "to", "że", "jest"}),
}


def stop_words_for(lang: str | None, overrides: dict[str, list[str]] | None = None) -> frozenset[str] | None:
    """The stop-word set of a language, or None where there is none (the check is then skipped)."""
    if lang is None:
        return None
    if overrides and lang in overrides:
        return frozenset(w.lower() for w in overrides[lang])
    return STOP_WORDS.get(lang)
