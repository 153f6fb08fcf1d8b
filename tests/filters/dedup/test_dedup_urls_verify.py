from __future__ import annotations

import numpy as np
import pytest

from filters.dedup.urls import normalize_url, url_key
from filters.dedup.verify import jaccard


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://www.Example.com/a/b?x=1", "http://example.com/a/b?x=1"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com:443/a#section", "https://example.com/a"),
        ("https://example.com/a?utm_source=tw&utm_medium=x&id=3", "https://example.com/a?id=3"),
        ("https://example.com/a?b=2&a=1&fbclid=zz", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a/./c/../b", "https://example.com/a/b"),
        ("https://example.com/%7Euser", "https://example.com/~user"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_same_page(a, b):
    assert normalize_url(a) == normalize_url(b)
    assert url_key(a) == url_key(b) != 0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a?id=3", "https://example.com/a?id=4"),
        ("https://example.com/a", "https://example.org/a"),
        ("https://example.com:8080/a", "https://example.com/a"),
        ("https://example.com/A", "https://example.com/a"),  # paths are case-sensitive
    ],
)
def test_different_pages(a, b):
    assert normalize_url(a) != normalize_url(b)


@pytest.mark.parametrize("bad", [None, "", "not a url", "ftp://example.com/x", "mailto:a@b.c", "http://[::1"])
def test_unusable_urls_have_no_key(bad):
    assert normalize_url(bad) is None
    assert url_key(bad) == 0


def test_jaccard():
    a = np.array([1, 2, 3, 4], dtype=np.uint64)
    b = np.array([3, 4, 5], dtype=np.uint64)
    assert jaccard(a, b) == pytest.approx(2 / 5)
    assert jaccard(a, a) == 1.0
    assert jaccard(a, np.array([], dtype=np.uint64)) == 0.0
    assert jaccard(np.array([], dtype=np.uint64), np.array([], dtype=np.uint64)) == 0.0
