"""Figures of the report page: matplotlib's object API on the Agg canvas (no pyplot global state, no
display), each embedded in the page as a base64 PNG."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pipelines.report.formatting import fmt_int
from pipelines.report.html import esc

COLORS = {"ingest": "#8da0cb", "filter": "#66c2a5", "dedup": "#fc8d62", "tokenize": "#e78ac3",
          "input records": "#b3b3b3"}
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]
DPI = 100
MAX_BARS = 15  # categories drawn per chart; the rest are summed as "other" (tables list them all)


def si(x: float, _pos: Any = None) -> str:
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:g}{suffix}"
    return f"{x:g}"


def figure(width: float = 8.0, height: float = 3.2, ncols: int = 1, nrows: int = 1, **kw: Any):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    for ax in axes.flat:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="both", alpha=0.25, linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes


def img(fig: Figure, alt: str) -> str:
    """The figure as an `<img>` with a base64 PNG data URI (no file next to the page)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    w, h = (int(round(v)) for v in fig.get_size_inches() * DPI)
    return f'<img class="plot" width="{w}" height="{h}" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def top_n(items: list[tuple[str, float]], n: int = MAX_BARS) -> list[tuple[str, float]]:
    """The `n - 1` largest items and the rest summed as 'other (k)' when there are more than `n`."""
    items = sorted(items, key=lambda kv: (-kv[1], kv[0]))
    if len(items) <= n:
        return items
    rest = items[n - 1:]
    return items[: n - 1] + [(f"other ({len(rest)})", sum(v for _, v in rest))]


def hbars(ax, labels: list[str], values: list[float], color: str, fmt=fmt_int) -> None:
    y = np.arange(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels=[lab if len(lab) <= 40 else lab[:38] + "…" for lab in labels], fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    top = max(values, default=0) or 1
    for yi, v in zip(y, values, strict=True):
        ax.text(v + top * 0.01, yi, fmt(v), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.15)
    ax.xaxis.set_major_formatter(FuncFormatter(si))
