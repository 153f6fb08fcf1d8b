"""The filter stage: the Beam transform on hand-written documents, and ingest -> filter through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from filters.config import FilterConfig
from filters.document import Document
from pipelines.cli import main as curate
from pipelines.document import DOCUMENT_SCHEMA, to_row
from pipelines.io.parquet import write_table
from pipelines.stages.filter import OUTPUT_SCHEMA, REJECTED_OUTPUT_SCHEMA, Filter

PROSE = [
    "The river rose slowly through the night, and by morning the lower streets of the town were under water. "
    "Volunteers worked with the fire brigade to move families to the school on the hill. "
    "The mayor said that the new flood barrier had held for most of the evening. "
    "Engineers will inspect the damage to the old bridge over the coming days. "
    "Residents have been asked to boil their drinking water until further notice.",
    "The orchestra opened its season with a programme of music by young composers from the region. "
    "Critics praised the second piece, a short work for strings that the conductor had commissioned last year. "
    "Tickets for the remaining concerts are on sale at the box office and on the website of the hall. "
    "The director said that the season would end with a free open-air concert in the park. "
    "Write to tickets@hall.example with any questions about the programme.",
    "Der Gemeinderat hat am Dienstag über den neuen Radweg entlang des Flusses beraten. "
    "Die meisten Mitglieder sprachen sich für den Bau aus, weil der Weg die beiden Ortsteile verbindet. "
    "Die Kosten werden zum Teil vom Land übernommen, und die Arbeiten sollen im Frühjahr beginnen. "
    "Anwohner können ihre Vorschläge bis Ende des Monats im Rathaus abgeben. "
    "Der Bürgermeister sagte, dass das Projekt schon lange geplant sei und nun endlich umgesetzt werde.",
]
SPAM = "Buy cheap watches now\n" * 30
MENU = "\n".join(["Home", "About us", "Products", "Contact", "Login", "Cart", "Search"] * 3)

DOCS = {
    "good-en": (PROSE[0], "web", None),
    "good-en-2": (PROSE[1], "web", "https://hall.example/season"),
    "good-de": (PROSE[2], "web", None),
    "spam": (SPAM, "web", None),
    "menu": (MENU, "web", None),
    "blocked": (PROSE[0].replace("river", "lake"), "web", "https://www.pornhub.com/view"),
    "book-menu": (MENU, "book", None),  # web heuristics leave books alone
}
EXPECTED_REJECTED = {
    "spam": "gopher_quality:stop_words",  # 120 words, none of them a stop word
    "menu": "gopher_quality:too_few_words",
    "blocked": "url:blocked_domain",
}


def _docs() -> list[Document]:
    return [Document(id=i, text=t, source="test", kind=k, dataset=k, url=u) for i, (t, k, u) in DOCS.items()]


def test_transform_keeps_and_rejects(tmp_path):
    path = tmp_path / "part-00000.parquet"
    write_table([to_row(d, DOCUMENT_SCHEMA) for d in _docs()], DOCUMENT_SCHEMA, path)
    with TestPipeline() as p:
        kept, rejected = p | Filter([path], FilterConfig(batch_size=3))
        assert_that(kept | "KeptIds" >> beam.Map(lambda d: d.id),
                    equal_to(sorted(set(DOCS) - set(EXPECTED_REJECTED))), label="kept")
        assert_that(rejected | "Reasons" >> beam.Map(lambda r: (r.id, r.reason)),
                    equal_to(sorted(EXPECTED_REJECTED.items())), label="rejected")
        assert_that(kept | "Langs" >> beam.Map(lambda d: (d.id, d.signals.get("lang"))),
                    equal_to([("good-en", "en"), ("good-en-2", "en"), ("good-de", "de"), ("book-menu", "en")]),
                    label="langs")


@pytest.fixture(scope="module")
def filtered(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("filter")
    records = [{"id": i, "text": t, **({"url": u} if u else {})} for i, (t, k, u) in DOCS.items() if k == "web"]
    records.append({"id": "lorem", "text": PROSE[0] + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."})
    records.append({"id": "repeats", "text": "\n\n".join([PROSE[1]] * 2 + [PROSE[0]])})
    src = root / "pages.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = root / "run"
    assert curate(["ingest", "--run", str(run), "--input", f"pages={src}", "--kind", "web", "--workers", "1"]) == 0
    assert curate(["filter", "--run", str(run), "--workers", "1"]) == 0
    return run


def test_cli_writes_kept_documents_with_signal_columns(filtered):
    kept = pq.read_table(filtered / "filter").to_pylist()
    assert pq.read_schema(next((filtered / "filter").glob("part-*.parquet"))) == OUTPUT_SCHEMA
    by_text = {r["text"][:20]: r for r in kept}
    assert len(kept) == 3
    assert {r["lang"] for r in kept} == {"en", "de"}
    assert all(r["gopher_words"] > 50 and r["c4_sentences"] >= 5 for r in kept)
    hall = by_text[PROSE[1][:20]]
    assert hall["pii_email"] == 1 and "tickets@hall.example" not in hall["text"]


def test_cli_rejected_holds_every_dropped_document_and_success_lists_every_reason(filtered):
    rejected = pq.read_table(filtered / "rejected" / "filter").to_pylist()
    assert pq.read_schema(next((filtered / "rejected" / "filter").glob("part-*.parquet"))) == REJECTED_OUTPUT_SCHEMA
    reasons = sorted(r["reason"] for r in rejected)
    assert reasons == sorted([
        "gopher_quality:stop_words", "gopher_quality:too_few_words", "url:blocked_domain",
        "c4:lorem_ipsum", "gopher_repetition:dup_para_frac",
    ])
    repeats = next(r for r in rejected if r["reason"].startswith("gopher_repetition"))
    assert repeats["value"] == pytest.approx(1 / 3) and repeats["threshold"] == 0.3 and repeats["lang"] == "en"

    success = json.loads((filtered / "filter" / "_SUCCESS").read_text())
    assert success["counts"] == {"in": 8, "out": 3, "rejected": 5}
    by_reason: dict[str, int] = {}
    for r in reasons:
        by_reason[r] = by_reason.get(r, 0) + 1
    assert success["rejected_by_reason"] == by_reason
    assert success["source_stage"] == "ingest"
    assert success["rules"][:3] == ["url", "lid", "gopher_quality"]
    assert success["beam_counters"]["filter.rejected.gopher_quality"] == 2
    assert success["beam_counters"]["filter.pii.email"] == 1


def test_cli_config_turns_a_check_off(filtered, tmp_path):
    run = tmp_path / "run"
    (run / "ingest").parent.mkdir(parents=True, exist_ok=True)
    (run / "ingest").symlink_to(filtered / "ingest", target_is_directory=True)
    assert curate(["filter", "--run", str(run), "--workers", "1",
                   "--set", "filter.c4.lorem_ipsum=false", "--set", "filter.url.enabled=false"]) == 0
    success = json.loads((run / "filter" / "_SUCCESS").read_text())
    assert "c4:lorem_ipsum" not in success["rejected_by_reason"]
    assert "url:blocked_domain" not in success["rejected_by_reason"]
    assert success["counts"]["out"] == 5
