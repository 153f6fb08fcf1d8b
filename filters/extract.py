"""HTML -> main text.

Three methods, all taking a decoded HTML string:

`resiliparse`: Resiliparse's main-content extraction as it comes (fast, C++; keeps some boilerplate).
`trafilatura`: trafilatura's extractor (precise, several times slower).
`default`: a cascade, measured against both on `../shared/corpus/web/extraction-gold.json` with
`benchmarks/extraction.py` (F1 above trafilatura's at ~5x its speed; figures in that script's output):

1. Parse with Resiliparse and detach what is boilerplate by its markup: forms, footers, ruby
   annotations, and elements whose class or id names a boilerplate role (author box, caption, comment
   section, cookie banner...). A guard spares an element holding a large share of the page's text, so
   a wrapper named e.g. `has-footer` cannot take the article with it.
2. Resiliparse main-content extraction to minimal HTML (headings, paragraphs, list items, links).
3. Each line is classified from its length and link density, then by its neighbours: the context-
   sensitive classification of jusText (Pomikálek 2011, "Removing Boilerplate and Duplicate Content
   from Web Corpora", ch. 3) with character lengths in place of stop-word density, so that it needs no
   per-language lists. Short lines between good paragraphs stay (list items, ingredients, dialogue);
   runs of short or link-dense lines at the edges go. Lines that only announce related content ("Read
   more", "Das könnte Sie auch interessieren") go too: the one rule with a (multilingual) phrase list.
4. When the cheap path keeps next to nothing (the main-content step missed the article: a page rendered
   in `<noscript>`, an unusual layout), trafilatura extracts the page instead: a few per cent of pages,
   so the cascade keeps most of Resiliparse's speed.

Invisible word-splitting characters (soft hyphens, zero-width spaces) are removed from the result.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from typing import Literal

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree, NodeType

Method = Literal["default", "resiliparse", "trafilatura"]
METHODS: tuple[str, ...] = ("default", "resiliparse", "trafilatura")


def decode_html(payload: bytes, declared_charset: str | None = None) -> str:
    """Bytes to str: the HTTP-declared charset when it decodes cleanly, else detection (resiliparse)."""
    if declared_charset:
        try:
            return payload.decode(declared_charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return bytes_to_str(payload, detect_encoding(payload))


# ---- plain methods ---------------------------------------------------------------------------------------


def extract_resiliparse(html: str) -> str:
    tree = HTMLTree.parse(html)
    return extract_plain_text(
        tree,
        main_content=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        list_bullets=True,
        preserve_formatting=True,
    )


def extract_trafilatura(html: str, fast: bool = False) -> str:
    """trafilatura's main text; `fast` skips its fallback extractors (readability, jusText): ~1.5x faster."""
    import trafilatura

    return (
        trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=False, fast=fast)
        or ""
    )


# ---- default: markup pruning -----------------------------------------------------------------------------

# Elements never part of the main text: forms (comment and newsletter forms, search boxes), footers
# (a page's or an article's: bylines, share buttons, legal lines) and ruby annotations (<rt>/<rp>: the
# pronunciation printed above CJK characters, which would otherwise be spliced into the words).
_DROP_TAGS = ("form", "fieldset", "footer", "rt", "rp")

# Substrings of class / id names that mark boilerplate containers, drawn from the usual vocabulary of
# boilerplate removers (Readability's `unlikelyCandidates`, trafilatura's `OVERALL_DISCARD_XPATH`). A
# name stays only if pruning it removed leaked boilerplate and no main text on the development half of
# the gold pages (`benchmarks/extraction.py --ablate`). Left out: names that also mark content containers
# on real sites ("box", "list", "top", "sidebar", "widget", "meta", "header", "teaser": each cost main
# text), and names that changed nothing there ("related", "share", "breadcrumb", "login", ...): every
# name costs a pass of the selector over the DOM, the most expensive step of the fast path.
_BOILERPLATE_NAMES = (
    "author",  # author boxes and bios
    "byline",
    "footer",  # article and page footers that are not <footer> elements
    "caption",  # image captions and credits
    "legend",
    "disclosure",  # affiliate / advertising disclosures
    "copyright",
    "pagination",
    "cookie",
    "comment",  # comment sections (resiliparse's own comment detection misses many)
    "newsletter",
    "tags",  # tag lists under articles
    "notice",
    "info",  # info boxes, "infobar", "post-info" (date / category lines)
)

