"""CPU per document of the filter chain and of ingest, in this process without Beam, with a profile.

    python benchmarks/stage_cpu.py [--stage filter|ingest|both] [--input '../shared/corpus/web/*.warc.gz']
        [--repeat 3] [--profile 25] [--digest] [--check] [--gc curate|default]

`ingest`  `list_input_files` + `read_input_file` over every input file (the stage's work: WARC reading,
          HTML decoding, the configured extractor, normalization), CPU seconds / documents out.
`filter`  `FilterChain.apply` over the ingested documents in the stage's batches (models loaded before
          the clock starts), CPU seconds / documents in.

The garbage collector is set as in curate's stage processes (`pipelines/gc_policy.py`: the command and
its workers), before anything is read; `--gc default` keeps CPython's default thresholds instead.

CPU time is this process's (`time.process_time`), which other load on a shared machine barely moves;
with `--repeat N` the median of N runs is reported. `--profile K` runs once more under cProfile and
prints the K functions with the most internal time. `--digest` prints a sha256 of every output row
(kept documents with their signals, rejected records), to check that a change leaves results identical.
`--check` verifies the shortcuts of the hot path against their definitions on every document of the
input, and exits non-zero on a difference: ftfy on the lines that may change (`fix_mojibake_lines`)
against `ftfy.fix_text` on the whole extracted text, the tokens by whitespace chunk (`tokenize`)
against the one-regex pass (`tokenize_regex`) on every line of every ingested document, and the word
counts of `TextStats` (sums over the chunk table) against their definitions on those tokens.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import pickle
import pstats
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filters.document import Document, Rejected  # noqa: E402
from filters.rules import FilterChain  # noqa: E402
from pipelines.config import InputSpec, JobConfig  # noqa: E402
from pipelines.io.inputs import list_input_files, read_input_file  # noqa: E402

DEFAULT_INPUT = str(REPO.parent / "shared" / "corpus" / "web" / "*.warc.gz")


def ingest_all(config: JobConfig) -> list[Document | Rejected]:
    out: list[Document | Rejected] = []
    for f in list_input_files(config.inputs):
        out.extend(read_input_file(f, config.ingest))
    return out


def filter_all(chain: FilterChain, docs: list[Document], batch_size: int) -> list[Document | Rejected]:
    out: list[Document | Rejected] = []
    for i in range(0, len(docs), batch_size):
        out.extend(chain.apply(docs[i : i + batch_size]))
    return out


def fresh(docs: list[Document]) -> list[Document]:
    """Copies the chain may modify (it rewrites text and signals in place)."""
    return [Document(d.id, d.text, d.source, d.kind, d.dataset, d.location, d.url, d.meta, dict(d.signals))
            for d in docs]


def digest(items: list[Document | Rejected]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item.__dict__ if hasattr(item, "__dict__") else _slots(item), sort_keys=True,
                            default=repr).encode())
    return h.hexdigest()


def _slots(obj) -> dict:
    return {k: getattr(obj, k) for k in obj.__slots__}


def cold() -> None:
    """Empty the tokenizer's cache of chunks, so that every repeat starts as a fresh worker does."""
    import filters.text

    if hasattr(filters.text, "clear_cache"):
        filters.text.clear_cache()


def measure(name: str, fn, n_of, repeat: int, profile: int) -> dict:
    cpu = []
    result = None
    for _ in range(repeat):
        cold()
        t = time.process_time()
        result = fn()
        cpu.append(time.process_time() - t)
    n = n_of(result)
    med = statistics.median(cpu)
    print(f"{name}: {n} documents, CPU {med:.3f} s (median of {repeat}: {', '.join(f'{c:.3f}' for c in cpu)}), "
          f"{1000 * med / n:.3f} ms/doc")
    if profile:
        prof = cProfile.Profile()
        cold()
        prof.runcall(fn)
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(profile)
        print(s.getvalue())
    return {"docs": n, "cpu_s": cpu, "ms_per_doc": 1000 * med / n, "result": result}


