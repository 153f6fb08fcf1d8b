"""The run report (`RUN/report/index.html`) and the dataset card (`RUN/shards/README.md`).

`write_report(run)` is what `curate report` and the end of `curate run` call. Modules import one way:
data.py (reads the run folder) <- formatting.py <- html.py <- figures.py <- page.py (the HTML page) and
card.py (the dataset card) <- command.py (writes both; `curate report`).
"""

from __future__ import annotations

from pipelines.report.command import write_report

__all__ = ["write_report"]