# An element matching the selector is kept when it holds more than this share of the page's text: then
# the name belongs to a wrapper of the article (`body class="has-footer"`), not to a boilerplate box.
_PRUNE_MAX_SHARE = 0.4
# Matches shorter than this are removed without the check (on a page so short that they would fail it,
# the cascade's fallback takes over anyway).
_GUARD_MIN_CHARS = 200


def _selector(tags: tuple[str, ...], names: tuple[str, ...]) -> str:
    parts = list(tags)
    for name in names:
        parts.append(f'[class*="{name}" i]')
        parts.append(f'[id*="{name}" i]')
    return ", ".join(parts)


_PRUNE_SELECTOR = _selector(_DROP_TAGS, _BOILERPLATE_NAMES)


def prune_boilerplate(tree: HTMLTree, selector: str | None = None, max_share: float | None = None) -> bool:
    """Detach the elements matching `selector`, except those holding more than `max_share` of the text.

    Returns whether the body held a <ruby> element (for `unwrap_ruby`, which has nothing to do without
    one): the same pass over the DOM finds them for a few per cent more, where a search of the HTML
    for "<ruby" cost a quarter of this function's time on pages of non-Latin-1 text."""
    selector = selector or _PRUNE_SELECTOR
    max_share = _PRUNE_MAX_SHARE if max_share is None else max_share
    body = tree.body
    if body is None:
        return False
    # `.values()` materializes the node list in one call (indexing it item by item is ~50x slower).
    matches = body.query_selector_all(f"{selector}, ruby").values()
    ruby = False
    limit = -1.0  # the page's text is measured only when a match is long enough to need the guard
    for el in matches:
        if el.tag == "ruby":
            ruby = True
            if not el.matches(selector):  # matched only for the return value: not pruned
                continue
        n = len(el.text or "")
        if n > _GUARD_MIN_CHARS:
            if limit < 0:
                limit = max_share * len(body.text or "")
            if n > limit:
                continue
        el.remove()  # detached, not freed: nested matches stay valid and are removed harmlessly
    return ruby


_INLINE_TAGS = frozenset(("a", "span", "b", "strong", "i", "em", "u", "mark", "font", "small"))


def unwrap_ruby(tree: HTMLTree) -> None:
    """Merge each <ruby> (its <rt>/<rp> already pruned) into the text beside it.

    Resiliparse's main-content step drops a text node or inline element whose whole text is one CJK
    character (likely meant for icon glyphs). In Japanese pages with reading aids most single kanji sit
    alone in a <ruby>, often wrapped in a link or span: the wrappers that hold nothing else go too, and
    the text joins the neighbouring text node (in reverse order, so runs of rubies join up)."""
    body = tree.body
    if body is None:
        return
    for el in reversed(body.query_selector_all("ruby").values()):
        text = el.text or ""
        node = el
        parent = node.parent
        while parent is not None and parent.tag in _INLINE_TAGS and (parent.text or "") == text:
            node, parent = parent, parent.parent
        nxt, prev = node.next, node.prev
        if nxt is not None and nxt.type == NodeType.TEXT:
            nxt.value = text + (nxt.value or "")
            node.remove()
        elif prev is not None and prev.type == NodeType.TEXT:
            prev.value = (prev.value or "") + text
            node.remove()
        else:
            node.replace_with(tree.create_text_node(text))


# ---- default: block classification -----------------------------------------------------------------------

_BLOCK_TAGS = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre"))
_TAG = re.compile(r"<(/?)([a-z0-9]+)[^>]*>")
_LINK = re.compile(r"<a\b[^>]*>(.*?)(?:</a>|$)")
_ANY_TAG = re.compile(r"<[^>]+>")
# Characters of scripts written without spaces, where one character carries about a word's worth of
# text: they count three times toward a block's length so that the thresholds below mean the same for
# Japanese or Chinese as for European languages.
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(slots=True)
class Block:
    """One line of the minimal-HTML extract: a heading, a paragraph line, a list item, a table row..."""

    text: str
    tag: str  # innermost block element: p, h1..h6, li, pre; "text" for bare text (table cells, divs)
    link_chars: int  # characters inside <a>
    joined: bool  # continues the previous block's element (a <br> line, the next item of a list)
    length: int = -1  # len(text), CJK characters counted three times; computed when not given

    def __post_init__(self) -> None:
        if self.length < 0:
            n = len(self.text)
            if not self.text.isascii():
                n += 2 * len(_WIDE.findall(self.text))
            self.length = n

    @property
    def link_density(self) -> float:
        return self.link_chars / max(1, len(self.text))


