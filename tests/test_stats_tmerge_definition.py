"""``tmerge`` against its definition, subject by subject (the module docstring, R's ``tmerge`` with
``event(futime, status)`` and ``tdc(time, value)``): random small tables, including changes before
the start, at the start, at the end of follow-up, several at one time, for unknown ids, and none."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.stats import tmerge


def _by_definition(base: pd.DataFrame, changes: pd.DataFrame, initial) -> list[tuple]:
    """(id, start, stop, event, value) rows, written the slow and obvious way."""
    rows = []
    for _, subject in base.sort_values("id").iterrows():
        fut = float(subject["futime"])
        mine = [(max(float(t), 0.0), k, v) for k, (i, t, v) in enumerate(changes[["id", "time", "value"]].itertuples(
            index=False)) if i == subject["id"] and float(t) < fut]
        starts = sorted({0.0} | {t for t, _, _ in mine if t > 0})
        for j, start in enumerate(starts):
            stop = starts[j + 1] if j + 1 < len(starts) else fut
            before = [(t, k, v) for t, k, v in mine if t <= start]
            value = max(before)[2] if before else initial  # the latest time, the last listed at a tie
            rows.append((subject["id"], start, stop, int(subject["status"]) if stop == fut else 0, value))
    return rows


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(1, 6), initial=st.sampled_from([None, 0.0]))
def test_tmerge_follows_its_definition(data, n, initial):
    ids = data.draw(st.permutations([f"p{i}" for i in range(n)]))
    base = pd.DataFrame({"id": ids,
                         "futime": data.draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.5]), min_size=n, max_size=n)),
                         "status": data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))})
    m = data.draw(st.integers(0, 12))
    changes = pd.DataFrame({
        "id": data.draw(st.lists(st.sampled_from([f"p{i}" for i in range(n + 1)]), min_size=m, max_size=m)),
        "time": data.draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0, 7.5, 9.0]), min_size=m,
                                   max_size=m)),
        "value": data.draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))}, columns=["id", "time", "value"])
    changes = changes.astype({"time": float, "value": float})
    out = tmerge(base, changes, initial=initial)
    want = _by_definition(base, changes, np.nan if initial is None else initial)
    assert list(out.columns) == ["id", "start", "stop", "event", "x"]
    assert len(out) == len(want)
    for got, exp in zip(out.itertuples(index=False), want):
        assert got[:4] == exp[:4]
        assert (np.isnan(got[4]) and np.isnan(exp[4])) or got[4] == exp[4]
    orphans = int((~changes["id"].isin(base["id"])).sum())
    assert out.attrs["warnings"] == ([f"{orphans} change(s) for ids not in the baseline table were ignored"]
                                     if orphans else [])
