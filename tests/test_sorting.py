"""group_order is the stable argsort of group numbers, whatever their range; lex_order is lexsort."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.sorting import group_order, lex_order


@settings(max_examples=200, deadline=None)
@given(n_groups=st.sampled_from([1, 2, 26, 127, 128, 300, 32767, 40000]), size=st.integers(0, 400),
       seed=st.integers(0, 2**32 - 1))
def test_group_order_is_the_stable_argsort(n_groups, size, seed):
    groups = np.random.default_rng(seed).integers(-1, n_groups, size)
    assert np.array_equal(group_order(groups, n_groups), np.argsort(groups, kind="stable"))


@settings(max_examples=300, deadline=None)
@given(spans=st.lists(st.sampled_from([1, 2, 10, 2**20, 2**40, 2**62]), min_size=1, max_size=4),
       size=st.integers(0, 300), signed=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_lex_order_is_lexsort(spans, size, signed, seed):
    """Packed or not (wide keys fall back), the order is lexsort's, ties in row order; negative keys too."""
    rng = np.random.default_rng(seed)
    keys = [rng.integers(-span if signed else 0, span, size) for span in spans]
    assert np.array_equal(lex_order(keys), np.lexsort(keys[::-1]))


def test_lex_order_of_few_distinct_values_keeps_row_order():
    day = np.array([5, 3, 5, 3, 5], dtype=np.int64)
    code = np.array([1, 1, 0, 1, 0], dtype=np.int8)
    assert lex_order([day, code]).tolist() == [1, 3, 2, 4, 0]
    assert lex_order([np.array([True, False, True])]).tolist() == [1, 0, 2]
