"""The dedup_lines stage through the CLI: planted template lines, thresholds, scope, determinism, --against."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from filters.document import Document
from pipelines.cli import main as curate
from pipelines.document import DOCUMENT_SCHEMA, to_row
from pipelines.io.parquet import write_table
from pipelines.runlayout import RunLayout, write_json_atomic
from tests.filters.dedup.textgen import prose

TEMPLATE = "Sign up for our newsletter and get the best stories every morning"  # in THRESHOLD pages
BELOW = "Follow the harbour lantern blog on every social network you like"  # in THRESHOLD - 1 pages
SHORT = "Share this page"  # in every page, but shorter than min_unit_chars
THRESHOLD = 5
ARGS = ["--set", f"dedup_lines.min_docs={THRESHOLD}", "--set", "dedup_lines.min_unit_chars=20",
        "--set", "dedup_lines.min_doc_chars=40"]


def _doc(id_: str, text: str, kind: str = "web", dataset: str = "web") -> Document:
    return Document(id=id_, text=text, source="gen", kind=kind, dataset=dataset)


def corpus() -> list[Document]:
    rng = random.Random(11)
    docs = []
    for i in range(12):
        lines = [SHORT, prose(rng, 40), prose(rng, 30)]
        if i < THRESHOLD:
            lines.insert(0, TEMPLATE.upper() if i % 2 else TEMPLATE)  # case differs: same normalized unit
        if i < THRESHOLD - 1:
            lines.append(BELOW)
        if i == 1:  # a unit repeated inside one document counts once
            lines += [BELOW] * 3
        docs.append(_doc(f"w{i:02d}", "\n".join(lines)))
    # a page that is nothing but the template and a short line: too little left
    docs.append(_doc("w99", f"{TEMPLATE}\n{SHORT}"))
    # books are out of scope by default: the template stays in them
    for i in range(THRESHOLD + 1):
        docs.append(_doc(f"b{i}", f"{TEMPLATE}\n{prose(rng, 50)}", kind="book", dataset="books"))
    # another web dataset: counted separately (scope per dataset), 2 pages only
    docs += [_doc(f"o{i}", f"{TEMPLATE}\n{prose(rng, 50)}", dataset="other") for i in range(2)]
    return docs


def write_input(run: Path, docs: list[Document], shards: int = 3) -> None:
    out = run / "dedup"  # the stage reads the latest documents stage: dedup when it ran
    out.mkdir(parents=True)
    rows = sorted((to_row(d) for d in docs), key=lambda r: r["id"])
    for s in range(shards):
        write_table(rows[s::shards], DOCUMENT_SCHEMA, out / f"part-{s:05d}.parquet")
    write_json_atomic(out / "_SUCCESS", {"fingerprint": f"test-{len(docs)}"})


def _run(run: Path, *extra: str) -> int:
    return curate(["dedup-lines", "--run", str(run), "--workers", "1", *ARGS, *extra])


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("dl") / "run"
    write_input(run, corpus())
    assert _run(run) == 0
    return run


def _kept(run: Path) -> dict[str, dict]:
    return {r["id"]: r for r in pq.read_table(run / "dedup_lines").to_pylist()}


def test_template_removed_at_threshold_kept_below(done):
    kept = _kept(done)
    web = {i: r for i, r in kept.items() if i.startswith("w")}
    assert len(web) == 12  # w99 dropped
    for i, r in web.items():
        assert TEMPLATE.lower() not in r["text"].lower(), i
    assert sum(BELOW in r["text"] for r in web.values()) == THRESHOLD - 1  # w00-w03
    assert all(r["text"].startswith(SHORT) for r in web.values())  # short lines never go
    removed = {i: (r["repeated_units_removed"], r["repeated_chars_removed"]) for i, r in web.items()}
    for i in range(12):
        units, chars = removed[f"w{i:02d}"]
        assert units == (1 if i < THRESHOLD else 0)
        assert chars == (len(TEMPLATE) + 1 if i < THRESHOLD else 0)


def test_paragraph_repeated_inside_one_document_counts_once(done):
    """BELOW is in 4 documents, and 3 times more in w01: 7 occurrences, 4 documents, under the threshold."""
    assert _kept(done)["w01"]["text"].count(BELOW) == 4
    units = pq.read_table(done / "rejected" / "dedup_lines" / "_units").to_pylist()
    assert [u["example"] for u in units] == [TEMPLATE]


def test_scope_and_kinds(done):
    kept = _kept(done)
    assert all(kept[f"b{i}"]["text"].startswith(TEMPLATE) for i in range(THRESHOLD + 1))  # books untouched
    assert all(kept[f"o{i}"]["text"].startswith(TEMPLATE) for i in range(2))  # 2 pages of dataset "other"
    assert kept["b0"]["repeated_units_removed"] == 0


def test_rejected_documents_and_units(done):
    rejected = pq.read_table(done / "rejected" / "dedup_lines").to_pylist()
    assert [(r["id"], r["reason"]) for r in rejected] == [("w99", "repeated_text")]
    assert rejected[0]["units_removed"] == 1
    (unit,) = pq.read_table(done / "rejected" / "dedup_lines" / "_units").to_pylist()
    assert unit["scope"] == "web" and unit["doc_count"] == THRESHOLD + 1  # w00-w04 and w99
    assert unit["example_id"] == "w00" and unit["sample_ids"] == ["w00", "w01", "w02", "w03", "w04"]
    success = json.loads((done / "dedup_lines" / "_SUCCESS").read_text())
    assert success["counts"] == {"in": 21, "out": 20, "rejected": 1}
    assert success["rejected_by_reason"] == {"repeated_text": 1}
    assert success["docs_by_scope"] == {"other": 2, "web": 13}
    assert success["beam_counters"]["dedup_lines.units_removed"] == THRESHOLD + 1


def test_later_stages_read_its_output(done):
    assert RunLayout(done).latest_documents_stage() == "dedup_lines"


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*.parquet"))
            if p.parts[len(run.parts)] in ("dedup_lines", "rejected")}


@pytest.mark.parametrize("runner", [["--workers", "1"], ["--workers", "2"], ["--runner", "dask", "--workers", "2"]],
                         ids=["again", "multi_processing", "dask"])
def test_deterministic_across_runs_and_runners(done, tmp_path, runner):
    if runner[1] == "dask":
        pytest.importorskip("dask.distributed")
    again = tmp_path / "again"
    shutil.copytree(done / "dedup", again / "dedup")
    assert curate(["dedup-lines", "--run", str(again), *ARGS, *runner]) == 0
    first, second = _files(done), _files(again)
    assert first.keys() == second.keys() and len(first) >= 6
    assert first == second


def test_against_a_previous_run(done, tmp_path):
    """3 new pages with the template: under the threshold alone, over it with the prior run's 6."""
    rng = random.Random(3)
    new = tmp_path / "new"
    write_input(new, [_doc(f"n{i}", f"{TEMPLATE}\n{prose(rng, 40)}") for i in range(3)]
                + [_doc("n9", prose(rng, 40))], shards=1)
    assert _run(new) == 0
    assert all(TEMPLATE in r["text"] for i, r in _kept(new).items() if i != "n9")
    assert _run(new, "--against", str(done)) == 0
    kept = _kept(new)
    assert not any(TEMPLATE in r["text"] for r in kept.values())
    (unit,) = pq.read_table(new / "rejected" / "dedup_lines" / "_units").to_pylist()
    assert unit["doc_count"] == THRESHOLD + 1 + 3 and unit["sample_ids"] == ["n0", "n1", "n2"]
    success = json.loads((new / "dedup_lines" / "_SUCCESS").read_text())
    assert success["docs_by_scope"] == {"other": 2, "web": 17}
    assert any(i.startswith("against:") for i in success["inputs"])


