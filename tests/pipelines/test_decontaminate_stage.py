"""The decontaminate stage: the Beam transform, `curate decontaminate` and `curate run` with eval sets."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from filters.decontam import DecontamConfig, build_index
from pipelines.cli import main as curate
from pipelines.document import DOCUMENT_SCHEMA, Document, to_row
from pipelines.io.parquet import write_table
from pipelines.stages.decontaminate import Decontaminate

HELDOUT = ("Scientists at the observatory reported on Tuesday that the comet had broken into three pieces "
           "as it passed close to the sun, and that the fragments would be visible from the southern "
           "hemisphere until the end of the month.")
OTHER_ITEM = ("Parliament voted late last night to extend the fishing season by two weeks after a long debate "
              "about the health of the northern cod stocks and the livelihoods of coastal towns.")


def _corpus(n: int = 40, planted=(4, 17, 31)) -> list[dict]:
    rng = np.random.default_rng(0)
    vocab = ["the", "a", "river", "town", "council", "market", "bridge", "water", "school", "music", "road", "farm", "winter", "summer", "people", "said", "would", "could", "after", "before", "night", "morning"]
    docs = []
    for i in range(n):
        words = list(rng.choice(vocab, 300))
        text = " ".join(words[:150]) + (f" {HELDOUT} " if i in planted else " ") + " ".join(words[150:])
        docs.append({"id": f"d{i:02d}", "text": text})
    return docs


def test_transform_drops_exactly_the_planted_documents(tmp_path: Path):
    docs = [Document(id=r["id"], text=r["text"], source="t", kind="web") for r in _corpus()]
    part = tmp_path / "part-00000.parquet"
    write_table([to_row(d) for d in docs], DOCUMENT_SCHEMA, part)
    index = build_index({"news": [("n1", HELDOUT)]})
    index_path = tmp_path / "index.npz"
    index_path.write_bytes(index.to_bytes())
    with TestPipeline() as p:
        kept, rejected = p | Decontaminate([part], str(index_path), DecontamConfig(mode="drop"))
        assert_that(kept | "Ids" >> beam.Map(lambda d: d.id),
                    equal_to([f"d{i:02d}" for i in range(40) if i not in (4, 17, 31)]), label="kept")
        assert_that(rejected | "Why" >> beam.Map(lambda r: (r.id, r.reason, r.extra["eval_item"])),
                    equal_to([(f"d{i:02d}", "contaminated:news", "n1") for i in (4, 17, 31)]), label="rejected")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("decontam")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _corpus()))
    (root / "news.jsonl").write_text(json.dumps({"id": "n1", "text": HELDOUT}) + "\n"
                                     + json.dumps({"id": "n2", "text": OTHER_ITEM}) + "\n"
                                     + json.dumps({"id": "n3", "text": "too short"}) + "\n")
    run = root / "run"
    assert curate(["ingest", "--run", str(run), "--input", f"web={src}", "--kind", "text", "--workers", "1"]) == 0
    return root


@pytest.mark.parametrize("mode", ["remove", "drop"])
def test_cli_records_every_span_and_document(ingested: Path, tmp_path: Path, mode: str):
    run = tmp_path / "run"
    run.mkdir()
    (run / "ingest").symlink_to(ingested / "run" / "ingest", target_is_directory=True)
    assert curate(["decontaminate", "--run", str(run), "--workers", "1", "--mode", mode,
                   "--eval", f"news={ingested / 'news.jsonl'}", "--set", "decontaminate.min_piece_chars=20"]) == 0
    originals = {r["id"]: r["text"] for r in pq.read_table(ingested / "run" / "ingest").to_pylist()}
    kept = {r["id"]: r for r in pq.read_table(run / "decontaminate").to_pylist()}
    rejected = pq.read_table(run / "rejected" / "decontaminate").to_pylist()
    planted = {i for i, t in originals.items() if HELDOUT in t}
    assert len(planted) == 3
    assert {r["id"] for r in rejected} == planted
    assert all(r["reason"] == "contaminated:news" and r["eval_item"] == "n1" and r["eval_set"] == "news"
               for r in rejected)
    assert all(len(r["ngram"].split()) == 13 for r in rejected)
    for doc_id, text in originals.items():
        if doc_id not in planted:
            assert kept[doc_id]["text"] == text and kept[doc_id]["decontam_spans"] is None
    success = json.loads((run / "decontaminate" / "_SUCCESS").read_text())
    assert success["counts"]["in"] == 40
    assert success["index"]["sets"]["news"]["too_short"] == 1
    assert (run / "decontaminate" / "_ngram_index.npz").is_file()
    if mode == "drop":
        assert planted.isdisjoint(kept) and success["by_eval_set"]["news"] == {"documents": 3, "dropped_docs": 3}
        assert all(r["action"] == "dropped:contaminated" for r in rejected)
    else:
        assert planted <= set(kept) and success["by_eval_set"]["news"] == {"documents": 3, "removed_spans": 3}
        for r in rejected:
            original = originals[r["id"]]
            assert HELDOUT in original[r["span_start"] : r["span_end"]]
            assert r["location"].endswith(f"chars={r['span_start']}-{r['span_end']}")
            assert "comet" not in kept[r["id"]]["text"] and kept[r["id"]]["decontam_spans"] == 1
        assert success["rejected_by_reason"] == {"contaminated:news": 3}
        from pipelines.report import write_report

        page = write_report(run, card=False)["report"].read_text()
        assert "Decontamination (remove mode)" in page and "news" in page


def test_job_runs_decontaminate_after_dedup_and_refingerprints_on_eval_change(ingested: Path, tmp_path: Path,
                                                                              capsys):
    news = tmp_path / "news.jsonl"
    news.write_text(json.dumps({"id": "n1", "text": HELDOUT}) + "\n")
    job = tmp_path / "job.yaml"
    job.write_text(
        f"inputs: [{{path: {ingested / 'docs.jsonl'}, name: web, kind: text}}]\n"
        "stages: [ingest, dedup, decontaminate]\nreport: false\nrunner: {workers: 1}\n"
        f"eval_sets:\n  news: {{path: {news}}}\n"
        "decontaminate: {mode: drop}\n")
    run = tmp_path / "run"
    assert curate(["run", str(job), "--run", str(run)]) == 0
    assert json.loads((run / "decontaminate" / "_SUCCESS").read_text())["counts"]["out"] == 37
    assert curate(["run", str(job), "--run", str(run)]) == 0
    assert "[decontaminate] up to date" in capsys.readouterr().out
    news.write_text(json.dumps({"id": "n2", "text": OTHER_ITEM}) + "\n")  # new content, same path
    import os
    import time

    os.utime(news, (time.time() + 5, time.time() + 5))
    assert curate(["run", str(job), "--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert "[dedup] up to date" in out and "[decontaminate] running" in out
    assert json.loads((run / "decontaminate" / "_SUCCESS").read_text())["counts"]["out"] == 40


def test_decontaminate_without_eval_sets_is_a_config_error(tmp_path: Path, capsys):
    job = tmp_path / "job.yaml"
    job.write_text("inputs: [{path: x.jsonl}]\nstages: [ingest, decontaminate]\n")
    assert curate(["run", str(job), "--run", str(tmp_path / "run")]) == 2
    assert "decontaminate needs eval_sets" in capsys.readouterr().err
