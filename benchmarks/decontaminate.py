"""Decontamination speed: the decontaminate stage against the filter stage on the same documents.

    python benchmarks/decontaminate.py [--corpus ../shared/corpus] [--out runs/bench-decontam] [--repeats 3]

Ingests the shared corpus's web crawl once, then runs, side by side and `--repeats` times each, the filter
stage and the decontaminate stage on that same ingest output, both through `curate`'s own stage code on
the in-process runner (one worker), so the process CPU time is the stage's whole cost. The eval sets are
all 2,225 BBC articles (about a million 13-grams, the size of a large benchmark suite) and the English UDHR.
Reports the median CPU seconds per 1,000 documents of each stage and their ratio, and, for the pure code,
the per-document CPU time of `FilterChain.apply` against `filters.decontam.decontaminate`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    return time.process_time()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--out", default="runs/bench-decontam")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for noisy in ("apache_beam", "root", "__main__", "curate.progress"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    corpus = Path(args.corpus)
    if not (corpus / "web").is_dir():
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 2
    from dataclasses import replace

    import pyarrow.parquet as pq

    from filters.decontam import decontaminate
    from filters.rules import FilterChain
    from pipelines.config import RunnerConfig, load_config
    from pipelines.document import from_row
    from pipelines.evalsets import EvalSetSpec
    from pipelines.runlayout import RunLayout
    from pipelines.stages import decontaminate as decontam_stage
    from pipelines.stages import filter as filter_stage
    from pipelines.stages import ingest as ingest_stage

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with open(corpus / "multilingual" / "udhr.jsonl", encoding="utf-8") as f:
        eng = next(json.loads(x) for x in f if json.loads(x)["lang_iso639_3"] == "eng")
    (out / "udhr-eng.txt").write_text(eng["text"], encoding="utf-8")
    config = load_config(None, [f"inputs=[{{path: '{corpus / 'web' / '*.warc.gz'}', name: web}}]"])
    config = replace(config, runner=RunnerConfig(workers=1), eval_sets={
        "bbc": EvalSetSpec(path=str(corpus / "articles" / "bbc-news.jsonl")),
        "udhr_en": EvalSetSpec(path=str(out / "udhr-eng.txt")),
    })
    base = RunLayout(out / "ingested")
    if not base.is_complete("ingest"):
        ingest_stage.run(base, config)
    docs_in = sum(pq.ParquetFile(p).metadata.num_rows for p in base.parts("ingest"))

    stage_cpu: dict[str, list[float]] = {"filter": [], "decontaminate": []}
    stats = {}
    for _ in range(args.repeats):
        for name, module in (("filter", filter_stage), ("decontaminate", decontam_stage)):
            run = out / f"run-{name}"
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir()
            (run / "ingest").symlink_to(base.stage_dir("ingest"), target_is_directory=True)
            c0 = _cpu()
            stats[name] = module.run(RunLayout(run), config)
            stage_cpu[name].append(_cpu() - c0)

    # The pure code on the same documents, no Beam.
    docs = [from_row(r) for p in base.parts("ingest") for r in pq.read_table(p).to_pylist()]
    chain = FilterChain(config.filter)
    chain.load()
    index = decontam_stage.build_stage_index(config)
    pure: dict[str, list[float]] = {"filter": [], "decontaminate": []}
    for _ in range(args.repeats):
        c0 = _cpu()
        for i in range(0, len(docs), 256):
            list(chain.apply([from_row({"id": d.id, "text": d.text, "source": d.source, "kind": d.kind,
                                        "url": d.url}) for d in docs[i : i + 256]]))
        pure["filter"].append(_cpu() - c0)
        c0 = _cpu()
        for d in docs:
            decontaminate(d.text, index, config.decontaminate)
        pure["decontaminate"].append(_cpu() - c0)

    med = {k: statistics.median(v) for k, v in stage_cpu.items()}
    pmed = {k: statistics.median(v) for k, v in pure.items()}
    mb = sum(len(d.text.encode()) for d in docs) / 1e6
    print(f"{docs_in} documents ({mb:.1f} MB of text) from {corpus / 'web'}; index {len(index):,} n-grams, "
          f"{index.nbytes / 1e6:.1f} MB; median of {args.repeats}, CPU seconds (machine shared: 2 cores, ~7 agents)")
    print(f"{'':<28}{'filter':>12}{'decontaminate':>16}{'ratio d/f':>12}")
    print(f"{'stage CPU s / 1000 docs':<28}{med['filter'] / docs_in * 1000:>12.2f}"
          f"{med['decontaminate'] / docs_in * 1000:>16.2f}{med['decontaminate'] / med['filter']:>12.2f}")
    print(f"{'pure code CPU ms / doc':<28}{pmed['filter'] / len(docs) * 1000:>12.2f}"
          f"{pmed['decontaminate'] / len(docs) * 1000:>16.2f}{pmed['decontaminate'] / pmed['filter']:>12.2f}")
    print("decontaminate (BBC + UDHR as eval sets):", json.dumps(stats["decontaminate"]["by_eval_set"]))
    print("raw per-run CPU s:", json.dumps({"stage": stage_cpu, "pure": pure}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