def _plain(fragment: str) -> str:
    text = _ANY_TAG.sub("", fragment) if "<" in fragment else fragment
    return htmllib.unescape(text) if "&" in text else text


_CONTAINERS = frozenset(("ul", "ol", "p", "pre"))


def parse_blocks(minimal_html: str) -> list[Block]:
    """Split Resiliparse's `minimal_html` output into blocks with their tag and link text length."""
    blocks: list[Block] = []
    stack: list[str] = []
    # The innermost block tag on `stack` and the positions of its containers change only with the stack:
    # they are recomputed after a line whose tags changed it, not for every line (most lines have none).
    inner = "text"
    containers: tuple[int, ...] = ()
    prev_container: tuple[int, ...] | None = None
    for raw in minimal_html.split("\n"):
        line = raw.strip()
        if not line:
            prev_container = None
            continue
        container, start_inner = containers, inner  # the stack as the line starts
        opened = None
        if "<" in line:
            changed = False
            for closing, name in _TAG.findall(line):
                if name == "a" or name == "br":
                    continue
                changed = True
                if closing:
                    if name in stack:
                        while stack and stack.pop() != name:
                            pass
                else:
                    stack.append(name)
                    if opened is None and name in _BLOCK_TAGS:
                        opened = name
            if changed:
                inner = next((t for t in reversed(stack) if t in _BLOCK_TAGS), "text")
                containers = tuple(i for i, t in enumerate(stack) if t in _CONTAINERS)
        tag = opened or start_inner
        if tag == "pre" and not opened:
            line = raw.rstrip()  # keep the indentation of preformatted text
        text = _plain(line)
        if not text or text.isspace():
            continue
        link_chars = 0
        if "<a" in line:
            link_chars = sum(len(_plain(fragment).strip()) for fragment in _LINK.findall(line))
        joined = bool(container) and container == prev_container
        blocks.append(Block(text if tag == "pre" else text.strip(), tag, link_chars, joined))
        prev_container = containers or None  # the stack as the line ends
    return blocks


# Thresholds in the roles of jusText's (Pomikálek 2011, sec. 3.2; jusText defaults length_low=70,
# length_high=200, max_link_density=0.2, max_heading_distance=200), set on the development half of the
# gold pages: without stop-word density to vouch for a block, a shorter "good" length and a laxer link
# density keep short paragraphs and paragraphs with a few inline links.
LENGTH_LOW = 40  # shorter blocks are "short": kept only between good blocks
LENGTH_HIGH = 150  # longer blocks with few links are "good"
MAX_LINK_DENSITY = 0.5  # blocks with more link text than this are "bad" (menus, related links, tags)
MAX_HEADING_DISTANCE = 200  # a heading followed by a good block within this many characters is kept

GOOD, NEAR_GOOD, SHORT, BAD = "good", "neargood", "short", "bad"


def _length_class(length: int, link_density: float, length_low: int, length_high: int, max_ld: float) -> str:
    if link_density > max_ld:
        return BAD
    if length < length_low:
        return SHORT
    if length >= length_high:
        return GOOD
    return NEAR_GOOD



def _neighbours(cls: list[str], order: range) -> tuple[list[str], list[str]]:
    """For each block, walking `order`: the class of the nearest block before it that is not short
    (loose), and the nearest that is neither short nor near-good (strict); the edge counts as bad."""
    n = len(cls)
    strict_of, loose_of = [BAD] * n, [BAD] * n
    strict = loose = BAD
    for i in order:
        strict_of[i], loose_of[i] = strict, loose
        c = cls[i]
        if c != SHORT:
            loose = c
            if c != NEAR_GOOD:
                strict = c
    return strict_of, loose_of

