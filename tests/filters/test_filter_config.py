"""The `filter:` config section: loading, overrides, null thresholds, validation messages."""

from __future__ import annotations

import pytest

from filters.config import FilterConfig, RuleScope
from pipelines.config import load_config
from pipelines.configlib import ConfigError


def test_overrides_reach_nested_rules_and_null_turns_a_check_off():
    cfg = load_config(None, [
        "filter.gopher_quality.min_words=40",
        "filter.gopher_repetition.top_2gram_char_frac=null",
        "filter.c4.kinds=null",
        "filter.lid.languages=[en, de]",
        "filter.gopher_quality.stop_words={xx: [aa, bb]}",
    ]).filter
    assert cfg.gopher_quality.min_words == 40
    assert cfg.gopher_repetition.top_2gram_char_frac is None
    assert cfg.c4.kinds is None
    assert cfg.lid.languages == ["en", "de"]
    assert cfg.gopher_quality.stop_words == {"xx": ["aa", "bb"]}


def test_yaml_section(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("filter:\n  fineweb:\n    max_newline_ratio: 0.25\n  badwords:\n    enabled: false\n")
    cfg = load_config(str(path)).filter
    assert cfg.fineweb.max_newline_ratio == 0.25
    assert cfg.badwords.enabled is False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("filter.lid.min_score=1.5", "filter.lid.min_score"),
        ("filter.gopher_quality.min_alpha_words=2", "filter.gopher_quality.min_alpha_words"),
        ("filter.fineweb.max_char_dup_ratio=-0.1", "filter.fineweb.max_char_dup_ratio"),
        ("filter.batch_size=0", "filter.batch_size"),
        ("filter.gopher_quality.no_such_key=1", "filter.gopher_quality.no_such_key"),
    ],
)
def test_validation_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(None, [override])


def test_scope():
    scope = RuleScope()
    assert scope.applies("web", "en") and scope.applies("text", None)
    assert not scope.applies("book", "en")
    assert not scope.applies("web", "zh")  # written without spaces
    assert RuleScope(languages=["en"]).applies("web", "en") and not RuleScope(languages=["en"]).applies("web", "de")
    assert not RuleScope(enabled=False).applies("web", "en")
    assert RuleScope(kinds=None).applies("book", "en")


def test_defaults_need_no_config():
    cfg = FilterConfig()
    assert cfg.lid.min_score == 0.65 and cfg.lid.languages == []
    assert cfg.quality.model is None
    assert cfg.url.blocklists == ["builtin:adult"]