def test_against_refuses_incompatible_counts(done, tmp_path):
    new = tmp_path / "new"
    write_input(new, [_doc("n0", prose(random.Random(1), 40))], shards=1)
    assert _run(new, "--against", str(done), "--set", "dedup_lines.unit=paragraph") == 2
    assert not (new / "dedup_lines").exists()


def test_count_and_example_combines_in_a_test_pipeline():
    """The two CombinePerKey steps: (hashes, documents) arrays summed per hash across files and
    partitions; examples merged to the smallest ids whatever the order they arrive in."""
    import apache_beam as beam
    import numpy as np
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from pipelines.stages.dedup_lines import MergeExamples, SumUnitCounts

    arrays = [(("web", 0), (np.array([4, 2], np.uint64), np.array([1, 1]))),
              (("web", 0), (np.array([2, 8], np.uint64), np.array([3, 1]))),
              (("web", 1), (np.array([5], np.uint64), np.array([2])))]
    arrays += [(("web", 0), (np.array([8], np.uint64), np.array([1])))] * 40  # past the compaction size
    examples = [(("web", 2), (["d3", "d7"], "d3", "three")), (("web", 2), (["d1", "d9"], "d1", "one")),
                (("web", 2), (["d5"], "d5", "five"))]
    with TestPipeline() as p:
        counts = (
            p | "Arrays" >> beam.Create(arrays)
            | beam.CombinePerKey(SumUnitCounts())
            | beam.MapTuple(lambda k, hc: (k, hc[0].tolist(), hc[1].tolist()))
        )
        assert_that(counts, equal_to([(("web", 0), [2, 4, 8], [4, 1, 41]), (("web", 1), [5], [2])]), label="counts")
        merged = p | "Examples" >> beam.Create(examples) | beam.CombinePerKey(MergeExamples(3))
        assert_that(merged, equal_to([(("web", 2), (["d1", "d3", "d5"], "d1", "one"))]), label="examples")
