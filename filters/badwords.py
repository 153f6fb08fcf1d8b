"""C4's bad-words rule with the LDNOOBW lists ("List of Dirty, Naughty, Obscene, and Otherwise Bad
Words", CC BY 4.0; see filters/data/badwords/CREDITS.md).

C4 drops a page containing any listed word (Raffel et al. 2020); the mC4 code matches a word only
between non-word characters, except for Japanese, Thai and Chinese, written without spaces, where any
substring matches, and it allows a few entries that are common sub-words in those languages. Here a
single-word entry is looked up in the set of the document's lower-cased `\\w+` runs (the same matches
as that regex, without scanning the text once per entry); entries with spaces or punctuation are
matched with that regex, tried only when all their word pieces occur in the document. The fraction
is over the document's `\\w+` runs.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from filters.config import BadWordsConfig
from filters.resources import data_dir, read_list
from filters.verdict import Drop

NAME = "badwords"

_WORD_RUN_RE = re.compile(r"\w+")
UNSEGMENTED = frozenset({"ja", "th", "zh"})
# mC4 (TFDS c4_utils `_BADWORDS_ALLOWLIST`): common sub-words that would drop >10% of documents.
ALLOWLIST = {"ja": {"sm", "グロ", "女の子"}, "zh": {"性"}}
# fastText lid.176 labels whose list has another name.
LIST_NAME = {"tl": "fil"}


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class BadWordsList:
    """The bad-word entries of one language, ready for matching."""

    def __init__(self, lang: str, words: list[str]):
        self.lang = lang
        entries = {w.strip().lower() for w in words if w.strip()} - ALLOWLIST.get(lang, set())
        self.unsegmented = lang in UNSEGMENTED
        self.substrings = sorted(entries) if self.unsegmented else []
        self.single: frozenset[str] = frozenset(e for e in entries if _WORD_RUN_RE.fullmatch(e))
        # Multi-piece entries: (their word pieces, the entry as a literal pattern). The pattern starts
        # with the literal so the regex engine can jump to candidates; the non-word boundary before it
        # is checked on the match.
        # The entry itself rides along: a substring test rules it out at C speed before the regex runs
        # (entries without word pieces, such as an emoji, would otherwise be searched in every text).
        self.phrases = [
            (frozenset(_WORD_RUN_RE.findall(e)), e, re.compile(rf"{re.escape(e)}(?!\w)"))
            for e in sorted(entries - self.single)
        ]
        self._watched: frozenset[str] = self.single.union(*(p for p, _, _ in self.phrases))
        # The phrases to try for a text: those whose pieces are all among its runs, found through one of
        # their pieces (a few per text, instead of a subset test for each of the ~130 English phrases),
        # and those without pieces, tried always.
        self._phrases_by_piece: dict[str, list[int]] = {}
        self._always: list[int] = []
        for i, (pieces, _, _) in enumerate(self.phrases):
            if pieces:
                self._phrases_by_piece.setdefault(min(pieces), []).append(i)
            else:
                self._always.append(i)

    def count(self, text: str) -> tuple[int, int]:
        """(listed words found, words in the text), words being the `\\w+` runs of the text."""
        lower = text.lower()
        runs = _WORD_RUN_RE.findall(lower)
        if self.unsegmented:
            return sum(lower.count(e) for e in self.substrings if e in lower), len(runs)
        # Only listed words and pieces of phrases matter: the runs among them (no set of all runs).
        present = self._watched.intersection(runs)
        hits = self.single & present
        found = 0
        if hits:
            counts = Counter(runs)
            found += sum(counts[h] for h in hits)
        tried = chain(self._always, *map(self._phrases_by_piece.get, present, repeat(())))  # each once
        for pieces, entry, regex in map(self.phrases.__getitem__, tried):
            if pieces <= present and entry in lower:
                found += sum(1 for m in regex.finditer(lower) if m.start() == 0 or not _is_word_char(lower[m.start() - 1]))
        return found, len(runs)


class BadWords:
    """All lists of a folder (`<lang>.txt`), loaded on first use of a language."""

    def __init__(self, cfg: BadWordsConfig):
        self.cfg = cfg
        self.folder = Path(cfg.lists_dir) if cfg.lists_dir else data_dir() / "badwords"
        if not self.folder.is_dir():
            raise FileNotFoundError(f"bad-words folder not found: {self.folder}")
        self.available = {p.stem for p in self.folder.glob("*.txt")}
        self._lists: dict[str, BadWordsList] = {}

    def list_for(self, lang: str | None) -> BadWordsList | None:
        if lang is None:
            return None
        name = LIST_NAME.get(lang, lang)
        if name not in self.available:
            return None
        if name not in self._lists:
            self._lists[name] = BadWordsList(name, read_list(self.folder / f"{name}.txt"))
        return self._lists[name]

    def check(self, text: str, lang: str | None, signals: dict[str, Any]) -> Drop | None:
        words = self.list_for(lang)
        if words is None:
            return None
        found, total = words.count(text)
        frac = found / total if total else 0.0
        signals["badwords_frac"] = frac
        limit = self.cfg.max_fraction
        if limit is not None and found and frac > limit:
            return Drop(f"{NAME}:{words.lang}", frac, limit)
        return None
