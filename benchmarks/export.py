"""`curate export` fidelity on a real run: the exported folder loaded with transformers, against curate.

1. logits: curate's model and transformers' LlamaForCausalLM on the same validation windows (float32),
   max and mean absolute difference, and how often the argmax (next-token prediction) agrees;
2. greedy generation: 20 tokens from 8-token prompts cut from the validation tokens, no <eos> stop on either side;
3. tokenizer: AutoTokenizer against SentencePiece on the UDHR in every language of the shared corpus
   (and the bundled sample's UDHR), texts with identical ids and tokens compared.

    .venv/bin/python benchmarks/export.py --run runs/demo [--windows 16] [--prompts 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _udhr(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return [(r.get("lang_iso639_3") or r["id"], r["text"]) for r in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=str(ROOT / "runs" / "demo"))
    ap.add_argument("--windows", type=int, default=16, help="validation windows of seq_len tokens")
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    import pyarrow.parquet as pq
    import sentencepiece as spm
    import torch
    import transformers

    from pipelines.stages.export import export_run
    from trainer.generate import load_model, sample

    torch.set_num_threads(2)
    run = Path(args.run)
    results: dict = {"run": str(run)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hf"
        t0, c0 = time.perf_counter(), _cpu_s()
        info = export_run(run, out)
        results["export"] = {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(_cpu_s() - c0, 2),
                             "step": info["step"], "params": info["params"], "rope_layout": info["rope_layout"],
                             "bytes": sum(p.stat().st_size for p in out.iterdir())}
        ours = load_model(run / "train").model.eval()
        assert load_model(run / "train").step == info["step"]
        theirs = transformers.AutoModelForCausalLM.from_pretrained(str(out), local_files_only=True,
                                                                   dtype=torch.float32).eval()
        tok = transformers.AutoTokenizer.from_pretrained(str(out), local_files_only=True)
        seq = ours.cfg.seq_len

        val = sorted((run / "shards").glob("val-*.parquet"))
        docs = [d for p in val for d in pq.read_table(p, columns=["input_ids"]).column("input_ids").to_pylist()]
        flat = [t for d in docs for t in d]
        n = min(args.windows, len(flat) // seq)
        batch = torch.tensor([flat[i * seq:(i + 1) * seq] for i in range(n)], dtype=torch.long)
        with torch.no_grad():
            a, b = ours(batch), theirs(batch).logits
        diff = (a - b).abs()
        results["logits"] = {"windows": n, "seq_len": seq, "logits": a.numel(), "max_abs_diff": float(diff.max()),
                             "mean_abs_diff": float(diff.mean()), "max_abs_logit": float(a.abs().max()),
                             "argmax_agreement": float((a.argmax(-1) == b.argmax(-1)).double().mean())}

        # 8-token prompts at evenly spaced places of the validation tokens
        stride = max(1, (len(flat) - 8) // max(1, args.prompts))
        prompts = [flat[i * stride:i * stride + 8] for i in range(args.prompts) if i * stride + 8 <= len(flat)]
        same, tokens_same = 0, 0
        config = transformers.GenerationConfig(max_new_tokens=20, min_new_tokens=20, do_sample=False,
                                               eos_token_id=None, pad_token_id=0)
        for p in prompts:
            expected = sample(ours, p, max_new_tokens=20, temperature=0.0, eos_id=None)
            got = theirs.generate(torch.tensor([p]), generation_config=config,
                                  attention_mask=torch.ones(1, len(p), dtype=torch.long))[0, len(p):].tolist()
            same += got == expected
            tokens_same += sum(x == y for x, y in zip(got, expected, strict=True))
        results["greedy_20"] = {"prompts": len(prompts), "identical": same, "tokens_agreeing": tokens_same,
                                "tokens": 20 * len(prompts)}

        sp = spm.SentencePieceProcessor(model_file=str(run / "tokenizer" / "tokenizer.model"))
        sets = {"sample_udhr": ROOT / "examples" / "sample" / "udhr" / "udhr-sample.jsonl",
                "shared_udhr": Path(args.corpus) / "multilingual" / "udhr.jsonl"}
        results["tokenizer"] = {}
        for name, path in sets.items():
            if not path.is_file():
                results["tokenizer"][name] = "absent"
                continue
            texts = _udhr(path)
            a_ids = sp.encode([t for _, t in texts])
            b_ids = tok([t for _, t in texts]).input_ids
            bad = [lang for (lang, _), x, y in zip(texts, a_ids, b_ids, strict=True) if x != y]
            results["tokenizer"][name] = {"languages": len(texts), "identical": len(texts) - len(bad),
                                          "tokens": sum(map(len, a_ids)), "differing": bad[:20]}
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
