"""`curate report`: the page has every section with an image and a numbers table, absent stages give a
'not run' note, the dataset card names the shards; headless Chromium loads the page with every image.

Two run folders. `sample_run` is real from ingest to tokenize: `curate run` on the bundled sample (the
demo job without training), and its page is checked number by number against the stages' own files.
`full_run` is real for ingest (`curate ingest` on a tiny fixture) and hand-made for the later stages, in
the formats they write, so that exact numbers (a cluster of two, a domain with and without `www.`, a
training log cut by a crash) can be asserted.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import pipelines.report as report_package
from pipelines.cli import main as curate
from pipelines.document import document_schema, rejected_schema
from pipelines.io.parquet import write_table
from pipelines.report import write_report
from pipelines.report.data import gather
from pipelines.report.formatting import fmt_bytes
from pipelines.report.page import render_page
from pipelines.runlayout import RunLayout, write_json_atomic
from tests.pipelines.io.warcfixtures import html_page, write_warc

DEMO_JOB = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"
SECTIONS = ["stages", "funnel", "rejections", "languages", "lengths", "duplicates", "domains", "mixture",
            "tokenizer", "training"]
PNG = b"\x89PNG\r\n\x1a\n"
DUPLICATED = "This exact article appears twice in the input, so dedup keeps one copy of it. " * 3


# ---- a run folder -------------------------------------------------------------------------------------


def _inputs(root: Path) -> Path:
    d = root / "in"
    (d / "web").mkdir(parents=True)
    pages = [(f"https://{host}/p{i}", html_page(f"Page {i}", f"Page {i} of {host} talks about ships and the "
                                                f"sea, with words enough for a paragraph. {'More. ' * i}"),
              "text/html")
             for i, host in enumerate(["www.ships.example", "ships.example", "ships.example", "sea.example",
                                       "news.example", "news.example"])]
    pages.append(("https://x.example/f.pdf", b"%PDF-1.4", "application/pdf"))
    write_warc(d / "web" / "a.warc.gz", pages)
    lines = [{"text": f"Article {i}: " + "A sentence about the harbour and its boats. " * (3 + 5 * i)}
             for i in range(6)]
    lines += [{"text": DUPLICATED}, {"text": DUPLICATED}, {"text": "Artikel über die Häfen und Schiffe. " * 6}]
    (d / "articles.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n")
    (d / "book.txt").write_text("A long book about the sea.\n\n" + "It was a dark and stormy night. " * 300)
    return d


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_table(rows, schema, path)


def _success(run: Path, stage: str, rows_in: int, rows_out: int, reasons: dict[str, int], **extra) -> None:
    write_json_atomic(run / stage / "_SUCCESS", {
        "stage": stage, "counts": {"in": rows_in, "out": rows_out, "rejected": sum(reasons.values())},
        "rejected_by_reason": reasons, "elapsed_s": 1.5, "fingerprint": f"{stage}-fp", **extra})


def fake_later_stages(run: Path) -> None:
    """Filter, dedup, tokenizer, tokenizer-eval, tokenize and train outputs built from RUN/ingest."""
    docs = pq.read_table(run / "ingest").to_pylist()
    # filter: German text gets lang=de, the rest en; short documents fail a Gopher rule, one web page a URL rule
    filt_schema = document_schema([pa.field("lang", pa.string()), pa.field("lang_score", pa.float64())])
    rej_schema = rejected_schema([pa.field("lang", pa.string()), pa.field("value", pa.float64())])
    kept, rejected = [], []
    for d in docs:
        lang = "de" if "Häfen" in d["text"] else "en"
        if len(d["text"]) < 150:
            rejected.append({**d, "reason": "gopher_quality:too_few_words", "snippet": d["text"][:50],
                             "lang": lang, "value": float(len(d["text"].split()))})
        elif (d["url"] or "").endswith("/p4"):
            rejected.append({**d, "reason": "url:blocklist", "snippet": "", "lang": lang, "value": None})
        else:
            kept.append({**d, "lang": lang, "lang_score": 0.9})
    _write(run / "filter" / "part-00000.parquet", kept, filt_schema)
    _write(run / "rejected" / "filter" / "part-00000.parquet", rejected, rej_schema)
    reasons: dict[str, int] = defaultdict(int)
    for r in rejected:
        reasons[r["reason"]] += 1
    _success(run, "filter", len(docs), len(kept), dict(reasons), config={"filter": {
        "lid": {"enabled": True, "min_score": 0.65}, "quality": {"enabled": True, "model": None},
        "c4": {"enabled": False}}})
    # dedup: clusters of identical text, the smallest id kept with its cluster size
    clusters: dict[str, list[dict]] = defaultdict(list)
    for d in kept:
        clusters[d["text"]].append(d)
    dd_schema = document_schema([filt_schema.field("lang"), filt_schema.field("lang_score"),
                                 pa.field("dup_cluster", pa.string()), pa.field("dup_count", pa.int32())])
    dd_kept, dd_rej = [], []
    for members in clusters.values():
        members.sort(key=lambda d: d["id"])
        dd_kept.append({**members[0], "dup_cluster": members[0]["id"], "dup_count": len(members)})
        dd_rej += [{**m, "reason": "exact_duplicate", "snippet": "", "duplicate_of": members[0]["id"]}
                   for m in members[1:]]
    _write(run / "dedup" / "part-00000.parquet", dd_kept, dd_schema)
    _write(run / "rejected" / "dedup" / "part-00000.parquet", dd_rej,
           rejected_schema([pa.field("duplicate_of", pa.string())]))
    _success(run, "dedup", len(kept), len(dd_kept), {"exact_duplicate": len(dd_rej)} if dd_rej else {})
    # tokenizer card and its evaluation
    (run / "tokenizer").mkdir()
    write_json_atomic(run / "tokenizer" / "tokenizer_card.json", {
        "format": "curate-tokenizer/1", "fingerprint": "ab" * 32, "model_type": "bpe", "vocab_size": 512,
        "byte_fallback": True, "special": {"pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3},
        "sample": {"docs": 9, "bytes": 20000, "by_dataset": {
            "web": {"docs": 4, "bytes": 2000, "share": 0.1}, "articles": {"docs": 4, "bytes": 8000, "share": 0.4},
            "book": {"docs": 1, "bytes": 10000, "share": 0.5}}}})
    _success(run, "tokenizer", 9, 9, {}, config={"tokenizer": {"language_field": "lang"}, "seed": 0})
    (run / "tokenizer_eval").mkdir()
    write_json_atomic(run / "tokenizer_eval" / "eval.json", {
        "by_dataset": {"web": {"docs": 2, "bytes": 4000, "tokens": 1000, "bytes_per_token": 4.0},
                       "articles": {"docs": 3, "bytes": 3300, "tokens": 1000, "bytes_per_token": 3.3}},
        "by_language": {"en": {"docs": 5, "bytes": 7300, "tokens": 2000, "bytes_per_token": 3.65}},
        "overall": {"docs": 5, "bytes": 7300, "tokens": 2000, "bytes_per_token": 3.65}})
    _success(run, "tokenizer_eval", 5, 5, {})
    # shards + manifest: every kept document once, token ids made up from the bytes
    shards_dir = run / "shards"
    shards_dir.mkdir()
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("input_ids", pa.list_(pa.uint16())),
                        ("num_tokens", pa.int32())])
    split_rows: dict[str, list[dict]] = {"train": [], "val": []}
    for i, d in enumerate(dd_kept):
        ids = [b % 500 + 4 for b in d["text"].encode()[::4]] + [3]
        split_rows["val" if i % 5 == 0 else "train"].append(
            {"id": d["id"], "source": d["dataset"], "input_ids": ids, "num_tokens": len(ids)})
    shards, totals, by_source = [], {}, defaultdict(lambda: {"rows": 0, "tokens": 0})
    for split, rows in split_rows.items():
        name = f"{split}-00000-of-00001.parquet"
        _write(shards_dir / name, rows, schema)
        tokens = sum(r["num_tokens"] for r in rows)
        shards.append({"file": name, "split": split, "rows": len(rows), "tokens": tokens,
                       "sha256": hashlib.sha256((shards_dir / name).read_bytes()).hexdigest()})
        totals[split] = {"rows": len(rows), "tokens": tokens}
        if split == "train":
            for r in rows:
                by_source[r["source"]]["rows"] += 1
                by_source[r["source"]]["tokens"] += r["num_tokens"]
    total = sum(v["tokens"] for v in by_source.values())
    targets = {"web": 0.5, "articles": 0.3, "book": 0.2}
    manifest = {
        "format": "curate-shards/1", "dtype": "uint16", "seed": 0, "shards": shards, "totals": totals,
        "tokenizer": {"fingerprint": "ab" * 32, "vocab_size": 512, "pad_id": 0, "unk_id": 1, "bos_id": 2,
                      "eos_id": 3, "add_bos": False},
        "by_source": {k: {**v, "fraction": v["tokens"] / total, "target_fraction": targets.get(k, 0.0),
                          "natural_tokens": v["tokens"]}
                      for k, v in sorted(by_source.items())},
    }
    write_json_atomic(shards_dir / "manifest.json", manifest)
    _success(run, "shards", len(dd_kept), len(dd_kept), {})
    # train metrics: a falling loss, validation every 10 steps, and a line cut by a crash
    (run / "train").mkdir()
    lines = []
    for step in range(1, 41):
        row = {"step": step, "loss": 6.0 - 0.08 * step, "lr": 3e-3 * min(1, step / 10), "tokens": 2048 * step,
               "tokens_per_s": 5000.0}
        if step % 10 == 0:
            row["val_loss"] = 6.1 - 0.075 * step
        lines.append(json.dumps(row))
    write_json_atomic(run / "train" / "config.json", {
        "params": 1_234_567, "device": "cpu", "world_size": 1, "tokens_per_step": 2048,
        "train": {"model": {"d_model": 64, "n_layers": 2, "n_heads": 2, "seq_len": 128}}})
    (run / "train" / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 41, "lo')


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    inputs = _inputs(root)
    run = root / "ingested"
    assert curate(["ingest", "--run", str(run), "--input", f"web={inputs}/web/*.warc.gz",
                   "--input", f"articles={inputs}/articles.jsonl", "--input", f"book={inputs}/book.txt"]) == 0
    return run


@pytest.fixture(scope="module")
def full_run(ingested: Path, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("full") / "run"
    shutil.copytree(ingested, run)
    fake_later_stages(run)
    assert curate(["report", "--run", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    """The demo job on the bundled sample, every stage but training (a smaller vocabulary to stay fast);
    `curate run` writes the report at its end."""
    run = tmp_path_factory.mktemp("sample") / "run"
    assert curate(["run", str(DEMO_JOB), "--run", str(run), "--set",
                   "stages=[ingest, filter, dedup, tokenizer, tokenizer_eval, tokenize]",
                   "--set", "tokenizer.vocab_size=800"]) == 0
    return run


# ---- helpers ------------------------------------------------------------------------------------------


def _section(page: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', page, re.S)
    assert m, f"no section {sid}"
    return m.group(1)


def _images(fragment: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', fragment)]


def _cells(fragment: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", fragment, re.S)]


# ---- tests --------------------------------------------------------------------------------------------


def test_every_section_has_a_png_and_a_numbers_table(full_run):
    page = (full_run / "report" / "index.html").read_text()
    nav = re.search(r"<nav>(.*?)</nav>", page, re.S).group(1)
    for sid in SECTIONS:
        assert f'href="#{sid}"' in nav
        body = _section(page, sid)
        assert "Not run" not in body, sid
        assert '<table class="numbers">' in body, sid
        if sid != "stages":
            images = _images(body)
            assert images, sid
            for png in images:
                assert png.startswith(PNG) and len(png) > 1000, sid
    # self-contained: no script, no external resource
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:|#)', page)


def test_the_numbers_match_the_run(full_run):
    page = (full_run / "report" / "index.html").read_text()
    ingest = json.loads((full_run / "ingest" / "_SUCCESS").read_text())
    funnel = _cells(_section(page, "funnel"))
    assert funnel[:2] == ["input records", f"{ingest['counts']['in']}"]
    kept = pq.read_table(full_run / "dedup", columns=["text"])
    text_bytes = pc.sum(pc.binary_length(kept.column("text"))).as_py()
    dedup_row = funnel[funnel.index("dedup"): funnel.index("dedup") + 8]
    assert dedup_row[1] == str(kept.num_rows)
    assert dedup_row[4] == (f"{text_bytes / 1000:,.1f} KB" if text_bytes >= 1000 else f"{text_bytes} B")
    rejections = _cells(_section(page, "rejections"))
    assert "non_text_payload:application/pdf" in rejections and "gopher_quality:too_few_words" in rejections
    assert "url:blocklist" in rejections and "exact_duplicate" in rejections
    languages = _cells(_section(page, "languages"))
    assert languages[0] == "en" and "de" in languages
    dups = _cells(_section(page, "duplicates"))
    assert dups[dups.index("2"):dups.index("2") + 3] == ["2", "1", "2"]  # one cluster of two documents
    domains = _cells(_section(page, "domains"))
    assert domains[:4] == ["ships.example", "3", "3", "100.0%"]  # www. folded into the domain
    assert "news.example" in domains  # one of its two pages was rejected by the URL rule
    mixture = _cells(_section(page, "mixture"))
    assert "50.0%" in mixture  # the web target
    tok = _cells(_section(page, "tokenizer"))
    assert "4.000" in tok and "3.300" in tok  # bytes per token of web and articles
    training = _cells(_section(page, "training"))
    assert training[:2] == ["10", "5.350"]  # first validation loss; the cut last line is skipped


def test_dataset_card(full_run):
    text = (full_run / "shards" / "README.md").read_text()
    assert text.startswith("---\n")
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == "other"
    assert meta["language"] == ["en", "de"]
    files = {f["split"]: f["path"] for f in meta["configs"][0]["data_files"]}
    assert files == {"train": ["train-00000-of-00001.parquet"], "validation": ["val-00000-of-00001.parquet"]}
    for path in files.values():
        assert (full_run / "shards" / path[0]).is_file()
    for heading in ("## License", "## Contents", "## Sources", "### Filters", "### Deduplication",
                    "### Tokenizer", "### Mixture and token counts"):
        assert heading in body
    assert "| gopher_quality:too_few_words |" in body and "| exact_duplicate | 1 |" in body
    assert "Rules on: lid. Off: c4, quality." in body
    manifest = json.loads((full_run / "shards" / "manifest.json").read_text())
    assert f"{manifest['totals']['train']['tokens']:,} train tokens" in body


def test_stages_that_did_not_run_get_a_note(ingested, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ingested, run)
    written = write_report(RunLayout(run))  # what `curate run` passes
    assert set(written) == {"report"}  # no shards, no card
    page = written["report"].read_text()
    for sid in ("funnel", "rejections", "lengths", "domains"):
        assert "Not run" not in _section(page, sid) and _images(_section(page, sid))
    for sid in ("languages", "duplicates", "mixture", "tokenizer", "training"):
        assert "Not run:" in _section(page, sid), sid
    assert "Not run: the filter stage did not run." in _section(page, "languages")

    empty = tmp_path / "empty"
    empty.mkdir()
    page = write_report(empty)["report"].read_text()
    for sid in SECTIONS[1:]:  # all but the stage table
        assert "Not run:" in _section(page, sid) and not _images(_section(page, sid)), sid


def test_unreadable_files_are_reported_not_fatal(full_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    (run / "shards" / "manifest.json").write_text("{not json")
    part = run / "dedup" / "part-00000.parquet"
    part.write_bytes(part.read_bytes()[:100])
    page = write_report(run)["report"].read_text()
    assert "Could not be read: manifest: JSONDecodeError" in _section(page, "mixture")
    assert "Could not be read: dedup documents: ArrowInvalid" in _section(page, "duplicates")
    assert "JSONDecodeError" in _section(page, "stages")
    assert _images(_section(page, "training")) and _images(_section(page, "languages"))  # the rest is there
    assert curate(["report", "--run", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_large_stages_are_sampled_and_marked(full_run):
    data = gather(full_run, sample_rows=2, exact_rows=2)
    ingest = data.scans["ingest"]
    assert not ingest.exact and ingest.scanned_rows < ingest.rows and len(ingest.lengths) == 2
    assert data.funnel[1].documents == ingest.rows and not data.funnel[1].exact
    page = render_page(data)
    assert "≈" in _section(page, "funnel") and f"sample (ingest: 2 of {ingest.rows:,}" in _section(page, "funnel")


def test_report_matches_the_real_stage_outputs_of_the_sample(sample_run):
    run = sample_run
    page = (run / "report" / "index.html").read_text()
    success = {d: json.loads((run / d / "_SUCCESS").read_text())
               for d in ("ingest", "filter", "dedup", "tokenizer", "tokenizer_eval", "shards")}
    # every stage that ran is "done" with the counts of its own _SUCCESS (tokenize from RUN/shards)
    stages = _cells(_section(page, "stages"))
    for shown, folder in (("ingest", "ingest"), ("filter", "filter"), ("dedup", "dedup"),
                          ("tokenizer", "tokenizer"), ("tokenizer-eval", "tokenizer_eval"), ("tokenize", "shards")):
        i = stages.index(shown)
        counts = success[folder]["counts"]
        assert stages[i + 1: i + 5] == ["done", f"{counts['in']:,}", f"{counts['out']:,}",
                                        f"{counts['rejected']:,}"], shown
        assert stages[i + 6] == success[folder]["fingerprint"]
    assert stages[stages.index("train") + 1] == "not run"
    for sid in ("funnel", "rejections", "languages", "lengths", "duplicates", "domains", "mixture", "tokenizer"):
        body = _section(page, sid)
        assert "Not run" not in body and "Could not be read" not in body, sid
        assert all(png.startswith(PNG) for png in _images(body)) and _images(body), sid
    assert "Not run: the train stage did not run" in _section(page, "training")
    # funnel: documents and text bytes of each documents stage, as in its Parquet parts
    funnel = _cells(_section(page, "funnel"))
    assert funnel[:2] == ["input records", f"{success['ingest']['counts']['in']:,}"]
    for stage in ("ingest", "filter", "dedup"):
        table = pq.read_table(run / stage, columns=["text"])
        row = funnel[funnel.index(stage): funnel.index(stage) + 8]
        assert row[1] == f"{table.num_rows:,}", stage
        assert row[4] == fmt_bytes(pc.sum(pc.binary_length(table.column("text"))).as_py()), stage
    manifest = json.loads((run / "shards" / "manifest.json").read_text())
    row = funnel[funnel.index("tokenize"): funnel.index("tokenize") + 8]
    totals = manifest["totals"]
    assert row[1] == f"{totals['train']['rows'] + totals['val']['rows']:,}"
    assert row[6] == f"{totals['train']['tokens'] + totals['val']['tokens']:,}"
    # rejections: every reason of every rejecting stage, counted from RUN/rejected/<stage>
    rejections = _cells(_section(page, "rejections"))
    for stage in ("ingest", "filter", "dedup"):
        reasons = pq.read_table(run / "rejected" / stage, columns=["reason"]).column("reason").to_pylist()
        for reason in set(reasons):
            i = next(i for i in range(0, len(rejections), 5) if rejections[i:i + 2] == [stage, reason])
            assert rejections[i + 3] == f"{reasons.count(reason):,}", (stage, reason)
    # languages: every language label the kept documents carry
    languages = _cells(_section(page, "languages"))
    kept_langs = set(pq.read_table(run / "dedup", columns=["lang"]).column("lang").to_pylist())
    assert len(kept_langs) > 10 and kept_langs <= set(languages)
    # duplicates: the kept documents per cluster size, from dup_count
    dups = _cells(_section(page, "duplicates"))
    sizes = pq.read_table(run / "dedup", columns=["dup_count"]).column("dup_count").to_pylist()
    assert max(sizes) > 1  # the sample has two editions of one book and repeated pages
    for k in set(sizes):
        i = next(i for i in range(0, len(dups) - 2) if dups[i] == str(k))
        assert dups[i + 1: i + 3] == [f"{sizes.count(k):,}", f"{k * sizes.count(k):,}"], k
    # mixture: train tokens and rows per source from the manifest
    mixture = _cells(_section(page, "mixture"))
    for source, entry in manifest["by_source"].items():
        i = mixture.index(source)
        assert mixture[i + 1: i + 3] == [f"{entry['rows']:,}", f"{entry['tokens']:,}"], source
    # tokenizer: bytes per token of each source on held-out documents, from eval.json
    ev = json.loads((run / "tokenizer_eval" / "eval.json").read_text())
    tok = _cells(_section(page, "tokenizer"))
    for source, entry in ev["by_dataset"].items():
        assert f"{entry['bytes_per_token']:.3f}" in tok[tok.index(source):], source
    # the dataset card names the real shards, split by split
    text = (run / "shards" / "README.md").read_text()
    meta = yaml.safe_load(text.split("---\n", 2)[1])
    files = {f["split"]: sorted(f["path"]) for f in meta["configs"][0]["data_files"]}
    assert files == {split: sorted(s["file"] for s in manifest["shards"] if s["split"] == prefix)
                     for prefix, split in (("train", "train"), ("val", "validation"))}
    assert f"{totals['train']['tokens']:,} train tokens" in text


def _chromium() -> str | None:
    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
});
</script>"""


