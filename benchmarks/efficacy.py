"""Does the curation make a better model per token? Raw extracted web text against the recipe, in bits per byte.

    python benchmarks/efficacy.py [--corpus ../shared/corpus] [--out runs/efficacy] [--seeds 0 1 2]
                                  [--variants default raw relaxed ...] [--steps 300]

Builds an ablation (pipelines/ablate.py) on the shared corpus's web crawl: `raw` (ingest only), `default`
(filter + dedup with the filter defaults of this checkout) and one variant per major filter rule turned off
or relaxed. Every run trains the same tiny model for the same number of tokens and is scored on:

- `bbc_dev`: half of the BBC articles (split by a hash of the id): the set the defaults were chosen on;
- `bbc_test`: the other half, never looked at while choosing;
- `udhr_en`: the English Universal Declaration of Human Rights, a second held-out set of another register.

The six Gutenberg novels in books/ are served as HTML pages in the crawl, so they are not held out. The
BBC articles and the crawl are copyrighted: the eval files are written under --out, never into the project.
Prints the ablation table and the process CPU time (the machine is shared: wall-clock is noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import xxhash
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: Variants of the base job: name -> overrides (dotted keys, as `--set`).
VARIANTS: dict[str, dict] = {
    "raw": {"stages": ["ingest", "tokenizer", "tokenize", "train"]},
    "old_default": {"filter.badwords.max_fraction": 0.0, "filter.gopher_quality.max_words": 100_000},
    "badwords_strict": {"filter.badwords.max_fraction": 0.0},  # C4: drop on a single listed word
    "badwords_off": {"filter.badwords.enabled": False},
    "word_cap_100k": {"filter.gopher_quality.max_words": 100_000},  # Gopher's cap
    "no_gopher_quality": {"filter.gopher_quality.enabled": False},
    "no_gopher_repetition": {"filter.gopher_repetition.enabled": False},
    "no_c4": {"filter.c4.enabled": False},
    "no_fineweb": {"filter.fineweb.enabled": False},
    "no_dedup": {"stages": ["ingest", "filter", "tokenizer", "tokenize", "train"]},
}


def write_eval_sets(corpus: Path, out: Path, per_split: int) -> dict[str, dict]:
    out.mkdir(parents=True, exist_ok=True)
    dev, test = [], []
    with open(corpus / "articles" / "bbc-news.jsonl", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            (dev if xxhash.xxh64_intdigest(rec["id"].encode()) % 2 == 0 else test).append(rec)
    for name, recs in (("bbc-dev", dev), ("bbc-test", test)):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for rec in recs[:per_split]:
                f.write(json.dumps({"id": rec["id"], "text": rec["text"]}) + "\n")
    with open(corpus / "multilingual" / "udhr.jsonl", encoding="utf-8") as f:
        eng = next(json.loads(x) for x in f if json.loads(x)["lang_iso639_3"] == "eng")
    (out / "udhr-eng.txt").write_text(eng["text"], encoding="utf-8")
    return {"bbc_dev": {"path": str(out / "bbc-dev.jsonl")}, "bbc_test": {"path": str(out / "bbc-test.jsonl")},
            "udhr_en": {"path": str(out / "udhr-eng.txt")}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--out", default="runs/efficacy")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="*", default=None, help=f"subset of {', '.join(VARIANTS)}")
    ap.add_argument("--steps", type=int, default=300, help="training steps of 16 x 128 tokens")
    ap.add_argument("--eval-items", type=int, default=300, help="BBC articles per eval split")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not (corpus / "web").is_dir():
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    eval_sets = write_eval_sets(corpus, out / "eval-data", args.eval_items)
    job = {
        "inputs": [{"path": str(corpus / "web" / "*.warc.gz"), "name": "web"}],
        "stages": ["ingest", "filter", "dedup", "tokenizer", "tokenize", "train"],
        "runner": {"workers": args.workers},
        "tokenizer": {"vocab_size": 2048},
        "tokenize": {"val_fraction": 0.01},
        # ~0.25M parameters: the figures compare recipes, not models; CPU time is scarce.
        "train": {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2, "seq_len": 128}, "batch_size": 16,
                  "warmup_steps": 20, "eval_interval": 0, "checkpoint_interval": 0, "log_interval": 50},
    }
    (out / "job.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
    chosen = args.variants if args.variants is not None else list(VARIANTS)
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        print(f"unknown variant {unknown[0]}", file=sys.stderr)
        return 2
    ablation = {"base": "job.yaml", "name": "default", "seeds": args.seeds, "train_tokens": args.steps * 16 * 128,
                "eval_sets": eval_sets, "variants": {v: VARIANTS[v] for v in chosen}}
    (out / "efficacy.yaml").write_text(yaml.safe_dump(ablation, sort_keys=False))

    import logging

    import torch

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("apache_beam", "root", "__main__", "curate.progress"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    torch.set_num_threads(2)
    from pipelines.ablate import format_table, load_ablation, run_ablation

    t0, c0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    summary = run_ablation(load_ablation(out / "efficacy.yaml"), out / "runs")
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime) + ch.ru_utime + ch.ru_stime
    print(format_table(summary))
    print(f"wall {time.monotonic() - t0:.0f}s, CPU {cpu:.0f}s (this process and its workers; shared 2-core machine)")
    print(f"-> {out / 'runs' / 'ablation.json'}, {out / 'runs' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
