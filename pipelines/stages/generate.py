"""Generate: sample text from RUN/train's latest checkpoint, decoded with RUN/tokenizer/tokenizer.model
(a run in object storage: both read from the bucket, see pipelines/stages/train.py `model_files`).

    curate generate --run RUN --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--samples N]
"""

from __future__ import annotations

import argparse
import sys

from pipelines.config import JobConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", default="", help="text to continue (empty: start from <eos>)")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    parser.add_argument("--top-k", type=int, default=50, help="sample among the k likeliest tokens; 0: all")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")


def main(args: argparse.Namespace, config: JobConfig, beam_args: list[str]) -> int:
    if beam_args:
        print(f"curate generate: unknown arguments {' '.join(beam_args)}", file=sys.stderr)
        return 2
    from pipelines.runlayout import RunLayout
    from pipelines.stages.train import expected_fingerprint, model_files
    from tokenizer.train import MODEL_FILE
    from trainer.generate import generate_text

    layout = RunLayout(args.run)
    try:
        with model_files(layout.url) as (train_dir, tokenizer_dir):
            texts = generate_text(
                train_dir, tokenizer_dir / MODEL_FILE, args.prompt,
                tokenizer_fingerprint=expected_fingerprint(layout, layout.url), max_new_tokens=args.max_new_tokens,
                temperature=args.temperature, top_k=args.top_k or None, seed=args.seed, num_samples=args.samples,
                device=args.device,
            )
    except (FileNotFoundError, ValueError) as e:
        print(f"curate generate: {e}", file=sys.stderr)
        return 1
    for i, text in enumerate(texts):
        if len(texts) > 1:
            print(f"--- sample {i + 1}")
        print(text)
    return 0