def check(config: JobConfig) -> int:
    """Shortcuts against their definitions on every document (see `--check`); the number of differences."""
    import ftfy

    import pipelines.io.records as records
    from filters import normalize, text

    bad = 0
    texts = 0
    original = records.normalize_text

    def checked(raw: str, fix_mojibake: bool = True) -> str:
        nonlocal bad, texts
        texts += 1
        if (fix_mojibake and not raw.isascii() and len(raw) <= normalize._FTFY_CONFIG.max_decode_length
                and normalize.fix_mojibake_lines(raw) != ftfy.fix_text(raw, config=normalize._FTFY_CONFIG)):
            bad += 1
            print(f"fix_mojibake_lines differs from ftfy.fix_text on {raw[:80]!r}", file=sys.stderr)
        return original(raw, fix_mojibake)

    records.normalize_text = checked
    try:
        docs = [d for d in ingest_all(config) if isinstance(d, Document)]
    finally:
        records.normalize_text = original
    lines = 0
    for d in docs:
        tokens = []
        for line in d.text.split("\n"):
            lines += 1
            tokens += text.tokenize_regex(line)
            if text.tokenize(line) != text.tokenize_regex(line):
                bad += 1
                print(f"tokenize differs from tokenize_regex on {line[:80]!r}", file=sys.stderr)
        bad += check_counts(d.text, tokens)
    print(f"check: {texts} extracted texts (ftfy), {lines} lines of {len(docs)} documents (tokens, word "
          f"counts): {bad} differences")
    return bad


def check_counts(doc_text: str, tokens: list[str]) -> int:
    """The word counts of `TextStats` (sums over the chunk table) against their definitions on `tokens`."""
    from filters import text
    from filters.stopwords import STOP_WORDS

    stats = text.TextStats(doc_text)
    words = [t for t in tokens if text.is_word(t)]
    lower = {w.lower() for w in words}
    hashes, lengths = stats.token_arrays()
    want = {
        "n_tokens": len(tokens), "n_words": len(words), "word_chars": sum(map(len, words)),
        "alpha_words": sum(1 for w in words if text._LETTER_RE.search(w)),
        "stop_words": [len(s & lower) for s in STOP_WORDS.values()],
        "token_arrays": ([hash(t) for t in tokens], list(map(len, tokens))),
    }
    got = {
        "n_tokens": stats.n_tokens, "n_words": stats.n_words, "word_chars": stats.word_chars,
        "alpha_words": stats.alpha_words, "stop_words": [stats.stop_words_found(s) for s in STOP_WORDS.values()],
        "token_arrays": (hashes.tolist(), lengths.tolist()),
    }
    wrong = [k for k in want if want[k] != got[k]]
    if wrong:
        print(f"word counts {wrong} differ from their definitions on {doc_text[:80]!r}", file=sys.stderr)
    return len(wrong)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stage", choices=["filter", "ingest", "both"], default="both")
    ap.add_argument("--input", default=DEFAULT_INPUT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="print the top K functions by own time")
    ap.add_argument("--digest", action="store_true", help="print a sha256 of every output")
    ap.add_argument("--check", action="store_true", help="verify the hot path's shortcuts on every document")
    ap.add_argument("--docs-cache", type=Path, help="pickle of the ingested documents, made once and reused "
                    "(for repeated filter measurements)")
    ap.add_argument("--gc", choices=["curate", "default"], default="curate",
                    help="the collector's settings: curate's stage processes' (pipelines/gc_policy.py) or CPython's")
    args = ap.parse_args()
    if args.gc == "curate":
        from pipelines import gc_policy

        gc_policy.apply(freeze=True)

    config = JobConfig(inputs=[InputSpec(path=args.input)])
    if args.check:
        return 1 if check(config) else 0
    t = time.process_time()
    if args.docs_cache and args.docs_cache.is_file() and args.stage == "filter":
        items = pickle.loads(args.docs_cache.read_bytes())
    else:
        items = ingest_all(config)
        if args.docs_cache:
            args.docs_cache.write_bytes(pickle.dumps(items))
    docs = [d for d in items if isinstance(d, Document)]
    if args.stage in ("ingest", "both"):
        r = measure("ingest", lambda: ingest_all(config), lambda res: sum(isinstance(d, Document) for d in res),
                    args.repeat, args.profile)
        if args.digest:
            print("ingest digest", digest(r["result"]))
    elif not docs:
        print(f"nothing ingested from {args.input} ({time.process_time() - t:.1f} s)", file=sys.stderr)
        return 2
    if args.stage in ("filter", "both"):
        chain = FilterChain(config.filter)
        chain.load()
        r = measure("filter", lambda: filter_all(chain, fresh(docs), config.filter.batch_size),
                    lambda res: len(res), args.repeat, args.profile)
        if args.digest:
            print("filter digest", digest(r["result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
