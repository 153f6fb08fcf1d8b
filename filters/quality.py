"""Model-based quality: a fastText linear classifier between reference text and raw web text.

GPT-3 (Brown et al. 2020, appendix A) trained a logistic-regression classifier with WebText,
Wikipedia and books as positives and unfiltered Common Crawl as negatives, and kept crawl documents
the classifier scored as reference-like; DCLM (Li et al. 2024) showed a fastText bigram classifier
does this well and cheaply. Training cuts long documents into chunks of about `chunk_words` words so
a book gives many examples, holds out whole documents (by a stable hash of their id, so no chunk of a
held-out document is trained on), balances the two classes by down-sampling the larger one, and
reports document-level precision / recall of the positive class on the held-out documents.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import xxhash

from filters.config import QualityConfig
from filters.lid import load_fasttext
from filters.verdict import Drop

NAME = "quality"
POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def prepare(text: str, max_words: int | None = None) -> str:
    """Lower-cased tokens separated by single spaces: the classifier's view of a text."""
    tokens = _TOKEN_RE.findall(text.lower())
    if max_words is not None:
        tokens = tokens[:max_words]
    return " ".join(tokens)


def chunks(text: str, chunk_words: int) -> list[str]:
    tokens = _TOKEN_RE.findall(text.lower())
    return [" ".join(tokens[i : i + chunk_words]) for i in range(0, len(tokens), chunk_words)] if tokens else []


def is_holdout(doc_id: str, fraction: float, seed: int = 0) -> bool:
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", "surrogatepass"), seed=seed) % 10_000 < fraction * 10_000


class QualityModel:
    """A trained classifier; `scores` gives the probability that each text is reference-like."""

    def __init__(self, cfg: QualityConfig):
        if not cfg.model:
            raise ValueError("filter.quality.model: no model path given")
        self.cfg = cfg
        self.path = Path(cfg.model).expanduser()
        self._model = None

    def load(self) -> None:
        if self._model is None:
            self._model = load_fasttext(self.path)

    def scores(self, texts: list[str]) -> list[float]:
        self.load()
        if not texts:
            return []
        labels, probs = self._model.predict([prepare(t, self.cfg.max_words) for t in texts], k=-1)
        out = []
        for ls, ps in zip(labels, probs, strict=True):
            score = 0.0
            for label, p in zip(ls, ps, strict=True):
                if label == POSITIVE:
                    score = min(1.0, float(p))
            out.append(score)
        return out

    def check(self, score: float) -> Drop | None:
        limit = self.cfg.min_score
        if limit is not None and score < limit:
            return Drop(f"{NAME}:low_score", score, limit)
        return None


@dataclass
class TrainReport:
    train_examples: dict[str, int]
    holdout_documents: dict[str, int]
    precision: float
    recall: float
    f1: float
    accuracy: float
    threshold: float
    model: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _train_fasttext(train_file: str, out: str, cfg: dict[str, Any], seed: int) -> None:
    import fasttext

    model = fasttext.train_supervised(
        input=train_file,
        epoch=cfg["epoch"],
        lr=cfg["lr"],
        wordNgrams=cfg["word_ngrams"],
        dim=cfg["dim"],
        minCount=cfg["min_count"],
        bucket=200_000,
        thread=1,  # deterministic
        seed=seed,
        verbose=0,
    )
    if out.endswith(".ftz.tmp"):
        model.quantize(input=train_file, retrain=False, cutoff=100_000)
    model.save_model(out)


def train_classifier(
    positives: Iterable[tuple[str, str]],
    negatives: Iterable[tuple[str, str]],
    out: str | os.PathLike[str],
    cfg: QualityConfig,
    seed: int = 0,
) -> TrainReport:
    """Train on (doc id, text) pairs and save the model to `out` (quantized when it ends in .ftz)."""
    rng = random.Random(seed)
    train: dict[str, list[str]] = {POSITIVE: [], NEGATIVE: []}
    held: dict[str, list[str]] = {POSITIVE: [], NEGATIVE: []}
    for label, docs in ((POSITIVE, positives), (NEGATIVE, negatives)):
        for doc_id, text in docs:
            if is_holdout(doc_id, cfg.holdout_fraction, seed):
                held[label].append(text)
            else:
                train[label].extend(chunks(text, cfg.chunk_words))
    for label in train:
        if not train[label]:
            raise ValueError(f"no training text for {label.removeprefix('__label__')} (check the input globs)")
    for label in held:
        if not held[label]:
            raise ValueError(
                f"no held-out document for {label.removeprefix('__label__')}: give more documents "
                "or a larger holdout_fraction"
            )
    # Balance the classes (down-sample the larger), then cap.
    n = min(len(v) for v in train.values())
    if cfg.max_examples_per_class is not None:
        n = min(n, cfg.max_examples_per_class)
    lines = []
    for label, examples in train.items():
        rng.shuffle(examples)
        lines.extend(f"{label} {ex}" for ex in examples[:n])
    rng.shuffle(lines)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp_out = out.with_name(f".{out.name}.tmp")
        # fastText trains in a fresh process: in a long-lived one (a test session, a worker that loaded
        # other native libraries) the same input and seed now and then diverged to "Encountered NaN".
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(_train_fasttext, str(train_file), str(tmp_out), asdict(cfg), seed).result()
    tmp_out.replace(out)
    model = load_fasttext(out)

    # Document-level evaluation on the held-out documents, as the filter scores documents.
    qm = QualityModel(QualityConfig(model=str(out), max_words=cfg.max_words))
    qm._model = model
    threshold = cfg.min_score if cfg.min_score is not None else 0.5
    tp = fp = fn = tn = 0
    for label, texts in held.items():
        for score in qm.scores(texts):
            predicted = score >= threshold
            if label == POSITIVE:
                tp += predicted
                fn += not predicted
            else:
                fp += predicted
                tn += not predicted
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TrainReport(
        train_examples={"positive": n, "negative": n},
        holdout_documents={"positive": len(held[POSITIVE]), "negative": len(held[NEGATIVE])},
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        accuracy=round((tp + tn) / max(1, tp + tn + fp + fn), 4),
        threshold=threshold,
        model=str(out),
    )
