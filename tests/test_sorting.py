"""group_order is the stable argsort of group numbers, whatever their range."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.sorting import group_order


@settings(max_examples=200, deadline=None)
@given(n_groups=st.sampled_from([1, 2, 26, 127, 128, 300, 32767, 40000]), size=st.integers(0, 400),
       seed=st.integers(0, 2**32 - 1))
def test_group_order_is_the_stable_argsort(n_groups, size, seed):
    groups = np.random.default_rng(seed).integers(-1, n_groups, size)
    assert np.array_equal(group_order(groups, n_groups), np.argsort(groups, kind="stable"))
