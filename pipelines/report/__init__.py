"""The run report (`RUN/report/index.html`) and the dataset card (`RUN/shards/README.md`).

`write_report(run)` is what `curate report` and the end of `curate run` call.
"""

from __future__ import annotations

from pipelines.report.report import write_report

__all__ = ["write_report"]
