"""``external_references`` answers as its tag-by-tag definition does: the quick whole-page test that
lets a clean page skip the tag-by-tag search never says "nothing" where that search finds a reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.report.html import _may_reference, _tag_references, external_references

FRAGMENTS = ["<a ", "<svg ", "<img ", "<style>", "</style>", "<p>", ">", "href", "HREF", "src", "xlink:href",
             "data", "poster", "background", "style", "=", " ", "\n", '"', "'", "//", "http:", "https:", "url(",
             "@import", "x", "<", "text ", "<!-- ", "xmlns", ":"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_quick_test_never_misses_what_the_tag_search_finds(html):
    found = _tag_references(html)
    assert not found or _may_reference(html)
    assert external_references(html) == found


def test_the_demo_page_is_clean_by_the_quick_test():
    """Namespace URLs (``xmlns="http://..."``) in every SVG are not references."""
    svg = '<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"><path d="M 0 0"/></svg>'
    assert not _may_reference(f"<html><body>{svg * 3}<p>see http://example.org</p></body></html>")
    assert _may_reference(f"<html><body>{svg}<img src='//example.org/x.png'></body></html>")
