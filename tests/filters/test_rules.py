"""The rule chain: order, scopes (kinds, languages), text cleaning, rejected records, PII on kept docs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from filters.config import C4Config, FilterConfig, GopherQualityConfig, LidConfig
from filters.document import Document, Rejected
from filters.rules import ORDER, FilterChain

PROSE = (
    "The river rose slowly through the night, and by morning the lower streets of the town were under water. "
    "Volunteers worked with the fire brigade to move families to the school on the hill. "
    "The mayor said that the new flood barrier had held for most of the evening. "
    "Engineers will inspect the damage to the old bridge over the coming days. "
    "Residents have been asked to boil their drinking water until further notice. "
    "Contact the council at help@town.example or 555-123-4567 for assistance."
)


def doc(id_: str, text: str, kind: str = "web", url: str | None = None) -> Document:
    return Document(id=id_, text=text, source="test", kind=kind, dataset=kind, url=url)


@pytest.fixture(scope="module")
def chain() -> FilterChain:
    ch = FilterChain(FilterConfig())
    ch.load()
    return ch


def outcome(chain: FilterChain, *docs: Document) -> list[Document | Rejected]:
    return chain.apply(list(docs))


def test_good_web_document_is_kept_with_signals_and_pii_redacted(chain):
    (out,) = outcome(chain, doc("a", PROSE))
    assert isinstance(out, Document)
    s = out.signals
    assert s["lang"] == "en" and s["lang_score"] > 0.9
    assert s["gopher_words"] > 50 and s["c4_sentences"] == 6 and s["c4_lines_removed"] == 0
    assert s["rep_dup_line_frac"] == 0.0 and s["fw_line_punct_ratio"] == 1.0 and s["badwords_frac"] == 0.0
    assert (s["pii_email"], s["pii_phone"], s["pii_ip"]) == (1, 1, 0)
    assert "help@town.example" not in out.text and "|||EMAIL_ADDRESS|||" in out.text


def test_rejected_record_names_the_rule_value_and_limit(chain):
    text = "The weather was cold and the children stayed inside to read their books all day long."
    (out,) = outcome(chain, doc("b", text))
    assert isinstance(out, Rejected)
    assert out.reason == "gopher_quality:too_few_words"
    assert out.extra["value"] == 16 and out.extra["threshold"] == 50
    assert out.extra["lang"] == "en"
    assert out.snippet.startswith("The weather was cold")


def test_cheapest_rule_first_stops_the_chain(chain):
    (out,) = outcome(chain, doc("c", PROSE, url="https://www.pornhub.com/x"))
    assert out.reason == "url:blocked_domain"
    assert out.extra["lang"] is None  # dropped before language ID ran


def test_c4_cleans_the_kept_text_and_fineweb_reads_the_cleaned_text(chain):
    text = PROSE + "\nShare this page\nSubscribe to our newsletter\nThis site uses cookies to improve your experience."
    (out,) = outcome(chain, doc("d", text))
    assert isinstance(out, Document)
    assert "Share this page" not in out.text and "cookies" not in out.text
    assert out.signals["c4_lines_removed"] == 3
    assert out.signals["fw_line_punct_ratio"] == 1.0  # measured after C4 removed the unpunctuated lines


def test_web_heuristics_skip_books_and_articles_by_default(chain):
    book = doc("e", "Short poem line\n" * 3, kind="book")
    (kept,) = outcome(chain, book)
    assert isinstance(kept, Document)
    assert "gopher_words" not in kept.signals and "lang" in kept.signals
    everywhere = FilterChain(replace(FilterConfig(), gopher_quality=replace(GopherQualityConfig(), kinds=None)))
    everywhere.load()
    (dropped,) = everywhere.apply([doc("e", "Short poem line\n" * 3, kind="book")])
    assert dropped.reason == "gopher_quality:too_few_words"


def test_word_rules_skip_unsegmented_languages(chain):
    zh = "这是一个很长的中文句子，用来测试过滤器是否会跳过没有空格的语言。" * 5
    (out,) = outcome(chain, doc("f", zh))
    assert not isinstance(out, Rejected) or not out.reason.startswith("gopher_quality")
    assert out.extra["lang"] == "zh" if isinstance(out, Rejected) else out.signals["lang"] == "zh"


def test_language_scope_and_assumed_language_without_lid():
    cfg = replace(
        FilterConfig(),
        lid=replace(LidConfig(), enabled=False, assume_language="en"),
        c4=replace(C4Config(), languages=["de"]),
    )
    (out,) = FilterChain(cfg).apply([doc("g", PROSE)])
    assert out.signals["lang"] == "en" and "lang_score" not in out.signals
    assert "c4_sentences" not in out.signals  # C4 limited to German
    assert out.signals["gopher_stop_words"] == 7  # the, to, of, and, that, have, with
    unknown = replace(cfg, lid=replace(LidConfig(), enabled=False))
    (out,) = FilterChain(unknown).apply([doc("g", PROSE)])
    assert "lang" not in out.signals and "gopher_stop_words" not in out.signals  # no language, no list


def test_batch_keeps_input_order_and_disabled_rules_are_not_listed(chain):
    docs = [doc("h1", PROSE), doc("h2", "tiny"), doc("h3", PROSE.replace("river", "sea"))]
    out = chain.apply(docs)
    assert [o.id for o in out] == ["h1", "h2", "h3"]
    assert [isinstance(o, Rejected) for o in out] == [False, True, False]
    assert chain.active_rules() == [r for r in ORDER if r != "quality"]


# ---- the rule list ---------------------------------------------------------------------------------------


def test_the_rule_list_is_the_order_and_declares_every_output_column():
    from filters.rules import RULES, SIGNALS, AssumedLanguage
    from pipelines.stages.filter import OUTPUT_SCHEMA

    assert tuple(r.name for r in RULES) == ORDER
    declared = [name for rule in (*RULES, AssumedLanguage) for name in rule.signals]
    assert set(declared) == set(SIGNALS)
    # every declared signal is an output column of the filter stage, with its type
    types = {"string": "string", "float": "double", "int": "int64"}
    for name, kind in SIGNALS.items():
        assert str(OUTPUT_SCHEMA.field(name).type) == types[kind], name


def test_signals_written_on_real_documents_are_all_declared(chain):
    from filters.rules import SIGNALS

    out = chain.apply([doc("s1", PROSE), doc("s2", PROSE + "\nShare this page")])
    for kept in out:
        assert isinstance(kept, Document)
        assert set(kept.signals) <= set(SIGNALS)


def test_a_rule_writing_an_undeclared_signal_fails_loudly():
    from filters.rules import RULES, Rule, UndeclaredSignalError

    class Sloppy(Rule):
        name = "sloppy"
        signals = {"sloppy_score": "float"}

        @classmethod
        def build(cls, cfg):
            return cls()

        def check(self, work):
            work.signals["sloppy_scor"] = 1.0  # typo: not what it declares
            return None

    ch = FilterChain(FilterConfig(), rules=(*RULES, Sloppy))
    ch.load()
    with pytest.raises(UndeclaredSignalError, match="sloppy_scor"):
        ch.apply([doc("t", PROSE)])


def test_adding_a_rule_is_one_class_and_one_list_entry():
    from filters.rules import RULES, Rule
    from filters.verdict import Drop

    class NoDigits(Rule):
        name = "no_digits"
        signals = {"digits": "int"}

        @classmethod
        def build(cls, cfg):
            return cls()

        def applies(self, work):
            return work.doc.kind == "web"

        def check(self, work):
            n = sum(c.isdigit() for c in work.text)
            work.signals["digits"] = n
            return Drop("no_digits:has_digits", n, 0) if n else None

    rules = list(RULES)
    rules.insert(rules.index(next(r for r in RULES if r.name == "c4")), NoDigits)
    ch = FilterChain(FilterConfig(), rules=rules)
    ch.load()
    assert ch.active_rules().index("no_digits") == ch.active_rules().index("c4") - 1
    kept, dropped, book = ch.apply([
        doc("u1", PROSE.replace("555-123-4567", "the office")),
        doc("u2", PROSE),
        doc("u3", PROSE, kind="book"),
    ])
    assert isinstance(kept, Document) and kept.signals["digits"] == 0
    assert isinstance(dropped, Rejected) and dropped.reason == "no_digits:has_digits" and dropped.extra["value"] == 10
    assert isinstance(book, Document) and "digits" not in book.signals  # out of the rule's scope


def test_counts_of_the_cleaned_text_reuse_the_input_and_equal_a_fresh_count():
    from filters.rules import C4Rule, Work
    from filters.text import TextStats

    rule = C4Rule(FilterConfig())
    line = "The committee met on Tuesday to discuss the budget of the town."
    texts = [
        f"{line}\n\nMenu Home\r\n{line} [1] and more [edit].\n  {line}  \n" * 3 + "Short line\nabc def ghi.\n",
        f"Cookies: this site uses cookies.\n{line}\n" * 6,
        f"{line}\n" * 5 + "x" * 1200 + "\n",
    ]
    for text in texts:
        work = Work(Document("d", text, "s", "web", "ds", "loc", None, {}, {}))
        assert work.source_stats.n_words > 0  # the input's chunk ids are there, as after Gopher's quality rule
        assert rule.check(work) is None and work.text != text
        assert work.stats._from is not None  # counted from the input's chunk ids, not looked up again
        fresh = TextStats(work.text)
        assert work.stats.chunks == fresh.chunks
        for name in ("n_tokens", "n_words", "word_chars", "alpha_words"):
            assert getattr(work.stats, name) == getattr(fresh, name), name
