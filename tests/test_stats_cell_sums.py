"""``cell_counts`` and ``signed_sums`` give the very numbers of the ``np.add.at`` calls they replace
in the cumulative incidence and Gray's test (same additions in the same order: equal bits)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mrdtrack.stats.inputs import cell_counts, signed_sums


@st.composite
def positions_and_values(draw):
    length = draw(st.integers(1, 40))
    n = draw(st.integers(0, 120))
    k = draw(st.integers(1, 3))
    idx = st.integers(0, length - 1)
    a = np.array(draw(st.lists(idx, min_size=n, max_size=n)), dtype=np.int64)
    b = np.array(draw(st.lists(idx, min_size=n, max_size=n)), dtype=np.int64)
    v = draw(arrays(np.float64, (n, k), elements=st.floats(-1e6, 1e6, allow_nan=False, width=64)))
    return a, b, v, length


@settings(max_examples=300, deadline=None)
@given(positions_and_values())
def test_signed_sums_are_add_at_bit_for_bit(case):
    a, b, v, length = case
    expected = np.zeros((length, v.shape[1]))
    np.add.at(expected, a, v)
    np.add.at(expected, b, -v)
    assert np.array_equal(signed_sums(a, b, v, length), expected)


@settings(max_examples=300, deadline=None)
@given(positions_and_values(), st.integers(1, 4))
def test_cell_counts_are_add_at_of_ones(case, n_cols):
    a, _, _, length = case
    cols = a % n_cols
    expected = np.zeros((length, n_cols))
    np.add.at(expected, (a, cols), 1.0)
    got = cell_counts(a, cols, length, n_cols)
    assert got.dtype == np.float64 and np.array_equal(got, expected)