@pytest.mark.skipif(_chromium() is None, reason="no chromium / chromium-browser / google-chrome binary")
def test_chromium_loads_the_page_with_every_image(full_run, tmp_path):
    page = (full_run / "report" / "index.html").read_text()
    n_images = len(_images(page))
    probe = tmp_path / "probe.html"  # the page plus a script that counts decoded images (test only)
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
           probe.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    m = re.search(r'data-images="(\d+)/(\d+)"', dom)
    assert m, f"page did not load in Chromium: {dom[:500]!r}"
    assert (int(m.group(1)), int(m.group(2))) == (n_images, n_images) and n_images >= 9


#: What each report module may import from the package: data at the bottom, the command at the top.
REPORT_IMPORTS = {
    "data": set(), "formatting": set(), "html": {"data"}, "figures": {"formatting", "html"},
    "page": {"data", "formatting", "html", "figures"}, "card": {"data", "formatting"},
    "command": {"data", "page", "card"}, "__init__": {"command"},
}


def test_report_modules_import_one_way():
    folder = Path(report_package.__file__).parent
    assert {p.stem for p in folder.glob("*.py")} == set(REPORT_IMPORTS)
    for name, allowed in REPORT_IMPORTS.items():
        tree = ast.parse((folder / f"{name}.py").read_text())
        imported = {n.module.rsplit(".", 1)[1] for n in ast.walk(tree)  # function-level imports too
                    if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("pipelines.report.")}
        assert imported <= allowed, (name, imported - allowed)