def classify_blocks(
    blocks: list[Block],
    length_low: int = LENGTH_LOW,
    length_high: int = LENGTH_HIGH,
    max_link_density: float = MAX_LINK_DENSITY,
    max_heading_distance: int = MAX_HEADING_DISTANCE,
) -> list[bool]:
    """jusText's context-free then context-sensitive classification; True = keep."""
    n = len(blocks)
    cls = [_length_class(b.length, b.link_density, length_low, length_high, max_link_density) for b in blocks]
    if GOOD not in cls:
        # No long paragraph at all (a page of short paragraphs, a poem, a list): near-good blocks
        # anchor the context instead, and with nothing to anchor, everything stays.
        cls = [GOOD if c == NEAR_GOOD else c for c in cls]
        if GOOD not in cls:
            return [True] * n

    # A heading counts as near-good when a good block follows soon after it.
    for i, b in enumerate(blocks):
        if b.tag[0] == "h" and cls[i] == SHORT:
            distance = 0
            for j in range(i + 1, n):
                if cls[j] == GOOD:
                    cls[i] = NEAR_GOOD
                    break
                distance += blocks[j].length
                if distance > max_heading_distance:
                    break

    # Nearest good-or-bad class before / after each block, and nearest good, bad or near-good: short and
    # near-good blocks between them are transparent. The document's edges count as bad.
    prev_strict, prev_loose = _neighbours(cls, range(n))
    next_strict, next_loose = _neighbours(cls, range(n - 1, -1, -1))

    keep = [c == GOOD for c in cls]
    for i, c in enumerate(cls):
        if c == SHORT:
            prev, nxt = prev_strict[i], next_strict[i]
            if prev == GOOD and nxt == GOOD:
                keep[i] = True
            elif prev == BAD and nxt == BAD:
                keep[i] = False
            else:
                keep[i] = (prev == BAD and prev_loose[i] == NEAR_GOOD) or (nxt == BAD and next_loose[i] == NEAR_GOOD)
        elif c == NEAR_GOOD:
            keep[i] = not (prev_strict[i] == BAD and next_strict[i] == BAD)
    return keep


def render_blocks(blocks: list[Block], keep: list[bool]) -> str:
    out: list[str] = []
    prev_kept = False
    for b, k in zip(blocks, keep, strict=True):
        if not k:
            prev_kept = False
            continue
        if out:
            out.append("\n" if b.joined and prev_kept else "\n\n")
        out.append(f"• {b.text}" if b.tag == "li" else b.text)
        prev_kept = True
    return "".join(out)


# ---- default: boilerplate lines -------------------------------------------------------------------------

# Short lines that announce related content, in the languages of the corpus (en, de, fr, es, it, pt, pl,
# nl). The teasers under such a heading often pass as paragraphs, but the heading itself never is main
# text. Only whole lines match, and only lines shorter than _BOILERPLATE_LINE_MAX_CHARS.
_RELATED_LINE = re.compile(
    r"""(?ix)^\W*(?:
      related(?:\ (?:posts?|articles?|stories|content|topics|news|reading))?
     |(?:you|we\ think\ you)\ (?:may|might|will|could)\ (?:also\ )?(?:like|enjoy|be\ interested)
     |read\ (?:more|also|next)|see\ also|more\ (?:from|on|about|in|stories|articles|news|posts)\b.*
     |recommended(?:\ for\ you)?|(?:most\ )?popular(?:\ (?:posts|articles|stories))?|most\ (?:read|viewed|shared)
     |(?:latest|recent)\ (?:news|posts|articles|stories)|also\ on\b.*
     |ähnliche\ (?:beiträge|artikel|themen|nachrichten|posts|rezepte)
     |das\ könnte\ (?:sie|dich|euch)\ auch\ interessieren|(?:auch|ebenfalls)\ interessant
     |(?:lesen\ sie|lies)\ (?:auch|mehr|weiter)|mehr\ (?:zum\ thema|zu\ diesem\ thema|dazu|aus|von|zu)\b.*
     |zum\ weiterlesen|weiterlesen
     |weitere\ (?:artikel|beiträge|informationen|infos|nachrichten|themen|meldungen|news|links)\b.*
     |verwandte\ (?:artikel|themen|beiträge)|neueste\ (?:artikel|beiträge|nachrichten)|meist\ (?:gelesen|gesucht)\b.*
     |vous\ aimerez\ aussi|(?:à\ )?lire\ aussi|articles?\ (?:similaires|liés)|sur\ le\ même\ sujet|voir\ aussi
     |(?:también\ )?te\ puede\ (?:interesar|gustar)|lee\ también|(?:noticias|artículos)\ relacionad[oa]s
     |más\ noticias|puedes\ ver|potrebbe\ interessarti|leggi\ anche|articoli\ correlati|leia\ também|veja\ também
     |czytaj\ (?:też|także|więcej)|zobacz\ (?:też|także)|lees\ ook|gerelateerde\ artikelen
    )\W*$"""
)
_BOILERPLATE_LINE_MAX_CHARS = 80


