"""``external_references`` answers as its tag-by-tag definition does: the quick whole-page test that
lets a clean page skip the tag-by-tag search never says "nothing" where that search finds a reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.report.html import _may_reference, _tag_references, external_references

NAMES = ["href", "HREF", "src", "xlink:href", "data", "poster", "background", "srcset", "action", "style",
         "xmlns", "title", "d", "data-x", "id"]
VALUES = ["//x.org/a", "http://x.org", "HTTPS://x", "x.png", "#frag", "url(//x)", "background:url('//x')",
          "@import 'y'", "a<b", "a>b", "", " //x"]
SPACE = st.sampled_from(["", " ", "\n", "  \t"])
QUOTE = st.sampled_from(['"', "'", ""])


@st.composite
def attribute(draw):
    q = draw(QUOTE)
    return f"{draw(st.sampled_from(NAMES))}{draw(SPACE)}={draw(SPACE)}{q}{draw(SPACE)}{draw(st.sampled_from(VALUES))}{q}"


@st.composite
def tag(draw):
    name = draw(st.sampled_from(["a", "svg", "img", "p", "use", "link"]))
    attrs = draw(st.lists(attribute(), max_size=3))
    return f"<{name}{''.join(' ' + a for a in attrs)}>"


TEXT = st.sampled_from(["text ", "see http://x.org ", "href=//x ", "<", ">", "a = //b", "<style>@import 'x';</style>",
                        "<style>p{}</style>", "<!-- src=//x -->", " "])
PAGE = st.lists(st.one_of(tag(), TEXT), max_size=12).map("".join)


@settings(max_examples=3000, deadline=None)
@given(PAGE)
def test_quick_test_never_misses_what_the_tag_search_finds(html):
    found = _tag_references(html)
    assert not found or _may_reference(html)
    assert external_references(html) == found


def test_the_demo_page_is_clean_by_the_quick_test():
    """Namespace URLs (``xmlns="http://..."``) in every SVG are not references."""
    svg = '<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"><path d="M 0 0"/></svg>'
    assert not _may_reference(f"<html><body>{svg * 3}<p>see http://example.org</p></body></html>")
    assert _may_reference(f"<html><body>{svg}<img src='//example.org/x.png'></body></html>")
