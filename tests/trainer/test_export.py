"""`curate export`: a tiny trained run exported and loaded back with `transformers` (offline, from the folder).

The run has a real tokenizer (tokenizer.train.train_bpe on the bundled UDHR sample and a Gutenberg book,
with its card and fingerprint), shards encoded with it, and a model trained by `curate train`."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from pipelines.cli import main
from trainer.config import ModelConfig
from trainer.hf_export import (
    HALVES,
    INTERLEAVED,
    ConversionError,
    detect_rope_layout,
    interleaved_to_halves,
    llama_config,
    reference_rope,
    to_llama_state_dict,
)

transformers = pytest.importorskip("transformers")
spm = pytest.importorskip("sentencepiece")

SETTINGS = ["--set", "train.model.d_model=32", "--set", "train.model.n_layers=2", "--set", "train.model.n_heads=4",
            "--set", "train.model.seq_len=64", "--set", "train.batch_size=4", "--set", "train.eval_interval=4",
            "--set", "train.log_interval=1", "--set", "train.warmup_steps=2", "--set", "train.checkpoint_interval=4",
            "--set", "train.keep_last=3", "--set", "train.lr=0.01"]
STEPS = 8
SPECIAL = {"pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3}


def _udhr(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return [(r.get("lang_iso639_3") or r["id"], r["text"]) for r in rows]


def _make_run(root: Path, sample_dir: Path, *, add_bos: bool = False) -> Path:
    """RUN/tokenizer (trained by curate's tokenizer trainer, with its card), RUN/shards (encoded with it)."""
    from filters.normalize import normalize_text
    from tokenizer.card import CARD_FILE, build_card
    from tokenizer.config import TokenizerConfig
    from tokenizer.sample import sentences
    from tokenizer.train import train_bpe

    udhr = [normalize_text(t) for _, t in _udhr(sample_dir / "udhr" / "udhr-sample.jsonl")]
    book = normalize_text((sample_dir / "books" / "pg11.txt").read_text(encoding="utf-8"))
    cfg = TokenizerConfig(vocab_size=600, num_threads=1)
    work = root / "tok-work"
    work.mkdir(parents=True)
    with open(work / "sample.txt", "w", encoding="utf-8") as f:
        for text in [*udhr, book]:
            for s in sentences(text, cfg.max_sentence_bytes):
                f.write(s + "\n")
    model_path = train_bpe(work / "sample.txt", work / "tok", cfg, 0).model_path
    tok_dir = root / "tokenizer"
    tok_dir.mkdir()
    shutil.copy(model_path, tok_dir / "tokenizer.model")
    model_bytes = (tok_dir / "tokenizer.model").read_bytes()
    card = build_card(model_bytes)
    (tok_dir / CARD_FILE).write_text(json.dumps(card))
    shutil.rmtree(work)

    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    paragraphs = [p.replace("\n", " ").strip() for p in book[20_000:120_000].split("\n\n") if len(p.strip()) > 40]
    docs = {"train": [("books", p) for p in paragraphs[30:]] + [("udhr", t) for t in udhr[4:]],
            "val": [("books", p) for p in paragraphs[:30]] + [("udhr", t) for t in udhr[:4]]}
    shards = root / "shards"
    shards.mkdir()
    entries, by_source = [], {}
    for split, items in docs.items():
        bos = [2] if add_bos else []
        ids = [np.array(bos + sp.encode(text) + [3], dtype=np.uint16) for _, text in items]
        name = f"{split}-00000-of-00001.parquet"
        pq.write_table(pa.table({
            "id": [f"{split}{i}" for i in range(len(ids))], "source": [s for s, _ in items],
            "input_ids": pa.array([x.tolist() for x in ids], pa.list_(pa.uint16())),
            "num_tokens": pa.array([len(x) for x in ids], pa.int32()),
        }), shards / name)
        entries.append({"file": name, "split": split, "rows": len(ids), "tokens": int(sum(map(len, ids))),
                        "sha256": hashlib.sha256((shards / name).read_bytes()).hexdigest()})
        if split == "train":
            for (src, _), x in zip(items, ids, strict=True):
                e = by_source.setdefault(src, {"rows": 0, "tokens": 0})
                e["rows"] += 1
                e["tokens"] += len(x)
    train_tokens = sum(e["tokens"] for e in by_source.values())
    for e in by_source.values():
        e["fraction"] = round(e["tokens"] / train_tokens, 6)
        e["target_fraction"] = 0.5
    (shards / "manifest.json").write_text(json.dumps({
        "format": "curate-shards/1", "dtype": "uint16", "shards": entries, "seed": 0,
        "tokenizer": {"fingerprint": card["fingerprint"], "vocab_size": card["vocab_size"], **SPECIAL,
                      "add_bos": add_bos},
        "totals": {s: {"rows": sum(e["rows"] for e in entries if e["split"] == s),
                       "tokens": sum(e["tokens"] for e in entries if e["split"] == s)} for s in ("train", "val")},
        "by_source": by_source,
        "mixture": {"weights": {"books": 1.0, "udhr": 1.0}, "tokens": None, "val_fraction": 0.05},
    }))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir: Path) -> Path:
    torch.set_num_threads(1)
    run = _make_run(tmp_path_factory.mktemp("export") / "tinyrun", sample_dir)
    assert main(["train", "--run", str(run), "--max-steps", str(STEPS), *SETTINGS]) == 0
    return run


