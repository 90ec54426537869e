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
    b = b.assign(_fut=fut, _ev=event_column(b, event_col))
    c = changes[[id_col, change_time_col, change_value_col]].copy()
    c = c[c[id_col].notna() & c[change_time_col].notna()]
    c["_t"] = numeric_column(c, change_time_col) if len(c) else np.zeros(0)
    c["_seq"] = np.arange(len(c))
    warnings = []
    unknown = ~c[id_col].isin(b[id_col])
    if unknown.any():
        warnings.append(f"{int(unknown.sum())} change(s) for ids not in the baseline table were ignored")
    c = c[~unknown].merge(b[[id_col, "_fut"]], on=id_col, how="left")
    c = c[c["_t"] < c["_fut"]]  # at or after the end of follow-up: ignored
    c["_t"] = np.maximum(c["_t"].to_numpy(float), 0.0)  # at or before the start: holds from the start
    cuts = c.loc[c["_t"] > 0, [id_col, "_t"]].drop_duplicates()
    starts = pd.concat([pd.DataFrame({id_col: b[id_col].to_numpy(), "_t": 0.0}), cuts], ignore_index=True)
    starts = starts.merge(b[[id_col, "_fut"]], on=id_col).sort_values([id_col, "_t"], kind="stable")
    nxt = starts.groupby(id_col, sort=False)["_t"].shift(-1)
    starts["stop"] = nxt.fillna(starts["_fut"]).to_numpy(float)
    starts = starts.rename(columns={"_t": "start"})
    # value: the latest change (last listed among equal times) at or before the interval start
    c = c.sort_values(["_t", "_seq"], kind="stable")
    left = starts.sort_values("start", kind="stable")
    merged = pd.merge_asof(left, c[[id_col, "_t", change_value_col]], left_on="start", right_on="_t",
                           by=id_col, direction="backward", allow_exact_matches=True)
    merged[tdc_name] = merged[change_value_col]
    if initial is not None:
        merged[tdc_name] = merged[tdc_name].fillna(initial)
    merged = merged.sort_values([id_col, "start"], kind="stable").reset_index(drop=True)
    other = [col for col in b.columns if col not in (id_col, time_col, event_col, "_fut", "_ev", tdc_name)]
    out = merged[[id_col, "start", "stop", tdc_name]].merge(b[[id_col, *other, "_fut", "_ev"]], on=id_col,
                                                            how="left")
    out["event"] = np.where(out["stop"].to_numpy() == out["_fut"].to_numpy(), out["_ev"], 0).astype(int)
    out = out[[id_col, *other, "start", "stop", "event", tdc_name]].reset_index(drop=True)
    out.attrs["warnings"] = warnings
    out.attrs["n_dropped"] = dropped
    return out
