"""HTML -> main text: boilerplate removal, encoding detection, the cascade's pieces, edge cases."""

from __future__ import annotations

import pytest

from filters.extract import (
    METHODS,
    Block,
    classify_blocks,
    decode_html,
    extract_fast,
    extract_main_text,
    needs_fallback,
    parse_blocks,
)

PARAGRAPHS = [
    "The river flooded the lower town on Tuesday night, and by morning the water stood a metre deep in "
    "the market square, where traders had left their stalls in a hurry.",
    "Engineers from the county said the old levee had been weakened by a dry summer followed by three "
    "weeks of rain, and that repairs planned for next spring would now be brought forward.",
    "Residents spent the day carrying furniture upstairs. Many said it was the worst flood since 1987, "
    "when the same streets were under water for almost a week.",
]

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flood in the lower town</title></head>
<body>
  <nav class="main-menu"><ul>
    <li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
    <li><a href="/weather">Weather</a></li><li><a href="/contact">Contact us</a></li>
  </ul></nav>
  <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies</div>
  <main><article>
    <h1>Flood in the lower town</h1>
    <p>{PARAGRAPHS[0]}</p>
    <figure><img src="a.jpg" alt="flooded square"><figcaption class="caption">Photo: Jane Roe / Agency</figcaption></figure>
    <p>{PARAGRAPHS[1]}</p>
    <p>{PARAGRAPHS[2]}</p>
    <div class="author-box">Jane Roe covers the county for the Gazette since 2009.</div>
    <h3>You might also like</h3>
    <ul class="teasers">
      <li><a href="/a">Bridge closed after storm</a></li>
      <li><a href="/b">Council approves new budget</a></li>
      <li><a href="/c">Market day moves to Friday</a></li>
    </ul>
    <form class="comment-form"><label>Leave a comment</label><textarea></textarea><button>Post</button></form>
  </article></main>
  <aside><h4>Most read</h4><ul><li><a href="/x">Ten walks along the river</a></li>
    <li><a href="/y">Where to eat near the square</a></li></ul></aside>
  <footer><p>Copyright 2024 The Gazette. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>"""


@pytest.fixture(scope="module")
def default_text() -> str:
    return extract_main_text(PAGE, "default")


def test_main_paragraphs_kept(default_text: str) -> None:
    assert not needs_fallback(extract_fast(PAGE), PAGE)  # the fast path decides this page
    for p in PARAGRAPHS:
        assert p in default_text


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Contact us",  # navigation
        "We use cookies",  # cookie banner
        "Photo: Jane Roe",  # image caption
        "covers the county",  # author box
        "You might also like",  # related-content heading
        "Bridge closed after storm",  # related links
        "Leave a comment",  # comment form
        "Ten walks along the river",  # aside
        "All rights reserved",  # footer
        "Privacy policy",
    ],
)
def test_boilerplate_removed(default_text: str, boilerplate: str) -> None:
    assert boilerplate not in default_text


def test_plain_resiliparse_keeps_more_boilerplate() -> None:
    # The reason `default` exists: Resiliparse's main-content step alone leaves some of it in.
    plain = extract_main_text(PAGE, "resiliparse")
    assert all(p in plain for p in PARAGRAPHS)
    assert any(b in plain for b in ("Photo: Jane Roe", "covers the county", "Bridge closed after storm"))


def test_trafilatura_method_extracts_the_article() -> None:
    text = extract_main_text(PAGE, "trafilatura")
    assert PARAGRAPHS[1] in text


def test_short_lines_between_paragraphs_survive() -> None:
    """List items and short lines inside the article are main text (recipes, dialogue)."""
    html = f"""<html><body><article>
      <p>{PARAGRAPHS[0]}</p>
      <ol><li>2 eggs</li><li>200 g flour</li><li>a pinch of salt</li></ol>
      <p>Why?</p><p>Nobody knew.</p>
      <p>{PARAGRAPHS[1]}</p>
    </article></body></html>"""
    text = extract_main_text(html, "default")
    assert "2 eggs\n• 200 g flour\n• a pinch of salt" in text
    assert text.index(PARAGRAPHS[0]) < text.index("2 eggs") < text.index("Nobody knew.") < text.index(PARAGRAPHS[1])


def test_latin1_page_without_declared_charset_is_detected() -> None:
    body = "Grüße aus Köln! Die Straße ist schön, das Mädchen läuft über die Brücke; Äpfel, Öl und Übermut. " * 3
    payload = f"<html><head><title>Köln</title></head><body><p>{body}</p></body></html>".encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        payload.decode("utf-8")
    for declared in (None, "utf-8", "no-such-charset"):  # missing, wrong, unknown: detection decides
        html = decode_html(payload, declared)
        assert "Grüße aus Köln" in html and "\ufffd" not in html
    assert "Straße ist schön" in extract_main_text(decode_html(payload), "default")


def test_declared_charset_is_used_when_it_decodes() -> None:
    payload = "<p>Żółć, zażółć gęślą jaźń</p>".encode("iso-8859-2")
    assert "Żółć" in decode_html(payload, "iso-8859-2")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("html", ["", "<html></html>", "<html><body>  \n </body></html>"])
def test_empty_page_gives_empty_text(method: str, html: str) -> None:
    assert extract_main_text(html, method) == ""


def test_unknown_method_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown extraction method"):
        extract_main_text(PAGE, "readability")  # type: ignore[arg-type]


def test_ruby_annotations_dropped_and_base_text_kept() -> None:
    sentence = "どもへの虐待をなくすための法律ができて、たたいたり蹴ったりする体罰を禁止することになりました。" * 6
    html = (
        "<html><body><article><p><ruby>子<rt>こ</rt></ruby>"
        f'<a href="#" class="dic"><ruby><span>親</span><rt>おや</rt></ruby></a>{sentence}</p></article></body></html>'
    )
    assert extract_main_text(html, "default").startswith("子親どもへの虐待")


def test_invisible_hyphenation_removed() -> None:
    para = "Schon im Mit\u00adtel\u00adal\u00adter war der Wein das Aus\u00adhän\u00adge\u00adschild der Region. " * 3
    text = extract_main_text(f"<html><body><article><p>{para}</p></article></body></html>", "default")
    assert "Mittelalter" in text and "\u00ad" not in text


def test_parse_blocks_tags_links_and_entities() -> None:
    blocks = parse_blocks(
        "<h2>Title &amp; more</h2>\n\n<p>Text with <a href=\"/x\">a link</a>.<br>\nsecond line</p>\n\n"
        "<ul>\n  <li>one</li>\n  <li><a href=\"/y\">two</a></li>\n</ul>\n\nbare cell\tvalue"
    )
    assert [(b.tag, b.text, b.link_chars, b.joined) for b in blocks] == [
        ("h2", "Title & more", 0, False),
        ("p", "Text with a link.", 6, False),
        ("p", "second line", 0, True),
        ("li", "one", 0, False),
        ("li", "two", 3, True),
        ("text", "bare cell\tvalue", 0, False),
    ]


def _block(text: str, tag: str = "p", links: int = 0) -> Block:
    return Block(text, tag, links, False)


def test_classify_context() -> None:
    good = "x" * 300
    blocks = [
        _block("Menu"),  # short, at the edge: boilerplate
        _block("Home News Sport", links=15),  # link-dense
        _block("A heading", tag="h2"),  # heading followed by a good block: kept
        _block(good),
        _block("a short line"),  # between good blocks: kept
        _block(good),
        _block("Share this"),  # short, then only the edge: boilerplate
    ]
    assert classify_blocks(blocks) == [False, False, True, True, True, True, False]


def test_classify_without_long_paragraphs_keeps_the_text() -> None:
    # A poem or a page of short paragraphs has no "good" block; near-good ones anchor instead.
    verse = [_block("So much depends upon a red wheel barrow glazed with rain water") for _ in range(4)]
    assert all(classify_blocks(verse))
    assert all(classify_blocks([_block("Hi"), _block("there")]))


def test_cjk_characters_count_more_toward_length() -> None:
    assert _block("法律" * 30).length == 180
    assert _block("ab" * 30).length == 60


def test_fallback_trigger() -> None:
    assert needs_fallback("", "<html></html>")
    assert needs_fallback("x" * 150, "<html></html>")
    assert needs_fallback("x" * 800, "<p>" + "y" * 500_000)  # 800 chars from a 500 kB page: missed
    assert not needs_fallback("x" * 800, "<p>" + "y" * 5_000)
    assert not needs_fallback("x" * 5_000, "<p>" + "y" * 5_000_000)


def test_cascade_falls_back_when_main_content_is_missed() -> None:
    # The article sits in <noscript>, which the fast path does not read: trafilatura takes over.
    html = f"<html><body><div id='app'></div><noscript><article>{''.join(f'<p>{p}</p>' for p in PARAGRAPHS)}</article></noscript></body></html>"
    assert extract_fast(html) == ""
    assert PARAGRAPHS[0] in extract_main_text(html, "default")


def test_markup_and_line_rules_inside_the_article() -> None:
    """Boilerplate between two paragraphs survives the context rules; markup and line rules take it."""
    html = f"""<html><body><article>
      <p>{PARAGRAPHS[0]}</p>
      <div class="image-caption">Picture taken by a reader on Tuesday evening</div>
      <h3>Das könnte Sie auch interessieren</h3>
      <p>Lire aussi</p>
      <p>{PARAGRAPHS[1]}</p>
    </article></body></html>"""
    text = extract_fast(html)
    assert PARAGRAPHS[0] in text and PARAGRAPHS[1] in text
    for boilerplate in ("Picture taken", "Das könnte Sie", "Lire aussi"):
        assert boilerplate not in text


def test_pruning_spares_a_wrapper_that_holds_the_article() -> None:
    # "info" and "footer" name boilerplate boxes, but here they name the article's wrapper.
    html = f"""<html><body><div class="page has-footer"><div id="article-info-wrapper">
      {''.join(f'<p>{p}</p>' for p in PARAGRAPHS)}
      <div class="post-info">Posted in News</div>
    </div></div></body></html>"""
    text = extract_fast(html)  # without the cascade's fallback, which would hide a pruned article
    assert all(p in text for p in PARAGRAPHS)
    assert "Posted in News" not in text
