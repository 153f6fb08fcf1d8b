"""The dedup stage: hand-made duplicate sets through the Beam pipeline and the CLI."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from filters.dedup.components import Node
from filters.dedup.shingles import shingle_texts
from filters.dedup.verify import jaccard
from filters.document import Document
from pipelines.cli import main as curate
from pipelines.document import document_schema, to_row
from pipelines.io.parquet import write_table
from pipelines.runlayout import write_json_atomic
from pipelines.stages.dedup import ConnectedComponents
from tests.filters.dedup.textgen import edit, prose

SCHEMA = document_schema([pa.field("quality_score", pa.float64())])


def _doc(id_: str, text: str, url: str | None = None, score: float | None = None) -> Document:
    signals = {} if score is None else {"quality_score": score}
    return Document(id=id_, text=text, source="gen", kind="article", dataset="gen", url=url, signals=signals)


def hand_made() -> list[Document]:
    rng = random.Random(7)
    t = [prose(rng, 300) for _ in range(10)]
    b1 = edit(rng, t[1], 4)
    b2 = edit(random.Random(99), b1, 4)
    half = " ".join(t[4].split()[:150] + t[5].split()[:150])
    return [
        _doc("a0", t[0]),
        _doc("a1", "  " + t[0].upper().replace(".", "!") + " "),  # same normalized text
        _doc("b0", t[1]),
        _doc("b1", b1),
        _doc("b2", b2),  # near b1, not near b0: joins the cluster through the verified b1 edge
        _doc("c0", t[2], url="https://www.site.org/page?utm_source=feed"),
        _doc("c1", t[3], url="http://site.org/page#top"),  # same page by URL, other text
        _doc("d0", t[4]),
        _doc("d1", half),  # Jaccard ~1/3 with d0: not a duplicate
        _doc("e0", t[6], score=0.2),
        _doc("e1", edit(rng, t[6], 2), score=0.9),  # near e0 with a higher score: the keeper
        _doc("f0", "!!!"),
        _doc("f1", "???"),  # both normalize to the empty text
        _doc("g0", t[7]),
        _doc("g1", t[8]),
        _doc("g2", t[9]),
    ]


EXPECTED_REJECTED = {
    "a1": ("exact_duplicate", "a0"),
    "b1": ("near_duplicate", "b0"),
    "b2": ("near_duplicate", "b0"),
    "c1": ("url_duplicate", "c0"),
    "e0": ("near_duplicate", "e1"),
    "f1": ("exact_duplicate", "f0"),
}
EXPECTED_COUNTS = {"a0": 2, "b0": 3, "c0": 2, "d0": 1, "d1": 1, "e1": 2, "f0": 2, "g0": 1, "g1": 1, "g2": 1}


def write_ingest(run: Path, docs: list[Document], shards: int = 2) -> None:
    out = run / "ingest"
    out.mkdir(parents=True)
    rows = sorted((to_row(d, SCHEMA) for d in docs), key=lambda r: r["id"])
    for s in range(shards):
        write_table(rows[s::shards], SCHEMA, out / f"part-{s:05d}.parquet")
    write_json_atomic(out / "_SUCCESS", {"fingerprint": f"test-{len(docs)}"})


def _dedup(run: Path, *extra: str) -> int:
    return curate(["dedup", "--run", str(run), "--workers", "1", *extra])


@pytest.fixture(scope="module")
def deduped(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("dedup") / "run"
    write_ingest(run, hand_made())
    assert _dedup(run) == 0
    return run


def test_hand_made_preconditions():
    docs = {d.id: d for d in hand_made()}
    sets = dict(zip(docs, (shingle_texts([d.text]).shingles.set_of(0) for d in docs.values()), strict=True))
    assert jaccard(sets["b0"], sets["b1"]) >= 0.8 and jaccard(sets["b1"], sets["b2"]) >= 0.8
    assert jaccard(sets["b0"], sets["b2"]) < 0.8  # only the chain of verified edges links them
    assert jaccard(sets["d0"], sets["d1"]) < 0.5
    assert jaccard(sets["e0"], sets["e1"]) >= 0.8


def test_clusters_keepers_and_reasons(deduped):
    rejected = pq.read_table(deduped / "rejected" / "dedup").to_pylist()
    assert {r["id"]: (r["reason"], r["duplicate_of"]) for r in rejected} == EXPECTED_REJECTED
    kept = pq.read_table(deduped / "dedup").to_pylist()
    assert {r["id"]: r["dup_count"] for r in kept} == EXPECTED_COUNTS
    assert all(r["dup_cluster"] == r["id"] for r in kept)
    assert {r["id"]: r["quality_score"] for r in kept}["e1"] == 0.9  # input signal columns are kept
    names = pq.read_schema(next((deduped / "dedup").glob("part-*.parquet"))).names
    assert names[-3:] == ["quality_score", "dup_cluster", "dup_count"]


def test_success_edges_and_signatures(deduped):
    success = json.loads((deduped / "dedup" / "_SUCCESS").read_text())
    assert success["counts"] == {"in": 16, "out": 10, "rejected": 6}
    assert success["rejected_by_reason"] == {"exact_duplicate": 2, "near_duplicate": 3, "url_duplicate": 1}
    assert success["lsh"]["bands"] == 12 and success["lsh"]["rows"] == 9
    assert success["clusters"]["with_duplicates"] == 5 and success["clusters"]["largest"] == 3
    counters = success["beam_counters"]
    assert counters["dedup.verified_pairs"] >= 3
    assert counters.get("dedup.cc_residual_edges", 0) == 0
    edges = pq.read_table(deduped / "dedup" / "_edges").to_pylist()
    near = {(e["id_a"], e["id_b"]) for e in edges if e["kind"] == "near"}
    assert {("b0", "b1"), ("b1", "b2"), ("e1", "e0")} <= near
    assert all(e["jaccard"] >= 0.8 for e in edges if e["kind"] == "near")
    # signatures are row-aligned with the kept documents, shard by shard
    for part in sorted((deduped / "dedup").glob("part-*.parquet")):
        sig = pq.read_table(deduped / "dedup" / "_signatures" / part.name)
        assert sig.column("id").equals(pq.read_table(part, columns=["id"]).column("id"))
        assert all(len(s) == 4 * 112 for s in sig.column("signature").to_pylist())


def _files(run: Path) -> dict[str, bytes]:
    root = run
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.parquet"))
        if p.parts[len(root.parts)] in ("dedup", "rejected")
    }


def test_deterministic_across_runs_and_runners(deduped, tmp_path):
    """The same input gives byte-identical files in a second in-memory run and a 2-process run."""
    again = tmp_path / "again"
    shutil.copytree(deduped / "ingest", again / "ingest")
    assert curate(["dedup", "--run", str(again), "--workers", "2", "--set", "runner.mode=multi_processing"]) == 0
    first, second = _files(deduped), _files(again)
    assert first.keys() == second.keys() and len(first) >= 5
    assert first == second


def test_against_a_previous_run(deduped, tmp_path):
    rng = random.Random(7)
    t = [prose(rng, 300) for _ in range(10)]  # the same texts hand_made() starts from
    new = tmp_path / "new"
    write_ingest(new, [
        _doc("n0", t[0].lower()),  # exact duplicate of the prior run's a0
        _doc("n1", edit(random.Random(5), t[7], 3)),  # near duplicate of the prior run's g0
        _doc("n2", prose(random.Random(123), 300)),  # new
        _doc("n3", prose(random.Random(123), 300) + " Extra."),  # near duplicate of n2 in this run
    ], shards=1)
    assert _dedup(new, "--against", str(deduped)) == 0
    rejected = {r["id"]: (r["reason"], r["duplicate_of"]) for r in pq.read_table(new / "rejected" / "dedup").to_pylist()}
    assert rejected == {"n0": ("exact_duplicate", "a0"), "n1": ("near_duplicate", "g0"), "n3": ("near_duplicate", "n2")}
    assert pq.read_table(new / "dedup").column("id").to_pylist() == ["n2"]
    success = json.loads((new / "dedup" / "_SUCCESS").read_text())
    assert success["against"] == str(deduped) and any(i.startswith("against:") for i in success["inputs"])


def test_kinds_can_be_switched_off(deduped, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(deduped / "ingest", run / "ingest")
    assert _dedup(run, "--set", "dedup.near=false") == 0
    rejected = {r["id"]: r["reason"] for r in pq.read_table(run / "rejected" / "dedup").to_pylist()}
    assert rejected == {"a1": "exact_duplicate", "c1": "url_duplicate", "f1": "exact_duplicate"}
    assert not pq.read_table(run / "dedup" / "_edges").filter(pa.compute.field("kind") == "near").num_rows


def test_against_refuses_incompatible_signatures(deduped, tmp_path):
    new = tmp_path / "new"
    write_ingest(new, [_doc("n0", "some text here")], shards=1)
    assert _dedup(new, "--against", str(deduped), "--set", "dedup.num_perm=64") == 2
    assert not (new / "dedup").exists()


def _n(id_: str) -> Node:
    return Node(1, float("inf"), id_, int(id_[1:]), b"\0" * 16, 0)


@pytest.mark.parametrize("rounds", [0, 2])
def test_connected_components_transform(rounds):
    """A 30-node path whose smallest node sits at one end (diameter 29: not converged after 2 rounds,
    so the union-find on the residue must finish it), a star, and a separate pair."""
    path = [_n(f"n{i:03d}") for i in range(30)]
    star = [_n(f"n{i:03d}") for i in range(100, 106)]
    edges = [(path[i + 1], path[i]) for i in range(29)]
    edges += [(star[0], s) for s in star[1:]]
    edges += [(_n("n200"), _n("n201"))]
    expected = [(x.id, path[0].id) for x in path] + [(x.id, star[0].id) for x in star]
    expected += [("n200", "n200"), ("n201", "n200")]
    with TestPipeline() as p:
        labels = p | beam.Create(edges) | ConnectedComponents(rounds)
        assert_that(labels | beam.MapTuple(lambda node, label: (node.id, label.id)), equal_to(expected))


def test_exact_keys_round_trip_with_trailing_zero_bytes():
    from pipelines.stages.dedup import exact_words

    digests = [bytes(range(1, 16)) + b"\0", b"\0" * 16, bytes(range(16))]
    words = exact_words(digests)
    assert words.shape == (3, 2) and [w.tobytes() for w in words] == digests