@pytest.fixture(scope="module")
def exported(trained: Path) -> Path:
    assert main(["export", "--run", str(trained)]) == 0
    return trained / "export"


def _curate_model(run: Path, step: int):
    from trainer.checkpoint import checkpoint_path, load_checkpoint
    from trainer.model import Transformer

    ckpt = load_checkpoint(checkpoint_path(run / "train" / "checkpoints", step))
    model = Transformer(ModelConfig(**json.loads(ckpt["config"])["model"]), int(ckpt["meta"]["vocab_size"]))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def _hf_model(folder: Path):
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True,
                                                              torch_dtype=torch.float32)
    return model.eval()


def _batch(run: Path, seq_len: int) -> torch.Tensor:
    ids = pq.read_table(run / "shards" / "val-00000-of-00001.parquet").column("input_ids").to_pylist()
    flat = [t for doc in ids for t in doc]
    return torch.tensor([flat[i * seq_len:(i + 1) * seq_len] for i in range(3)], dtype=torch.long)


# ---- the exported folder in transformers ------------------------------------------------------------------


def test_folder_has_the_hugging_face_files(exported: Path):
    names = {p.name for p in exported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "generation_config.json", "README.md"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pth")) for n in names)  # never pickle
    config = json.loads((exported / "config.json").read_text())
    assert config["model_type"] == "llama" and config["tie_word_embeddings"] is True
    assert (config["bos_token_id"], config["eos_token_id"], config["pad_token_id"]) == (2, 3, 0)
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 2 and config["max_position_embeddings"] == 64
    special = json.loads((exported / "special_tokens_map.json").read_text())
    assert special == {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}
    assert not list(exported.parent.glob(".export.*"))  # no temporary folder left


def test_logits_equal_curates_model(trained: Path, exported: Path):
    ours = _curate_model(trained, STEPS)
    theirs = _hf_model(exported)
    assert type(theirs).__name__ == "LlamaForCausalLM"
    batch = _batch(trained, 64)
    with torch.no_grad():
        a = ours(batch)
        b = theirs(batch).logits
    assert a.shape == b.shape == (3, 64, 600)
    diff = float((a - b).abs().max())
    print(f"max |logit difference| = {diff:.2e} over {a.numel()} logits")
    assert diff < 1e-4
    assert theirs.lm_head.weight.data_ptr() == theirs.model.embed_tokens.weight.data_ptr()  # tied


def test_greedy_generation_gives_the_same_20_tokens(trained: Path, exported: Path):
    from trainer.generate import sample

    ours = _curate_model(trained, STEPS)
    theirs = _hf_model(exported)
    tok = transformers.AutoTokenizer.from_pretrained(str(exported), local_files_only=True)
    for prompt in ("Alice was beginning to", "Everyone has the right to", "The Queen said"):
        ids = tok(prompt).input_ids
        # no <eos> stop on either side, so that all 20 tokens are compared
        expected = sample(ours, ids, max_new_tokens=20, temperature=0.0, eos_id=None)
        config = transformers.GenerationConfig(max_new_tokens=20, min_new_tokens=20, do_sample=False,
                                               eos_token_id=None, pad_token_id=0, bos_token_id=2)
        out = theirs.generate(torch.tensor([ids]), generation_config=config,
                              attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        assert out[0, len(ids):].tolist() == expected, prompt
        assert len(expected) == 20


def test_generation_stops_at_eos(exported: Path):
    gen = json.loads((exported / "generation_config.json").read_text())
    assert gen["eos_token_id"] == 3 and gen["pad_token_id"] == 0
    tok = transformers.AutoTokenizer.from_pretrained(str(exported), local_files_only=True)
    assert (tok.eos_token, tok.eos_token_id, tok.bos_token_id, tok.pad_token_id, tok.unk_token_id) == ("<eos>", 3, 2, 0, 1)
    model = _hf_model(exported)
    assert model.generation_config.eos_token_id == 3

    class EosAtThirdStep(transformers.LogitsProcessor):
        def __call__(self, input_ids, scores):
            if input_ids.shape[1] == n_prompt + 2:
                scores[:, 3] = scores.max() + 10
            return scores

    ids = tok("Alice was").input_ids
    n_prompt = len(ids)
    out = model.generate(torch.tensor([ids]), max_new_tokens=15, do_sample=False,
                         logits_processor=transformers.LogitsProcessorList([EosAtThirdStep()]))
    assert out.shape[1] == n_prompt + 3 and out[0, -1].item() == 3  # stopped by the exported eos id


def _assert_same_ids(folder: Path, run: Path, texts: list[tuple[str, str]]) -> int:
    tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    sp = spm.SentencePieceProcessor(model_file=str(run / "tokenizer" / "tokenizer.model"))
    langs = [lang for lang, _ in texts]
    ours = sp.encode([t for _, t in texts])
    theirs = tok([t for _, t in texts]).input_ids
    bad = [lang for lang, a, b in zip(langs, ours, theirs, strict=True) if a != b]
    assert not bad, f"AutoTokenizer differs from SentencePiece on {len(bad)} of {len(texts)} languages: {bad[:10]}"
    for (_, text), ids in zip(texts[:5], ours, strict=False):
        assert tok.decode(ids) == sp.decode(ids) == text
    return len(texts)


def test_autotokenizer_gives_sentencepiece_ids_on_the_sample_udhr(trained: Path, exported: Path, sample_dir: Path):
    from tokenizer.export import EDGE_TEXTS

    texts = _udhr(sample_dir / "udhr" / "udhr-sample.jsonl")
    n = _assert_same_ids(exported, trained, texts + [(f"edge{i}", t) for i, t in enumerate(EDGE_TEXTS)])
    assert n >= 38


@pytest.mark.corpus
def test_autotokenizer_gives_sentencepiece_ids_on_every_shared_udhr_language(trained: Path, exported: Path,
                                                                             corpus_dir: Path):
    path = corpus_dir / "multilingual" / "udhr.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    texts = _udhr(path)
    n = _assert_same_ids(exported, trained, texts)
    print(f"AutoTokenizer == SentencePiece on {n} UDHR languages")
    assert n >= 300


def test_literal_special_token_text_is_text(exported: Path, trained: Path):
    tok = transformers.AutoTokenizer.from_pretrained(str(exported), local_files_only=True)
    sp = spm.SentencePieceProcessor(model_file=str(trained / "tokenizer" / "tokenizer.model"))
    text = "the end <eos> and <bos> here"
    assert tok(text).input_ids == sp.encode(text)
    assert 3 not in tok(text).input_ids


# ---- the command ------------------------------------------------------------------------------------------


def test_step_picks_a_checkpoint_and_the_card_names_run_data_and_losses(trained: Path, tmp_path: Path, capsys):
    out = tmp_path / "at-step-4"
    card_path = trained / "shards" / "README.md"  # the dataset card of `curate report`: its languages are kept
    card_path.write_text("---\nlanguage:\n- en\n- fr\nlicense: other\n---\n\n# shards\n")
    try:
        assert main(["export", "--run", str(trained), "--out", str(out), "--step", "4"]) == 0
    finally:
        card_path.unlink()
    assert "language:\n- en\n- fr" in (out / "README.md").read_text()
    assert "described in its dataset card" in (out / "README.md").read_text()
    assert main(["export", "--run", str(trained), "--out", str(out), "--step", "4"]) == 0  # replaces it
    info = json.loads((out / "curate_export.json").read_text())
    assert info["step"] == 4 and info["rope_layout"] == HALVES
    batch = _batch(trained, 64)
    with torch.no_grad():
        diff = (_curate_model(trained, 4)(batch) - _hf_model(out)(batch).logits).abs().max()
        other = (_curate_model(trained, STEPS)(batch) - _hf_model(out)(batch).logits).abs().max()
    assert diff < 1e-4 < other
    card = (out / "README.md").read_text()
    metrics = [json.loads(x) for x in (trained / "train" / "metrics.jsonl").read_text().splitlines()]
    at4 = next(m for m in metrics if m["step"] == 4)
    manifest = json.loads((trained / "shards" / "manifest.json").read_text())
    assert "tinyrun" in card and "step 4" in card
    assert f"{at4['loss']:.4f}" in card and f"{at4['val_loss']:.4f}" in card
    assert f"{manifest['totals']['train']['tokens']:,}" in card
    assert "| books |" in card and "| udhr |" in card and "Mixture weights: books 1, udhr 1" in card
    assert "library_name: transformers" in card

    capsys.readouterr()
    assert main(["export", "--run", str(trained), "--out", str(out), "--step", "5"]) == 1
    assert "no checkpoint of step 5" in capsys.readouterr().err
    # exporting again replaces the earlier export
    assert main(["export", "--run", str(trained), "--out", str(out)]) == 0
    assert json.loads((out / "curate_export.json").read_text())["step"] == STEPS
    # a folder that is not an export is never overwritten
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["export", "--run", str(trained), "--out", str(tmp_path / "mine")]) == 1
    assert "not a curate export" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_a_checkpoint_of_another_tokenizer_is_refused_naming_both(trained: Path, tmp_path: Path, capsys):
    from trainer.checkpoint import checkpoint_path, load_checkpoint

    run = tmp_path / "other"
    shutil.copytree(trained / "tokenizer", run / "tokenizer")
    ckpt = load_checkpoint(checkpoint_path(trained / "train" / "checkpoints", STEPS))
    ckpt["meta"]["fingerprint"] = "0000beef"
    (run / "train" / "checkpoints").mkdir(parents=True)
    torch.save(ckpt, checkpoint_path(run / "train" / "checkpoints", STEPS))
    assert main(["export", "--run", str(run)]) == 1
    err = capsys.readouterr().err
    fp = json.loads((trained / "tokenizer" / "tokenizer_card.json").read_text())["fingerprint"]
    assert "0000beef" in err and fp in err
    assert not (run / "export").exists()


def test_add_bos_runs_get_bos_from_the_tokenizer(tmp_path: Path, sample_dir: Path, trained: Path):
    from tokenizer.hf_folder import write_tokenizer_files

    model_bytes = (trained / "tokenizer" / "tokenizer.model").read_bytes()
    write_tokenizer_files(tmp_path, model_bytes, {**SPECIAL, "add_bos": True}, model_max_length=64)
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    assert tok("Everyone has the right").input_ids == [2, *sp.encode("Everyone has the right")]


# ---- the conversion, pure ---------------------------------------------------------------------------------


def test_curates_rotary_layout_is_detected_not_assumed():
    assert detect_rope_layout() == HALVES


def _interleaved_apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoFormer's layout with curate's tables (cos/sin: (T, D), frequency i at dims i and i + D/2)."""
    half = x.shape[-1] // 2
    c, s = cos[:, :half], sin[:, :half]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c - b * s, b * c + a * s], dim=-1).flatten(-2).to(x.dtype)


def test_the_permutation_turns_interleaved_into_halves():
    x = torch.randn(2, 3, 10, 16, dtype=torch.float64)
    perm = interleaved_to_halves(16)
    assert torch.allclose(reference_rope(x, 10000.0, INTERLEAVED)[..., perm], reference_rope(x[..., perm], 10000.0, HALVES))
    assert not torch.allclose(reference_rope(x, 10000.0, INTERLEAVED), reference_rope(x, 10000.0, HALVES))


@pytest.mark.parametrize("layout", [HALVES, INTERLEAVED])
def test_a_model_of_either_layout_converts_exactly(layout: str, monkeypatch):
    import trainer.model as tm

    if layout == INTERLEAVED:
        monkeypatch.setattr(tm, "apply_rope", _interleaved_apply_rope)
    assert detect_rope_layout() == layout
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=32, n_layers=2, n_heads=2, seq_len=24, init_std=0.2)  # attention that matters
    ours = tm.Transformer(cfg, 100).eval()
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**llama_config(cfg, 100, SPECIAL))).eval()
    x = torch.randint(0, 100, (2, 24))

    def max_diff(weights: dict[str, torch.Tensor]) -> float:
        missing, unexpected = hf.load_state_dict(weights, strict=False)
        assert set(missing) <= {"lm_head.weight"} and not unexpected
        hf.tie_weights()
        with torch.no_grad():
            return float((ours(x) - hf(x).logits).abs().max())

    assert max_diff(to_llama_state_dict(ours.state_dict(), cfg, 100, layout)) < 1e-4
    if layout == INTERLEAVED:  # without the permutation the logits differ: the test can fail
        assert max_diff(to_llama_state_dict(ours.state_dict(), cfg, 100, HALVES)) > 1e-3


def test_names_and_shapes_are_checked():
    cfg = ModelConfig(d_model=16, n_layers=1, n_heads=2, seq_len=8)
    from trainer.model import Transformer

    sd = Transformer(cfg, 50).state_dict()
    with pytest.raises(ConversionError, match="blocks.0.mlp.proj.weight: shape"):
        to_llama_state_dict({**sd, "blocks.0.mlp.proj.weight": torch.zeros(16, 3)}, cfg, 50)
    with pytest.raises(ConversionError, match=r"missing \['norm.weight'\]"):
        to_llama_state_dict({k: v for k, v in sd.items() if k != "norm.weight"}, cfg, 50)
    with pytest.raises(ConversionError, match="unexpected"):
        to_llama_state_dict({**sd, "blocks.0.attn.bias": torch.zeros(3)}, cfg, 50)
    with pytest.raises(ConversionError, match="not tied"):
        to_llama_state_dict({**sd, "lm_head.weight": torch.zeros(50, 16)}, cfg, 50)
    compiled = {f"_orig_mod.{k}": v for k, v in sd.items()}  # a torch.compile'd model's names
    assert set(to_llama_state_dict(compiled, cfg, 50)) == set(to_llama_state_dict(sd, cfg, 50))
