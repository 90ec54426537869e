"""``io.parse``: a number's reason asked for some rows only is the full answer on those rows; the
substring search answers as pandas' ``str.contains`` (Arrow-backed and plain text)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.io.parse import STRING, contains_any, parse_number

CELLS = st.one_of(st.none(), st.sampled_from(["1.5", " 2 ", "<0.1", "≤ 3", "negative", "", "1e400", "nan", "abc",
                                              "-0", "7"]), st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(st.lists(CELLS, max_size=40), st.data())
def test_reasons_for_some_rows_are_the_full_reasons_there(cells, data):
    s = pd.Series(cells, dtype=STRING)
    explain = np.array(data.draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells))), dtype=bool)
    v_all, t_all, r_all = parse_number(s)
    v, t, r = parse_number(s, explain=explain)
    pd.testing.assert_series_equal(v, v_all)
    pd.testing.assert_series_equal(t, t_all)
    assert r[explain].tolist() == r_all[explain].tolist()
    assert r[~explain].isna().all()


@settings(max_examples=200, deadline=None)
@given(st.lists(CELLS, max_size=40), st.sampled_from([("<", "≤"), ("<",), ("a", "e")]))
def test_contains_any_is_str_contains(cells, parts):
    expected = any(pd.Series(cells, dtype=object).astype(str).where(pd.Series(cells).notna())
                   .str.contains(p, regex=False, na=False).any() for p in parts)
    assert contains_any(pd.Series(cells, dtype=STRING), parts) == expected
    assert contains_any(pd.Series(cells, dtype=object), parts) == expected
