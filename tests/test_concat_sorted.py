"""``concat_sorted`` skips the sort only when the pieces are already in order (sorting.py; executors and pipeline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.sorting import concat_sorted, is_sorted

rows = st.lists(st.tuples(st.sampled_from(["P1", "P10", "P2", "Q"]), st.integers(0, 5),
                          st.one_of(st.none(), st.floats(0, 3, allow_nan=False))), max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows, st.integers(1, 4))
def test_is_sorted_answers_whether_a_stable_sort_changes_nothing(data, pieces):
    df = pd.DataFrame(data, columns=["patient_id", "day", "t"])
    df["t"] = df["t"].astype(float)
    for by in (["patient_id"], ["patient_id", "day"], ["patient_id", "t"]):
        stable = df.sort_values(by, kind="stable").reset_index(drop=True)
        if is_sorted(df, by):  # when it says sorted, sorting must not change a thing
            pd.testing.assert_frame_equal(df.reset_index(drop=True), stable)
        elif df[by].notna().all().all():  # with every key present, "not sorted" means a sort moves rows
            assert not df.reset_index(drop=True).equals(stable)
        cuts = np.linspace(0, len(df), pieces + 1).astype(int)
        parts = [df.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
        pd.testing.assert_frame_equal(concat_sorted(list(parts), by), stable) if len(df) else None
