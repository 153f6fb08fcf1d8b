"""What a rule returns when it drops a document: the named reason, the measured value and the limit.

A rule returns `None` to keep a document. Reasons are `family:check`, e.g. `gopher_quality:too_few_words`;
the family is the rule's name (Beam counters and reports group on it).
"""

from __future__ import annotations

from typing import NamedTuple


class Drop(NamedTuple):
    reason: str
    value: float | None = None
    threshold: float | None = None

    def detail(self) -> str:
        if self.value is None:
            return self.reason
        limit = "" if self.threshold is None else f" (limit {self.threshold:g})"
        return f"{self.reason}={self.value:.4g}{limit}"
