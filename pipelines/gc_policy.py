"""Settings of CPython's cyclic garbage collector for the processes that run stages: the command and
its Beam workers.

The stages allocate millions of short-lived containers (the lines and chunks of each document, token
tuples, rows) while holding large long-lived ones (the filter's chunk table, loaded models, imported
modules). With CPython's default thresholds (700, 10, 10) the collector ran 370 young, 33 middle and 3
full collections while filtering the 1,056 documents of the shared web corpus: 0.17-0.21 s of 2.8 s
of CPU, ~6%, nearly all of it re-examining objects that live to the end
(`benchmarks/stage_cpu.py --gc default`). Documents, rows and tables hold no reference cycles, so
nothing waits on the collector to be freed: young collections every 10,000 allocations and older ones
rarely bring it to ~0.07 s (26 young collections, 1 middle). Objects alive once the command has imported
its modules and read its config are frozen out of collection (`gc.freeze`, the documented practice
before forking workers: the collector then neither scans them nor touches their pages in the children).
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 50, 100)


def apply(freeze: bool = False) -> None:
    """Set the thresholds for this process (its forked children inherit them); `freeze` also moves
    every object alive now out of the collector's reach."""
    gc.set_threshold(*THRESHOLDS)
    if freeze:
        gc.freeze()