def drop_boilerplate_lines(blocks: list[Block], keep: list[bool]) -> list[bool]:
    return [
        k and not (len(b.text) < _BOILERPLATE_LINE_MAX_CHARS and _RELATED_LINE.match(b.text) is not None)
        for b, k in zip(blocks, keep, strict=True)
    ]


# ---- default: the cascade --------------------------------------------------------------------------------

# When the cheap path keeps less than FALLBACK_MIN_CHARS, or less than FALLBACK_MAX_CHARS from a page
# over 1/FALLBACK_MIN_SHARE times larger (in HTML characters), its main-content step has most likely
# missed the article (on the gold pages nearly every such output is an extraction failure, not a short
# page), and trafilatura extracts the page instead: ~6% of the gold pages.
FALLBACK_MIN_CHARS = 200
FALLBACK_MAX_CHARS = 1000
FALLBACK_MIN_SHARE = 0.005

# Invisible characters that only split words: soft hyphens (U+00AD, hyphenation hints some sites put in
# every long word), the zero-width space and the word joiner. (Zero-width (non-)joiners stay: they are
# part of the spelling in Persian, Indic scripts and emoji sequences.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060]")


_MINIMAL_HTML_OPTIONS = dict(
    preserve_formatting="minimal_html",
    main_content=True,
    links=True,  # link targets mark link text, for the link density of each block
    alt_texts=False,
    form_fields=False,
    noscript=False,
    comments=False,  # comment sections are not main text (measured: keeping them costs precision)
    list_bullets=True,  # keeps <ul>/<ol>/<li> in the minimal HTML
)


def extract_fast(html: str) -> str:
    """Steps 1-3 of the cascade (no trafilatura)."""
    tree = HTMLTree.parse(html)
    # Both tests as before this shortcut: "<ruby" in the HTML decides, as it always did (an upper-case
    # <RUBY> is left alone); the cheap test from the pruning pass only spares the search of the HTML.
    if prune_boilerplate(tree) and "<ruby" in html:
        unwrap_ruby(tree)
    minimal = extract_plain_text(tree, **_MINIMAL_HTML_OPTIONS)
    blocks = parse_blocks(minimal)
    keep = drop_boilerplate_lines(blocks, classify_blocks(blocks))
    return render_blocks(blocks, keep)


def needs_fallback(text: str, html: str) -> bool:
    """Whether the fast path's `text` from `html` looks like a missed article (see FALLBACK_*)."""
    n = len(text)
    return n < FALLBACK_MIN_CHARS or (n < FALLBACK_MAX_CHARS and n < FALLBACK_MIN_SHARE * len(html))


def extract_default(html: str) -> str:
    text = extract_fast(html)
    if needs_fallback(text, html):
        # trafilatura's own fallback extractors add nothing measurable here and cost a third of its time.
        fallback = extract_trafilatura(html, fast=True)
        if len(fallback) > len(text):
            text = fallback
    return _INVISIBLE.sub("", text)


def extract_main_text(html: str, method: Method = "default") -> str:
    if method == "default":
        return extract_default(html)
    if method == "resiliparse":
        return extract_resiliparse(html)
    if method == "trafilatura":
        return extract_trafilatura(html)
    raise ValueError(f"unknown extraction method {method!r} (expected one of {', '.join(METHODS)})")


def extract_full_text(html: str) -> str:
    """All body text of a page, in document order, with paragraph breaks: for book chapters (EPUB), which
    have no navigation or boilerplate for main-content extraction to take off (and where it would cut
    short chapters and poems)."""
    tree = HTMLTree.parse(html)
    text = extract_plain_text(
        tree, main_content=False, preserve_formatting=True, alt_texts=False, links=False,
        form_fields=False, noscript=False, comments=False, list_bullets=True,
    )
    return _INVISIBLE.sub("", text)
