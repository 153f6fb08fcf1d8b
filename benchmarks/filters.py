"""Our filter rules against datatrove's implementation of the same published rules.

1. Agreement: every rule, ours and datatrove's, decides keep / drop on every ingested document of the
   shared corpus (BBC articles, web pages, Gutenberg books); the script prints the agreement per rule
   and lists each disagreement with the two measurements behind it and an explanation: a deliberate
   difference of ours, a tokenization difference (datatrove splits words with spaCy, we with one
   regex), or a value sitting on the threshold.
2. Throughput, side by side in one run on the same Parquet input and the same cores: `curate filter`
   (the Beam stage) against datatrove's LanguageFilter + GopherRepetition + GopherQuality + C4Quality
   + FineWebQuality pipeline (LocalPipelineExecutor), both end to end from process start.

datatrove lives in a scratch virtual environment, never in the project's:

    python3 -m venv /tmp/dt-venv
    /tmp/dt-venv/bin/pip install 'datatrove[processing]' spacy faust-cchardet python-magic orjson \\
        lxml_html_clean fasttext-numpy2 pyarrow

Run (about 10 minutes on 2 cores; datatrove's answers are cached per document set, `--fresh` reruns them):

    .venv/bin/python benchmarks/filters.py [--datatrove-python /tmp/dt-venv/bin/python]
        [--corpus ../shared/corpus] [--work /tmp/curate-bench-filters] [--skip-throughput]

The datatrove side runs in that interpreter through this same file (`--datatrove-side ...`), which
then imports nothing from the project. Its language ID is pointed at the lid.176.ftz we use
(`FT176LID.MODEL_URL`), its C4 bad-words filter at the same LDNOOBW files, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULES = ["lid", "gopher_quality", "gopher_repetition", "c4", "fineweb", "badwords", "pii_email", "pii_ip"]


# =====================================================================================================
# datatrove side (runs in the datatrove virtual environment; imports nothing from this project)
# =====================================================================================================


def _dt_patch(lid_model: str, badwords_dir: str | None) -> None:
    from datatrove.utils import lid

    lid.FT176LID.MODEL_URL = lid_model
    if badwords_dir:
        import datatrove.pipeline.filters.c4_filters as c4mod

        def local_list(url: str, **_kw) -> str:
            return os.path.join(badwords_dir, url.rstrip("/").rsplit("/", 1)[-1] + ".txt")

        c4mod.cached_asset_path_or_download = local_list


def dt_agreement(docs_path: str, out_path: str, lid_model: str, badwords_dir: str) -> None:
    """Every datatrove rule on every document, with the measurements its decision rests on."""
    _dt_patch(lid_model, badwords_dir)
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4BadWordsFilter,
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate,
        find_duplicates,
        find_top_duplicate,
        get_n_grams,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.formatters.pii import public_ip_validator
    from datatrove.utils.text import (
        PUNCTUATION_SET,
        TERMINAL_PUNCTUATION,
        split_into_parts,
        split_into_sentences,
        split_into_words,
    )

    filters = {
        "lid": LanguageFilter(),
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
        "badwords": C4BadWordsFilter(fail_on_missing_language=False),
    }
    c4_count = C4QualityFilter(min_num_sentences=-1)
    pii = PIIFormatter()
    times: Counter[str] = Counter()
    out = {}
    stop_words = {"the", "be", "to", "of", "and", "that", "have", "with"}
    stop_chars = tuple(TERMINAL_PUNCTUATION)
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    for rec in docs:
        text = rec["text"]
        res: dict = {}
        for name, flt in filters.items():
            split_into_parts.cache_clear()  # each rule pays for its own tokenization
            doc = Document(text=text, id=rec["id"], metadata={"language": rec["lang"]} if name == "badwords" else {})
            t = time.perf_counter()
            r = flt.filter(doc)
            times[name] += time.perf_counter() - t
            keep = r is True or (isinstance(r, bool) and r)
            res[name] = "keep" if keep else (r[1] if isinstance(r, tuple) else "drop")
            if name == "lid":
                res["lang"], res["lang_score"] = doc.metadata["language"], doc.metadata["language_score"]
        t = time.perf_counter()
        res["pii_email"] = len(pii.emails_replacer.regex.findall(text))
        res["pii_ip"] = sum(1 for m in pii.ip_replacer.regex.finditer(text) if public_ip_validator(m.group(0)))
        times["pii"] += time.perf_counter() - t

        # The measurements behind the decisions (datatrove's own splitting), for the explanations.
        words = split_into_words(text)
        n = max(1, len(words))
        non_symbol = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        all_lines = text.splitlines() or [""]
        diag = {
            "tokens": len(words),
            "words": len(non_symbol),
            "mean_word_length": sum(map(len, non_symbol)) / max(1, len(non_symbol)),
            "alpha_words": sum(any(c.isalpha() for c in w) for w in words) / n,
            "stop_words": len(stop_words & set(words)),
            "stop_words_any_case": len(stop_words & {w.lower() for w in words}),
            "bullet_lines": sum(s.lstrip().startswith(("•", "-")) for s in all_lines) / len(all_lines),
            "ellipsis_lines": sum(s.rstrip().endswith(("...", "…")) for s in all_lines) / len(all_lines),
            "hash_ratio": text.count("#") / n,
        }
        if text:
            paragraphs = filters["gopher_repetition"].paragraph_exp.split(text.strip())
            lines = filters["gopher_repetition"]._line_splitter.split(text)
            pd, pc = find_duplicates(paragraphs)
            ld, lc = find_duplicates(lines)
            diag.update({
                "dup_para_frac": pd / len(paragraphs), "dup_para_char_frac": pc / len(text),
                "dup_line_frac": ld / len(lines), "dup_line_char_frac": lc / len(text),
            })
            for k in (2, 3, 4):
                grams = get_n_grams(words, k)
                diag[f"top_{k}gram"] = find_top_duplicate(grams) / len(text) if grams else 0.0
            for k in range(5, 11):
                diag[f"dup_{k}gram"] = find_all_duplicate(words, k) / len(text)
        doc = Document(text=text, id=rec["id"])
        if c4_count.filter(doc) is True:
            diag["c4_sentences"] = sum(len(split_into_sentences(line)) for line in doc.text.split("\n") if line)
            diag["c4_kept_lines"] = len([x for x in doc.text.split("\n") if x])
        fw_lines = [x for x in text.split("\n") if x.strip()]
        if fw_lines:
            diag.update({
                "line_punct_ratio": sum(1 for x in fw_lines if x.endswith(stop_chars)) / len(fw_lines),
                "short_line_ratio": sum(1 for x in fw_lines if len(x) <= 30) / len(fw_lines),
                "char_dup_ratio": find_duplicates(fw_lines)[1] / max(1, len(text.replace("\n", ""))),
                "newline_ratio": text.count("\n") / n,
            })
        res["diag"] = diag
        out[rec["id"]] = res
    with open(out_path, "w") as f:
        json.dump({"docs": out, "times": times}, f)


def dt_pipeline(input_dir: str, out_dir: str, lid_model: str, tasks: int, workers: int) -> None:
    """datatrove's FineWeb-style filter pipeline, Parquet in, JSONL out, on a local executor."""
    _dt_patch(lid_model, None)
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    lid = LanguageFilter()
    lid.model.MODEL_URL = lid_model  # an instance attribute travels to the worker processes
    executor = LocalPipelineExecutor(
        pipeline=[
            ParquetReader(input_dir, glob_pattern="part-*.parquet", text_key="text", id_key="id"),
            lid,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            JsonlWriter(out_dir, compression=None),  # its ParquetWriter trips on null URLs
        ],
        tasks=tasks,
        workers=workers,
        logging_dir=os.path.join(out_dir, "_logs"),
        skip_completed=False,
    )
    executor.run()


