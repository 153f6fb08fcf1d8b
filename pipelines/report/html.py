"""HTML building blocks of the report page: escaped tables, notes, "not run" notes, sections, and the
page shell with its stylesheet. Static and self-contained: no scripts, no external files."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.report.data import Missing, StageScan, run_name

SCROLL_ROWS = 20  # longer tables get a fixed height and scroll


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "",
          numeric: Sequence[bool] | None = None) -> str:
    """An HTML table; cells are escaped; `numeric` columns are right-aligned (default: all but the first)."""
    numeric = list(numeric) if numeric is not None else [False] + [True] * (len(headers) - 1)
    cls = ['class="num"' if n else "" for n in numeric]
    rows = list(rows)
    wrap = "table-wrap tall" if len(rows) > SCROLL_ROWS else "table-wrap"  # long tables scroll in place
    out = [f'<div class="{wrap}"><table class="numbers">']
    if caption:
        out.append(f"<caption>{esc(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th {c}>{esc(h)}</th>" for h, c in zip(headers, cls, strict=True))
               + "</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td {c}>{esc(v)}</td>" for v, c in zip(row, cls, strict=True)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def not_run(missing: Missing) -> str:
    if missing.error:
        return f'<p class="note not-run">Could not be read: {esc(missing.reason)}</p>'
    return f'<p class="note not-run">Not run: {esc(missing.reason)}.</p>'


def sample_note(scans: Iterable[StageScan]) -> str:
    sampled = [s for s in scans if not s.exact]
    if not sampled:
        return ""
    parts = ", ".join(f"{s.stage}: {s.scanned_rows:,} of {s.rows:,}" for s in sampled)
    return note(f"Numbers marked ≈ are scaled up from a sample ({parts} documents read).")


@dataclass
class Section:
    id: str
    title: str
    body: str
    lead: str = ""


CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fafafa; }
main { max-width: 980px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .3rem; padding-top: .6rem; border-top: 1px solid #e5e5e5; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .3rem; }
.lead { color: #555; margin: 0 0 .8rem; }
.run { color: #666; font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
nav { background: #f3f5f8; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
nav ol { margin: .2rem 0; padding-left: 1.4rem; columns: 2; }
nav a { text-decoration: none; color: #2458a6; }
img.plot { display: block; max-width: 100%; height: auto; margin: .6rem 0; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
.table-wrap.tall { max-height: 28rem; overflow-y: auto; display: inline-block; max-width: 100%; }
.table-wrap.tall th { position: sticky; top: 0; }
table.numbers { border-collapse: collapse; font-size: .85rem; }
table.numbers caption { text-align: left; color: #555; }
table.numbers th, table.numbers td { padding: .2rem .6rem; border-bottom: 1px solid #eee; text-align: left; }
table.numbers th { background: #f3f5f8; font-weight: 600; }
table.numbers .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.numbers tbody tr:hover { background: #fbfbf3; }
.note { color: #555; font-size: .85rem; }
.not-run { background: #fff7e6; border-left: 3px solid #f0b429; padding: .4rem .7rem; color: #6b5200; }
details summary { cursor: pointer; color: #2458a6; font-size: .9rem; }
"""


def render_sections(run_path: Any, sections: Sequence[Section]) -> str:
    """The whole page: a title naming the run folder, a table of contents, then every section."""
    toc = "".join(f'<li><a href="#{s.id}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.id}"><h2>{esc(s.title)}</h2>'
        + (f'<p class="lead">{esc(s.lead)}</p>' if s.lead else "") + s.body + "</section>"
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>curate report: {esc(run_name(run_path))}</title><style>{CSS}</style></head><body><main>"
        f'<h1>curate run report</h1><p class="run">{esc(run_path)}</p>'
        f'<nav><strong>Contents</strong><ol>{toc}</ol></nav>{body}</main></body></html>\n'
    )
