"""Tokenizer benchmark, side by side in one run on the same documents of ../shared/corpus.

    python benchmarks/tokenizer.py [--run /tmp/tok-bench] [--vocab-size 8192] [--web] [--repeat 2]

1. Ingest books, BBC articles and the UDHR translations (and, with --web, the WARC pages) into RUN
   (skipped when RUN/ingest exists). 5% of the documents, chosen by the tokenizer's held-out hash, are
   held out; the rest, cut into lines as the tokenizer stage does, is the training text of both trainers.
2. Training, each in a fresh subprocess (wall time and peak RSS of that process): our SentencePiece BPE
   (`tokenizer.train.train_bpe`, the stage's options) against Hugging Face `tokenizers`' BpeTrainer at
   the same vocabulary size, byte-level (GPT-2 style) with digits split like ours.
3. Bytes per token of both on the held-out documents, overall and per dataset (more is better).
4. Encoding throughput in MB/s per core, on all documents, every path single-threaded:
   a plain loop over `SentencePieceProcessor.encode`, `tokenizers` `encode_batch` with our exported
   tokenizer.json (same ids; RAYON_NUM_THREADS=1), and our whole Beam stage `curate tokenize` (DirectRunner,
   one worker: reading Parquet, batched encoding, split, mixture plan, shuffle, writing zstd shards,
   manifest with sha256). Beam overhead = plain loop MB/s / Beam stage MB/s (target <= 1.3).

Prints a table and writes RUN/bench/tokenizer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers: one core, before it is imported

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow.parquet as pq  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
HELDOUT = 0.05


def ingest(run: Path, web: bool) -> None:
    if (run / "ingest" / "_SUCCESS").exists():
        return
    from pipelines.cli import main as curate

    args = ["ingest", "--run", str(run),
            "--input", f"books={CORPUS}/books/*.txt",
            "--input", f"articles={CORPUS}/articles/bbc-news.jsonl",
            "--input", f"udhr={CORPUS}/multilingual/udhr.jsonl"]
    if web:
        args += ["--input", f"web={CORPUS}/web/*.warc.gz"]
    assert curate(args) == 0


def load_docs(run: Path) -> list[dict]:
    from pipelines.runlayout import RunLayout

    return pq.read_table(RunLayout(run).parts("ingest"), columns=["id", "dataset", "text"]).to_pylist()


# ---- training, in subprocesses ------------------------------------------------------------------------

def _child_sentencepiece(sample: str, out: str, vocab: int, threads: int) -> dict:
    from tokenizer.config import TokenizerConfig
    from tokenizer.train import train_bpe

    cfg = TokenizerConfig(vocab_size=vocab, num_threads=threads)
    start = time.perf_counter()
    result = train_bpe(sample, out, cfg, seed=0)
    return {"seconds": time.perf_counter() - start, "model": str(result.model_path),
            "masked_chars": result.masked_chars}


def _child_hf(sample: str, out: str, vocab: int, threads: int) -> dict:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<pad>", "<unk>", "<bos>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    start = time.perf_counter()
    tok.train([sample], trainer)
    seconds = time.perf_counter() - start
    path = Path(out) / "hf-bytelevel.json"
    tok.save(str(path))
    return {"seconds": seconds, "model": str(path)}


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it does not carry the parent's peak
    across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(which: str, sample: str, out: str, vocab: int, threads: int) -> None:
    fn = _child_sentencepiece if which == "sentencepiece" else _child_hf
    before = _peak_rss_mb()
    result = fn(sample, out, vocab, threads)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["rss_before_mb"] = before  # the interpreter and imports, before training
    print("RESULT " + json.dumps(result))


def train_in_subprocess(which: str, sample: Path, out: Path, vocab: int, threads: int) -> dict:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", which, str(sample), str(out), str(vocab), str(threads)],
        capture_output=True, text=True, env=env, check=True, cwd=REPO,
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


# ---- measurements ---------------------------------------------------------------------------------------

def bytes_per_token(texts_by_ds: dict[str, list[str]], encode) -> dict[str, float]:
    out, all_b, all_t = {}, 0, 0
    for ds, texts in sorted(texts_by_ds.items()):
        b = sum(len(t.encode("utf-8")) for t in texts)
        n = sum(len(ids) for ids in encode(texts))
        out[ds] = round(b / n, 4)
        all_b += b
        all_t += n
    out["overall"] = round(all_b / all_t, 4)
    return out


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def beam_stage_seconds(run: Path, repeat: int) -> float:
    from pipelines.config import load_config
    from pipelines.runlayout import RunLayout
    from pipelines.stages.tokenize import run as tokenize

    config = load_config(None, ["runner.workers=1", "runner.mode=in_memory", "tokenize.num_threads=1"])
    return best_of(repeat, lambda: tokenize(RunLayout(run), config))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="/tmp/tok-bench")
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=2, help="training threads for both trainers")
    ap.add_argument("--web", action="store_true", help="also ingest the WARC pages (slower)")
    ap.add_argument("--repeat", type=int, default=2, help="encoding timings: best of N")
    args = ap.parse_args()
    run = Path(args.run)
    ingest(run, args.web)

    import sentencepiece as spm
    from tokenizers import Tokenizer

    from tokenizer.export import export
    from tokenizer.sample import is_heldout, sentences

    docs = load_docs(run)
    heldout: dict[str, list[str]] = {}
    work = Path(tempfile.mkdtemp(prefix="tok-bench-"))
    sample = work / "sample.txt"
    train_bytes = 0
    with open(sample, "w", encoding="utf-8") as f:
        for d in docs:
            if is_heldout(d["id"], HELDOUT, 0):
                heldout.setdefault(d["dataset"], []).append(d["text"])
                continue
            train_bytes += len(d["text"].encode("utf-8"))
            for s in sentences(d["text"], 16384):
                f.write(s + "\n")
    total_mb = sum(len(d["text"].encode("utf-8")) for d in docs) / 1e6
    print(f"{len(docs)} documents, {total_mb:.1f} MB; training text {train_bytes / 1e6:.1f} MB; "
          f"held out {sum(map(len, heldout.values()))} documents")

    ours = train_in_subprocess("sentencepiece", sample, work / "spm", args.vocab_size, args.threads)
    hf = train_in_subprocess("hf", sample, work, args.vocab_size, args.threads)

    sp = spm.SentencePieceProcessor(model_file=ours["model"])
    hf_tok = Tokenizer.from_file(hf["model"])
    exported = export(ours["model"], work / "tokenizer.json")
    bpt_ours = bytes_per_token(heldout, lambda ts: sp.encode(ts))
    bpt_hf = bytes_per_token(heldout, lambda ts: [e.ids for e in hf_tok.encode_batch(ts, add_special_tokens=False)])

    # encoding throughput on every document, one core each
    texts = [d["text"] for d in docs]
    t_loop = best_of(args.repeat, lambda: [sp.encode(t) for t in texts])
    t_hf = best_of(args.repeat, lambda: exported.encode_batch(texts, add_special_tokens=False))
    t_hf_bl = best_of(args.repeat, lambda: hf_tok.encode_batch(texts, add_special_tokens=False))
    # our Beam stage on the same documents, with the tokenizer we just trained
    from pipelines.runlayout import RunLayout
    from pipelines.stages.tokenizer import NAME as TOKENIZER
    from tokenizer.card import build_card
    from tokenizer.export import TOKENIZER_JSON
    from tokenizer.train import MODEL_FILE

    layout = RunLayout(run)
    commit = layout.begin(TOKENIZER)
    out = Path(commit.out)  # a local run: the attempt's folder
    Path(ours["model"]).replace(out / MODEL_FILE)
    (work / "tokenizer.json").replace(out / TOKENIZER_JSON)
    card = build_card((out / MODEL_FILE).read_bytes(), heldout={"fraction": HELDOUT, "seed": 0},
                      note="written by benchmarks/tokenizer.py")
    (out / "tokenizer_card.json").write_text(json.dumps(card, indent=2))
    commit.commit({"stage": TOKENIZER, "fingerprint": card["fingerprint"][:16], "benchmark": True})
    t_beam = beam_stage_seconds(run, args.repeat)

    mbps = {k: total_mb / v for k, v in
            {"sentencepiece_loop": t_loop, "tokenizers_encode_batch": t_hf,
             "tokenizers_bytelevel_encode_batch": t_hf_bl, "beam_stage": t_beam}.items()}
    results = {
        "documents": len(docs),
        "megabytes": round(total_mb, 2),
        "vocab_size": args.vocab_size,
        "training": {
            "sentencepiece_bpe": {"seconds": round(ours["seconds"], 2), "peak_rss_mb": round(ours["peak_rss_mb"]),
                                  "rss_before_mb": round(ours["rss_before_mb"])},
            "hf_tokenizers_bpe": {"seconds": round(hf["seconds"], 2), "peak_rss_mb": round(hf["peak_rss_mb"]),
                                  "rss_before_mb": round(hf["rss_before_mb"])},
            "threads": args.threads,
        },
        "bytes_per_token_heldout": {"ours": bpt_ours, "hf_bytelevel_bpe": bpt_hf},
        "encode_mb_per_s_per_core": {k: round(v, 3) for k, v in mbps.items()},
        "beam_overhead_vs_loop": round(mbps["sentencepiece_loop"] / mbps["beam_stage"], 3),
    }
    out = run / "bench"
    out.mkdir(exist_ok=True)
    (out / "tokenizer.json").write_text(json.dumps(results, indent=2))

    tr = results["training"]
    print(f"\ntraining at vocab {args.vocab_size} ({args.threads} threads):")
    print(f"  sentencepiece BPE   {tr['sentencepiece_bpe']['seconds']:8.2f} s  "
          f"{tr['sentencepiece_bpe']['peak_rss_mb']:6d} MB peak")
    print(f"  tokenizers BPE      {tr['hf_tokenizers_bpe']['seconds']:8.2f} s  "
          f"{tr['hf_tokenizers_bpe']['peak_rss_mb']:6d} MB peak")
    print("\nbytes per token on held-out documents (higher is better):")
    for ds in bpt_ours:
        print(f"  {ds:10s} ours {bpt_ours[ds]:.3f}   tokenizers byte-level {bpt_hf[ds]:.3f}   "
              f"ratio {bpt_ours[ds] / bpt_hf[ds]:.3f}")
    print("\nencoding, MB/s on one core:")
    for k, v in results["encode_mb_per_s_per_core"].items():
        print(f"  {k:36s} {v:8.3f}")
    print(f"  Beam stage overhead vs the plain loop: {results['beam_overhead_vs_loop']:.3f}x (target <= 1.3)")
    print(f"\n-> {out / 'tokenizer.json'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