# =====================================================================================================
# our side
# =====================================================================================================


def prepare_run(corpus: Path, work: Path, shards: int) -> Path:
    """An ingested run of the corpus (articles, web pages, books), made once and reused."""
    run = work / "run"
    if (run / "ingest" / "_SUCCESS").is_file():
        return run
    cmd = [
        str(REPO / ".venv" / "bin" / "curate"), "ingest", "--run", str(run),
        "--input", str(corpus / "articles" / "*.jsonl"),
        "--input", str(corpus / "web" / "*.warc.gz"),
        "--input", str(corpus / "books" / "*.txt"),
        "--set", f"ingest.num_shards={shards}",
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run


def load_docs(run: Path):
    import pyarrow.parquet as pq

    from pipelines.document import from_row

    rows = pq.read_table(sorted((run / "ingest").glob("part-*.parquet"))).to_pylist()
    return [from_row(r) for r in rows]


def our_agreement(docs) -> tuple[dict, Counter]:
    """Every one of our rules on every document, standalone (no kind or language scope), as datatrove's
    rules run: Gopher's stop words are the English ones for every document, as datatrove's default."""
    from filters.badwords import BadWords
    from filters.c4 import c4_clean
    from filters.config import (
        BadWordsConfig,
        C4Config,
        FineWebConfig,
        GopherQualityConfig,
        GopherRepetitionConfig,
        LidConfig,
    )
    from filters.fineweb import fineweb_quality
    from filters.gopher import gopher_quality, gopher_repetition
    from filters.lid import LanguageId
    from filters.pii import IPV4_RE, _ipv4, email_spans
    from filters.text import TextStats

    times: Counter[str] = Counter()
    lid = LanguageId(LidConfig())
    lid.load()
    t = time.perf_counter()
    preds = lid.predict([d.text for d in docs])
    times["lid"] += time.perf_counter() - t
    gq, gr, c4cfg, fw = GopherQualityConfig(), GopherRepetitionConfig(), C4Config(), FineWebConfig()
    bw = BadWords(BadWordsConfig())
    out = {}
    for doc, (lang, score) in zip(docs, preds, strict=True):
        res: dict = {"lang": lang, "lang_score": score}
        res["lid"] = "keep" if score >= 0.65 else "lid:low_score"
        for name, fn in (
            ("gopher_quality", lambda s, sig: gopher_quality(s, gq, "en", sig)),
            ("gopher_repetition", lambda s, sig: gopher_repetition(s, gr, sig)),
            ("fineweb", lambda s, sig: fineweb_quality(s, fw, sig)),
            ("badwords", lambda s, sig, lang=lang: bw.check(s.text, lang, sig)),
        ):
            sig: dict = {}
            t = time.perf_counter()
            drop = fn(TextStats(doc.text), sig)  # a fresh TextStats: each rule pays for its own splitting
            times[name] += time.perf_counter() - t
            res[name] = "keep" if drop is None else drop.reason
            res[f"{name}_signals"] = sig
            if drop is not None:
                res[f"{name}_value"] = drop.value
        t = time.perf_counter()
        c4 = c4_clean(doc.text, c4cfg)
        times["c4"] += time.perf_counter() - t
        res["c4"] = "keep" if c4.drop is None else c4.drop.reason
        res["c4_sentences"] = c4.sentences
        res["c4_kept_lines"] = len([x for x in c4.text.split("\n") if x]) if c4.drop is None else None
        t = time.perf_counter()
        res["pii_email"] = len(email_spans(doc.text))
        res["pii_ip"] = sum(1 for m in IPV4_RE.finditer(doc.text) if _ipv4(m))
        times["pii"] += time.perf_counter() - t
        out[doc.id] = res
    return out, times


DT_REASON = {  # datatrove reason -> our reason
    "gopher_short_doc": "gopher_quality:too_few_words",
    "gopher_long_doc": "gopher_quality:too_many_words",
    "gopher_below_avg_threshold": "gopher_quality:short_words",
    "gopher_above_avg_threshold": "gopher_quality:long_words",
    "gopher_too_many_hashes": "gopher_quality:hash_ratio",
    "gopher_too_many_ellipsis": "gopher_quality:ellipsis_ratio",
    "gopher_too_many_bullets": "gopher_quality:bullet_lines",
    "gopher_too_many_end_ellipsis": "gopher_quality:ellipsis_lines",
    "gopher_below_alpha_threshold": "gopher_quality:alpha_words",
    "gopher_enough_stop_words": "gopher_quality:stop_words",
    "lorem_ipsum": "c4:lorem_ipsum",
    "curly_bracket": "c4:curly_bracket",
    "too_few_sentences": "c4:too_few_sentences",
    "document_removed_with_badwords": "badwords",
}
for _k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"):
    DT_REASON[_k] = f"gopher_repetition:{_k}"
for _n in (2, 3, 4):
    DT_REASON[f"top_{_n}_gram"] = f"gopher_repetition:top_{_n}gram"
for _n in range(5, 11):
    DT_REASON[f"duplicated_{_n}_n_grams"] = f"gopher_repetition:dup_{_n}gram"
for _k in ("line_punct_ratio", "short_line_ratio", "char_dup_ratio"):
    DT_REASON[_k] = f"fineweb:{_k}"
DT_REASON["list_ratio"] = "fineweb:newline_ratio"

# our check -> (our signal, datatrove diagnostic, limit, kind of measurement)
GQ_METRICS = {
    "too_few_words": ("gopher_words", "words", 50, "words"),
    "too_many_words": ("gopher_words", "words", 100_000, "words"),
    "short_words": ("gopher_mean_word_length", "mean_word_length", 3, "tokens"),
    "long_words": ("gopher_mean_word_length", "mean_word_length", 10, "tokens"),
    "hash_ratio": ("gopher_hash_ratio", "hash_ratio", 0.1, "tokens"),
    "alpha_words": ("gopher_alpha_words", "alpha_words", 0.8, "tokens"),
    "stop_words": ("gopher_stop_words", "stop_words", 2, "case"),
    "bullet_lines": ("gopher_bullet_lines", "bullet_lines", 0.9, "blank"),
    "ellipsis_lines": ("gopher_ellipsis_lines", "ellipsis_lines", 0.3, "blank"),
}
REP_METRICS = {
    **{k: (f"rep_{k}", k) for k in ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")},
    **{f"top_{n}gram": (f"rep_top_{n}gram_char_frac", f"top_{n}gram") for n in (2, 3, 4)},
    **{f"dup_{n}gram": (f"rep_dup_{n}gram_char_frac", f"dup_{n}gram") for n in range(5, 11)},
}
REP_LIMITS = {"dup_para_frac": 0.3, "dup_para_char_frac": 0.2, "dup_line_frac": 0.3, "dup_line_char_frac": 0.2,
              "top_2gram": 0.2, "top_3gram": 0.18, "top_4gram": 0.16,
              **{f"dup_{n}gram": 0.15 - 0.01 * (n - 5) for n in range(5, 11)}}
FW_METRICS = {"line_punct_ratio": 0.12, "short_line_ratio": 0.67, "char_dup_ratio": 0.01, "newline_ratio": 0.3}


def _check_of(reason: str) -> str:
    return reason.split(":", 1)[1] if ":" in reason else reason


def explain(rule: str, ours: dict, theirs: dict, text: str) -> tuple[str, str]:
    """(cause, detail): why our decision and datatrove's differ on one document, from both measurements."""
    diag = theirs["diag"]
    our_r, dt_r = ours[rule], theirs[rule]
    dt_mapped = DT_REASON.get(dt_r, dt_r)
    tokens = f"spaCy {diag['tokens']} tokens / {diag['words']} words vs ours {ours['_tokens']} / {ours['_words']}"
    tokenization = "tokenization: a value on the threshold, measured over spaCy's tokens there and our regex tokens here"
    if rule == "lid":
        return ("language ID score around the limit", f"score ours {ours['lang_score']:.3f} ({ours['lang']}) vs "
                f"datatrove {theirs['lang_score']:.3f} ({theirs['lang']}), limit 0.65")
    if rule == "gopher_quality":
        check = _check_of(our_r if our_r != "keep" else dt_mapped)
        sig_name, diag_name, limit, kind = GQ_METRICS.get(check, (None, None, None, "tokens"))
        mine = ours["gopher_quality_signals"].get(sig_name)
        values = f"{check}: ours {_fmt(mine)} vs datatrove {_fmt(diag.get(diag_name))} (limit {limit})"
        if check == "stop_words" and diag["stop_words_any_case"] >= 2 > diag["stop_words"]:
            return ("deliberate: stop words match in any case here (\"The\" counts), datatrove matches lower case only",
                    values)
        if kind == "blank":
            return ("deliberate: blank lines are not lines here; datatrove counts them in the denominator", values)
        if check == "alpha_words" and ours["gopher_quality_signals"].get("gopher_alpha_words") is not None \
                and _alpha_over_tokens(ours) < 0.8 <= ours["gopher_quality_signals"]["gopher_alpha_words"]:
            return ("deliberate: the share of words with a letter is over words (Gopher paper); datatrove divides by "
                    "all spaCy tokens, punctuation included (filter.gopher_quality.alpha_words_over: tokens matches it)",
                    values)
        if mine is None:
            return ("an earlier check decided first on our side", f"{values}; ours: {our_r}")
        return tokenization, f"{values}; {tokens}"
    if rule == "gopher_repetition":
        check = _check_of(our_r if our_r != "keep" else dt_mapped)
        sig_name, diag_name = REP_METRICS.get(check, (None, None))
        mine = ours["gopher_repetition_signals"].get(sig_name)
        values = f"{check}: ours {_fmt(mine)} vs datatrove {_fmt(diag.get(diag_name))} (limit {REP_LIMITS.get(check)})"
        if check.startswith(("dup_line", "dup_para")):
            return "line/paragraph splitting (blank and whitespace-only lines)", values
        return tokenization, f"{values}; {tokens}"
    if rule == "c4":
        s_dt, s_ours = diag.get("c4_sentences"), ours["c4_sentences"]
        detail = (f"sentences ours {s_ours} vs datatrove {s_dt} (limit 5), kept lines ours {ours['c4_kept_lines']} "
                  f"vs datatrove {diag.get('c4_kept_lines')}")
        curly = any(line.rstrip().endswith(("”", "’")) for line in text.split("\n"))
        if curly and ours["c4_kept_lines"] != diag.get("c4_kept_lines"):
            return ("deliberate: a line ending in a closing curly quote ends in an \"end quotation mark\" (C4 paper); "
                    "datatrove accepts only straight quotes", detail)
        return "sentence counting: spaCy's sentencizer there, our regex here, around the limit of 5", detail
    if rule == "fineweb":
        check = _check_of(our_r if our_r != "keep" else dt_mapped)
        mine = ours["fineweb_signals"].get(f"fw_{check}")
        values = f"{check}: ours {_fmt(mine)} vs datatrove {_fmt(diag.get(check))} (limit {FW_METRICS.get(check)})"
        if check == "newline_ratio":
            return tokenization, f"{values}; {tokens}"
        if check == "line_punct_ratio":
            return "terminal punctuation: datatrove lists every Unicode sentence terminal, we the common ones", values
        return "line splitting", values
    if rule == "badwords":
        hits = _badword_hits(text, ours["lang"])
        capitalized = sorted(h for h in hits if h not in _raw_list(ours["lang"]))
        detail = f"language {ours['lang']}, listed words found: {', '.join(sorted(hits)) or '-'}"
        if capitalized:
            return ("datatrove bug: list entries spelled with capitals (Spanish: Asesinato, Drogas, Sexo...) are "
                    "matched unchanged against lower-cased text and never match; we lower-case the lists",
                    f"{detail} (listed as {', '.join(c.capitalize() for c in capitalized)})")
        return "phrase boundaries", detail
    if rule == "pii_email":
        return "address patterns differ", f"ours {ours['pii_email']} vs datatrove {theirs['pii_email']}"
    if rule == "pii_ip":
        return ("deliberate: we redact private addresses too, datatrove only public ones",
                f"ours {ours['pii_ip']} vs datatrove {theirs['pii_ip']}")
    return "", ""


def _alpha_over_tokens(ours: dict) -> float:
    """Our alpha-word share re-expressed over all tokens (datatrove's denominator)."""
    words, tokens = ours["_words"], ours["_tokens"]
    return ours["gopher_quality_signals"]["gopher_alpha_words"] * words / tokens if tokens else 0.0


def _badword_hits(text: str, lang: str) -> set[str]:
    """Our list entries (lower-cased) found in a text."""
    from filters.badwords import _WORD_RUN_RE, BadWords
    from filters.config import BadWordsConfig
    from filters.text import TextStats

    words = BadWords(BadWordsConfig()).list_for(lang)
    if words is None:
        return set()
    runs = {r for w in TextStats(text).lower_word_set for r in _WORD_RUN_RE.findall(w)}
    lower = text.lower()
    return set(words.single & runs) | {entry for p, entry, rx in words.phrases if p <= runs and rx.search(lower)}


def _raw_list(lang: str) -> set[str]:
    from filters.resources import data_dir, read_list

    path = data_dir() / "badwords" / f"{lang}.txt"
    return set(read_list(path)) if path.is_file() else set()


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def compare(docs, ours: dict, theirs: dict, max_listed: int) -> dict:
    from filters.text import TextStats

    by_id = {d.id: d for d in docs}
    summary = {}
    for rule in RULES:
        both_keep = both_drop = only_ours = only_dt = same_reason = 0
        disagreements = []
        for doc_id, o in ours.items():
            t = theirs[doc_id]
            if rule.startswith("pii"):
                agree = (o[rule] > 0) == (t[rule] > 0)
                ok, dk = o[rule] == 0, t[rule] == 0
            else:
                ok, dk = o[rule] == "keep", t[rule] == "keep"
                agree = ok == dk
            if ok and dk:
                both_keep += 1
            elif not ok and not dk:
                both_drop += 1
                if rule.startswith("pii") or DT_REASON.get(t[rule], t[rule]) in (o[rule], o[rule].split(":")[0]):
                    same_reason += 1
            elif dk:
                only_ours += 1
            else:
                only_dt += 1
            if not agree:
                doc = by_id[doc_id]
                stats = TextStats(doc.text)
                o["_tokens"], o["_words"] = stats.n_tokens, len(stats.words)
                cause, detail = explain(rule, o, t, doc.text)
                disagreements.append({
                    "id": doc_id, "kind": doc.kind, "where": doc.url or Path(doc.source).name,
                    "ours": o[rule], "datatrove": t[rule], "cause": cause, "detail": detail,
                })
        n = len(ours)
        summary[rule] = {
            "docs": n, "agree": (both_keep + both_drop) / n, "both_keep": both_keep, "both_drop": both_drop,
            "same_reason": same_reason, "only_ours_drops": only_ours, "only_datatrove_drops": only_dt,
            "disagreements": disagreements,
        }
    print("\n== Agreement with datatrove, per rule, on every ingested corpus document ==")
    print(f"{'rule':<18} {'docs':>5} {'agree':>7} {'both keep':>9} {'both drop':>9} {'same why':>8} "
          f"{'only ours':>9} {'only dt':>7}")
    for rule, s in summary.items():
        print(f"{rule:<18} {s['docs']:>5} {s['agree']:>7.2%} {s['both_keep']:>9} {s['both_drop']:>9} "
              f"{s['same_reason']:>8} {s['only_ours_drops']:>9} {s['only_datatrove_drops']:>7}")
    for rule, s in summary.items():
        if not s["disagreements"]:
            continue
        causes = Counter(d["cause"] for d in s["disagreements"])
        print(f"\n-- {rule}: {len(s['disagreements'])} disagreements, by cause:")
        for cause, k in causes.most_common():
            print(f"   {k:>3} x {cause}")
        for d in s["disagreements"][:max_listed]:
            print(f"  [{d['kind']}] {d['where'][:70]}\n      ours={d['ours']} datatrove={d['datatrove']}: {d['detail']}")
        if len(s["disagreements"]) > max_listed:
            print(f"  ... {len(s['disagreements']) - max_listed} more in the JSON report")
    return summary


def rule_times(ours_t: Counter, dt_t: Counter, n_docs: int, reused: bool) -> dict:
    print("\n== Time per rule, one core, in process (each rule tokenizes for itself) ==")
    if reused:
        print("(datatrove's times are from the earlier run whose answers were reused: not side by side)")
    print(f"{'rule':<18} {'ours ms/doc':>11} {'datatrove ms/doc':>16} {'speed-up':>8}")
    out = {}
    for rule in ["lid", "gopher_quality", "gopher_repetition", "c4", "fineweb", "badwords", "pii"]:
        a, b = ours_t.get(rule, 0.0), dt_t.get(rule, 0.0)
        out[rule] = {"ours_s": a, "datatrove_s": b, "speedup": b / a if a else None}
        print(f"{rule:<18} {1000 * a / n_docs:>11.3f} {1000 * b / n_docs:>16.3f} {b / a if a else float('nan'):>7.1f}x")
    a = sum(ours_t.values())
    b = sum(dt_t.values())
    print(f"{'all':<18} {1000 * a / n_docs:>11.3f} {1000 * b / n_docs:>16.3f} {b / a:>7.1f}x")
    return out


def throughput(run: Path, work: Path, dt_python: str, lid_model: str, n_docs: int, workers: int) -> dict:
    curate = str(REPO / ".venv" / "bin" / "curate")
    same_rules = [
        "--set", "filter.url.enabled=false", "--set", "filter.badwords.enabled=false",
        "--set", "filter.pii.enabled=false",
    ]
    for rule in ("gopher_quality", "gopher_repetition", "c4", "fineweb"):  # datatrove scopes nothing
        same_rules += ["--set", f"filter.{rule}.kinds=null", "--set", f"filter.{rule}.exclude_languages=[]"]
    runs = {}

    def ours(name: str, extra: list[str]) -> None:
        target = work / f"tp-{name}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "ingest").symlink_to(run / "ingest", target_is_directory=True)
        t = time.perf_counter()
        subprocess.run([curate, "filter", "--run", str(target), "--workers", str(workers), *extra],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        success = json.loads((target / "filter" / "_SUCCESS").read_text())
        runs[name] = {"wall_s": wall, "docs_per_s": n_docs / wall, "kept": success["counts"]["out"]}

    def datatrove() -> None:
        target = work / "tp-datatrove"
        shutil.rmtree(target, ignore_errors=True)
        parts = len(list((run / "ingest").glob("part-*.parquet")))
        t = time.perf_counter()
        subprocess.run([dt_python, __file__, "--datatrove-side", "pipeline", "--input", str(run / "ingest"),
                        "--out", str(target), "--lid-model", lid_model, "--tasks", str(parts),
                        "--workers", str(workers)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        kept = sum(p.read_bytes().count(b"\n") for p in target.glob("*.jsonl"))
        runs["datatrove"] = {"wall_s": wall, "docs_per_s": n_docs / wall, "kept": kept}

    ours("ours_same_rules", same_rules)
    datatrove()
    ours("ours_default", [])
    print(f"\n== Throughput end to end ({n_docs} documents, {workers} workers, process start to finish) ==")
    base = runs["datatrove"]["docs_per_s"]
    labels = {
        "datatrove": "datatrove LID+GopherRep+GopherQ+C4+FineWeb",
        "ours_same_rules": "curate filter, the same five rules, every doc",
        "ours_default": "curate filter, default config (+URL, bad words, PII)",
    }
    for name in ("datatrove", "ours_same_rules", "ours_default"):
        r = runs[name]
        print(f"{labels[name]:<54} {r['wall_s']:>7.1f} s {r['docs_per_s']:>8.1f} docs/s "
              f"{r['docs_per_s'] / base:>5.2f}x  kept {r['kept']}")
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datatrove-side", choices=["agreement", "pipeline"], help=argparse.SUPPRESS)
    ap.add_argument("--docs", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--lid-model", help=argparse.SUPPRESS)
    ap.add_argument("--badwords", help=argparse.SUPPRESS)
    ap.add_argument("--tasks", type=int, default=4, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus"))
    ap.add_argument("--work", default="/tmp/curate-bench-filters")
    ap.add_argument("--datatrove-python", default="/tmp/dt-venv/bin/python")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, default=4, help="Parquet parts of the ingested input")
    ap.add_argument("--max-listed", type=int, default=12, help="disagreements printed per rule")
    ap.add_argument("--limit", type=int, help="agreement on the first N documents only (by id), for a quick look")
    ap.add_argument("--fresh", action="store_true", help="rerun datatrove's rules even if cached for these docs")
    ap.add_argument("--skip-agreement", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()

    if args.datatrove_side == "agreement":
        dt_agreement(args.docs, args.out, args.lid_model, args.badwords)
        return 0
    if args.datatrove_side == "pipeline":
        dt_pipeline(args.input, args.out, args.lid_model, args.tasks, args.workers)
        return 0

    sys.path.insert(0, str(REPO))
    from filters.lid import default_model_path
    from filters.resources import data_dir

    corpus, work = Path(args.corpus), Path(args.work)
    if not corpus.is_dir():
        print(f"corpus not found: {corpus}", file=sys.stderr)
        return 2
    if not Path(args.datatrove_python).is_file():
        print(f"datatrove interpreter not found: {args.datatrove_python} (see the module docstring)", file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    lid_model = str(default_model_path())
    run = prepare_run(corpus, work, args.shards)
    docs = load_docs(run)
    print(f"{len(docs)} documents: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(d.kind for d in docs).items())))
    report: dict = {"documents": len(docs)}

    if not args.skip_agreement:
        sample = sorted(docs, key=lambda d: d.id)[: args.limit] if args.limit else docs
        t = time.perf_counter()
        ours, ours_t = our_agreement(sample)
        print(f"our rules: {time.perf_counter() - t:.1f} s")
        docs_path, dt_out = work / "docs.jsonl", work / "datatrove-agreement.json"
        with open(docs_path, "w", encoding="utf-8") as f:
            for d in sample:
                f.write(json.dumps({"id": d.id, "text": d.text, "lang": ours[d.id]["lang"]}) + "\n")
        digest = hashlib.sha256(docs_path.read_bytes()).hexdigest()
        dt = json.loads(dt_out.read_text()) if dt_out.is_file() else {}
        reused = dt.get("docs_sha256") == digest and not args.fresh
        if not reused:  # datatrove's answers depend only on the documents
            t = time.perf_counter()
            subprocess.run([args.datatrove_python, __file__, "--datatrove-side", "agreement", "--docs",
                            str(docs_path), "--out", str(dt_out), "--lid-model", lid_model,
                            "--badwords", str(data_dir() / "badwords")], check=True, stderr=subprocess.DEVNULL)
            print(f"datatrove rules: {time.perf_counter() - t:.1f} s")
            dt = json.loads(dt_out.read_text())
            dt["docs_sha256"] = digest
            dt_out.write_text(json.dumps(dt))
        else:
            print("datatrove rules: reused from an earlier run on the same documents")
        report["agreement"] = compare(sample, ours, dt["docs"], args.max_listed)
        report["rule_times"] = rule_times(ours_t, Counter(dt["times"]), len(sample), reused)

    if not args.skip_throughput:
        report["throughput"] = throughput(run, work, args.datatrove_python, lid_model, len(docs), args.workers)

    out = work / "report.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nreport: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
