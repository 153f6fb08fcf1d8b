"""datatrove's side of benchmarks/pipeline.py; runs in a separate virtual environment with datatrove.

    python _datatrove_pipeline.py WARC_DIR WORK_DIR LID_MODEL WORKERS [dedup|nodedup]
Prints one JSON line: {"kept": N, "seconds": S, "stage_seconds": {...}, "steps": {...}}.

The pipeline is datatrove's own FineWeb-style web job, run the way its examples run it: one
`LocalPipelineExecutor` per stage, in one Python process (so its start-up is timed once, like ours).
  1. WarcReader -> Trafilatura -> LanguageFilter -> GopherRepetition -> GopherQuality -> C4Quality
     -> FineWebQuality -> JsonlWriter (one task per WARC file)
  2-5. (only with `dedup`; issue 14 measured datatrove without it, which is the default of
     benchmarks/pipeline.py) MinHash dedup: signatures (one task per file of 1), buckets (one task per bucket), cluster
     (1 task), filter (one task per file of 1, rank-aligned with the signatures).
Same rules as ours where datatrove has them: every language kept at fastText lid.176 score >= 0.65,
C4 with its terminal-punctuation line rule on (our default), datatrove's MinHash defaults (5-grams,
14 bands x 8 rows = 112 permutations, ours uses 112 too). Differences that remain: datatrove has no
exact-text or URL dedup, and its Gopher/C4/FineWeb rules use English stop words for every language.

Why the earlier draft hung: the executor's pool uses the `forkserver` start method, whose children
re-import the main module; without the `__main__` guard each child tried to start the pipeline (and a
pool) again, failed while bootstrapping, and the pool kept replacing its dead workers forever. The
pipeline now runs under the guard; the LID patch stays at module level so the children get it too.
A watchdog (faulthandler) dumps every thread's stack if a stage runs longer than --stage-timeout.
"""

import faulthandler
import gzip
import json
import sys
import time
from pathlib import Path

import datatrove.utils.lid as lid

MODEL = sys.argv[3] if len(sys.argv) > 3 else ""
# Offline: point datatrove's fastText LID at the local lid.176 model instead of its download URL.
# Module level on purpose: forkserver children re-import this module and need the patch too.
lid.cached_asset_path_or_download = lambda *a, **k: MODEL

STAGE_TIMEOUT_S = 900


def step_counts(stats_file: Path) -> dict[str, dict[str, int]]:
    """{step name: its document counters} from a datatrove stats.json (merged over tasks)."""
    out = {}
    for step in json.loads(stats_file.read_text()):
        counters = {k: v for k, v in step.get("stats", {}).items() if isinstance(v, int)}
        out[step["name"]] = counters
    return out


def count_lines(folder: Path) -> int:
    n = 0
    for p in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(p, "rt") as f:
            n += sum(1 for _ in f)
    return n


def main() -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter

    warc_dir, work, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[4])
    dedup = len(sys.argv) > 5 and sys.argv[5] == "dedup"
    n_files = len(list(Path(warc_dir).glob("*.warc.gz")))
    minhash = MinhashConfig()  # datatrove's defaults: 5-grams, 14 buckets x 8 hashes
    times: dict[str, float] = {}
    steps: dict[str, dict] = {}

    def run(name: str, pipeline: list, tasks: int) -> None:
        start = time.monotonic()
        faulthandler.dump_traceback_later(STAGE_TIMEOUT_S, repeat=False, exit=False)
        logs = work / "logs" / name
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks),
                              logging_dir=str(logs)).run()
        faulthandler.cancel_dump_traceback_later()
        times[name] = round(time.monotonic() - start, 3)
        if (logs / "stats.json").exists():
            steps[name] = step_counts(logs / "stats.json")
        print(f"[datatrove] {name} done in {times[name]:.1f}s", file=sys.stderr, flush=True)

    total = time.monotonic()
    run("1_extract_filter", [
        WarcReader(warc_dir, glob_pattern="*.warc.gz"),
        Trafilatura(favour_precision=True),
        LanguageFilter(languages=None, language_threshold=0.65),  # every language, like ours
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),  # filter_no_terminal_punct=True: C4's rule, our default too
        FineWebQualityFilter(),
        JsonlWriter(str(work / "filtered")),
    ], n_files)
    if not dedup:
        seconds = time.monotonic() - total
        n = count_lines(work / "filtered")
        print(json.dumps({"kept": n, "after_filter": n, "seconds": round(seconds, 3), "stage_seconds": times,
                          "steps": steps, "dedup": False}))
        return
    run("2_signatures", [JsonlReader(str(work / "filtered")),
                         MinhashDedupSignature(output_folder=str(work / "sigs"), config=minhash)], n_files)
    run("3_buckets", [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"),
                                          config=minhash)], minhash.num_buckets)
    run("4_cluster", [MinhashDedupCluster(input_folder=str(work / "buckets"),
                                          output_folder=str(work / "remove_ids"), config=minhash)], 1)
    run("5_filter", [JsonlReader(str(work / "filtered")),
                     MinhashDedupFilter(input_folder=str(work / "remove_ids")),
                     JsonlWriter(str(work / "deduped"))], n_files)
    seconds = time.monotonic() - total


    print(json.dumps({"kept": count_lines(work / "deduped"), "after_filter": count_lines(work / "filtered"),
                      "seconds": round(seconds, 3), "stage_seconds": times, "steps": steps, "dedup": True}))


if __name__ == "__main__":
    main()
