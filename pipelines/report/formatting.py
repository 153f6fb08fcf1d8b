"""Numbers as the page and the dataset card print them ("—" for an absent value, "≈" for an estimate)."""

from __future__ import annotations

from typing import Any


def fmt_int(n: float | None, exact: bool = True) -> str:
    if n is None:
        return "—"
    return ("" if exact else "≈") + f"{round(n):,}"


def fmt_bytes(n: float | None, exact: bool = True) -> str:
    if n is None:
        return "—"
    prefix = "" if exact else "≈"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{prefix}{n:,.0f} {unit}" if unit == "B" else f"{prefix}{n:,.1f} {unit}"
        n /= 1000
    return f"{prefix}{n:,.1f} PB"


def fmt_pct(num: float | None, den: float | None) -> str:
    if num is None or not den:
        return "—"
    return f"{100 * num / den:.1f}%"


def fmt_float(x: Any, digits: int = 3) -> str:
    return "—" if not isinstance(x, int | float) else f"{x:.{digits}f}"
