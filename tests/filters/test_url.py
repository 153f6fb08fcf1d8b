"""URL rules: UT1 blocklists (domains and URL prefixes) and banned words / sub-words."""

from __future__ import annotations

import pytest

from filters.config import UrlConfig
from filters.url import UrlFilter, load_blocklist


@pytest.fixture
def ut1(tmp_path):
    cat = tmp_path / "adult"
    cat.mkdir()
    (cat / "domains").write_text("# comment\nbad-site.com\nwww.other-bad.org\n\n")
    (cat / "urls").write_text("host.net/private\nhttp://shared.org/user/bad/\n")
    words = tmp_path / "words.txt"
    words.write_text("casino\n")
    subwords = tmp_path / "subwords.txt"
    subwords.write_text("slotmachine\n")
    return UrlFilter(UrlConfig(blocklists=[str(cat)], banned_words=[str(words)], banned_subwords=[str(subwords)]))


def reason(f: UrlFilter, url: str | None) -> str | None:
    drop = f.check(url)
    return None if drop is None else drop.reason


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://bad-site.com/page", "url:blocked_domain"),
        ("http://www.bad-site.com", "url:blocked_domain"),
        ("https://cdn.images.bad-site.com/x.jpg", "url:blocked_domain"),  # subdomain
        ("https://BAD-SITE.COM:8080/", "url:blocked_domain"),
        ("https://other-bad.org/", "url:blocked_domain"),  # "www." stripped from the list too
        ("https://notbad-site.com/", None),  # a suffix of the name, not a parent domain
        ("https://bad-site.com.example.net/", None),
        ("https://host.net/private", "url:blocked_url"),
        ("https://host.net/private/photos?id=3", "url:blocked_url"),
        ("https://host.net/privateer", None),  # prefix on a path-segment boundary only
        ("https://host.net/public", None),
        ("https://shared.org/user/bad/1", "url:blocked_url"),
        ("https://news.example/best-casino-guide", "url:banned_word"),
        ("https://news.example/casinos", None),  # not the whole token
        ("https://freeslotmachinegames.example/", "url:banned_subword"),
        ("https://example.org/article", None),
        (None, None),
        ("", None),
    ],
)
def test_rules(ut1, url, expected):
    assert reason(ut1, url) == expected


def test_a_single_list_file_mixes_domains_and_urls(tmp_path):
    f = tmp_path / "list.txt"
    f.write_text("plain.com\nplain.org/some/path\n")
    domains, urls = load_blocklist(f)
    assert domains == {"plain.com"}
    assert urls == {"plain.org": ["/some/path"]}


def test_missing_blocklist_folder_content_fails(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_blocklist(tmp_path)


def test_builtin_example_lists_load_and_block():
    f = UrlFilter(UrlConfig())
    assert len(f.domains) >= 5
    assert reason(f, "https://www.pornhub.com/view") == "url:blocked_domain"
    assert reason(f, "https://example.com/free-porn-videos") == "url:banned_word"
    assert reason(f, "https://www.bbc.co.uk/news/world-12345") is None
