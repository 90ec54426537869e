"""Counting-process data with a time-dependent covariate, as R's ``survival::tmerge`` builds it.

``tmerge(base, changes)`` does what, in R,
``td <- tmerge(base, base, id = id, event = event(futime, status))`` followed by
``tmerge(td, changes, id = id, x = tdc(time, value))`` does: one row per subject and interval
(start, stop], starting at 0 and ending at the follow-up time, split at every change time strictly
inside follow-up; the covariate on (t_k, t_k+1] is the value of the latest change at or before t_k
(a change at or before 0 holds from the start; several at one time: the last listed wins); changes
at or after the end of follow-up are ignored; before the first change the value is ``initial``
(R's NA when None; R's ``tdc(time)`` without a value is ``initial=0`` with values 1). The event is
kept on each subject's last interval only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.inputs import StatsInputError, drop_missing, event_column, numeric_column, require_columns


def tmerge(base: pd.DataFrame, changes: pd.DataFrame, *, id_col: str = "id", time_col: str = "futime",
           event_col: str = "status", tdc_name: str = "x", change_time_col: str = "time",
           change_value_col: str = "value", initial: float | None = None) -> pd.DataFrame:
    """Rows ``id, <other base columns>, start, stop, event, <tdc_name>`` sorted by id and start.

    ``attrs["warnings"]`` lists changes for ids not in ``base`` (ignored, as they cannot apply).
    """
    require_columns(base, [id_col, time_col, event_col])
    require_columns(changes, [id_col, change_time_col, change_value_col])
    b, dropped = drop_missing(base, [id_col, time_col, event_col])
    fut = numeric_column(b, time_col)
    if (fut <= 0).any():
        row = int(np.flatnonzero(fut <= 0)[0])
        raise StatsInputError(f"column {time_col!r}: follow-up time {fut[row]:g} is not positive (row {row + 1})")
    if b[id_col].duplicated().any():
        dup = b.loc[b[id_col].duplicated(), id_col].iloc[0]
        raise StatsInputError(f"column {id_col!r}: id {dup!r} appears more than once in the baseline table")
    ev = event_column(b, event_col)
    # subjects by code: the rank of their id (ids are unique), so the rows come out sorted by id
    code, ids = pd.factorize(b[id_col], sort=True)
    row_of = np.empty(len(code), dtype=np.int64)
    row_of[code] = np.arange(len(code))  # the baseline row of each code
    fut_of, ev_of = fut[row_of], ev[row_of]

    c = changes[[id_col, change_time_col, change_value_col]]
    c = c[c[id_col].notna() & c[change_time_col].notna()]
    c_code = pd.Index(ids).get_indexer(c[id_col]) if len(c) else np.zeros(0, dtype=np.int64)
    warnings = []
    unknown = c_code < 0
    if unknown.any():
        warnings.append(f"{int(unknown.sum())} change(s) for ids not in the baseline table were ignored")
    c_t = numeric_column(c, change_time_col) if len(c) else np.zeros(0)
    keep = ~unknown
    keep[keep] = c_t[keep] < fut_of[c_code[keep]]  # at or after the end of follow-up: ignored
    values = c[change_value_col].iloc[np.flatnonzero(keep)].reset_index(drop=True)  # in listed order
    c_code, c_t = c_code[keep], np.maximum(c_t[keep], 0.0)  # at or before the start: holds from the start

    # intervals: (0, first cut], ..., (last cut, follow-up] per subject; cuts are the distinct change times
    cut = c_t > 0
    i_code = np.concatenate([np.arange(len(row_of)), c_code[cut]])
    i_start = np.concatenate([np.zeros(len(row_of)), c_t[cut]])
    order = np.lexsort((i_start, i_code))
    i_code, i_start = i_code[order], i_start[order]
    new = np.r_[True, (i_code[1:] != i_code[:-1]) | (i_start[1:] != i_start[:-1])]
    i_code, i_start = i_code[new], i_start[new]
    same_next = np.r_[i_code[1:] == i_code[:-1], False]
    i_stop = np.where(same_next, np.r_[i_start[1:], 0.0], fut_of[i_code])

    # value: the latest change at or before the interval start (the last listed among equal times).
    # Changes and interval starts sorted together by (subject, time), changes first at a tie; the
    # running maximum of the change positions is the latest change so far, if it is the subject's.
    c_order = np.lexsort((np.arange(len(c_code)), c_t, c_code))
    n_c = len(c_order)
    key_code = np.concatenate([c_code[c_order], i_code])
    key_t = np.concatenate([c_t[c_order], i_start])
    kind = np.r_[np.zeros(n_c, dtype=np.int8), np.ones(len(i_code), dtype=np.int8)]
    merged = np.lexsort((kind, key_t, key_code))
    last = np.maximum.accumulate(np.where(merged < n_c, merged, -1)) if len(merged) else merged
    at = np.empty(len(merged), dtype=np.int64)
    at[merged] = np.arange(len(merged))
    latest = last[at[n_c:]]  # for each interval: position in the sorted changes, or -1
    ok = latest >= 0
    ok[ok] = c_code[c_order[latest[ok]]] == i_code[ok]  # a change of an earlier subject does not count
    taken = np.full(len(latest), -1, dtype=np.int64)
    taken[ok] = c_order[latest[ok]]  # the change's row among the kept changes
    arr = values.array if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else values.to_numpy()
    tdc = pd.Series(pd.api.extensions.take(arr, taken, allow_fill=True))  # none yet: NaN (ints become floats)
    if initial is not None:
        tdc = tdc.fillna(initial)

    rows = row_of[i_code]  # each interval's baseline row: its id and other columns, dtypes kept
    other = [col for col in b.columns if col not in (id_col, time_col, event_col, tdc_name)]
    out = pd.DataFrame({col: b[col].iloc[rows].array for col in (id_col, *other)})
    out["start"] = i_start
    out["stop"] = i_stop
    out["event"] = np.where(i_stop == fut_of[i_code], ev_of[i_code], 0).astype(int)  # on the last interval
    out[tdc_name] = tdc.array
    out.attrs["warnings"] = warnings
    out.attrs["n_dropped"] = dropped
    return out
