"""Cumulative incidence with competing events: the Aalen-Johansen estimator, as R's ``survfit``
with a factor event (``survfit(Surv(time, factor(event)) ~ 1)``, column ``pstate``).

At each distinct event time t_k (any cause), with n_k at risk (start < t_k <= time) and d_ck
events of cause c, CIF_c(t) = sum_{t_k <= t} S(t_k-) d_ck / n_k, where S is the all-cause
Kaplan-Meier curve. Event coding: 0 (or "0") = censored; any other value names the cause.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.inputs import StatsInputError, drop_missing, level_label, numeric_column, sorted_levels
from mrdtrack.stats.km import _at_risk


def _is_censored(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
        return series.to_numpy(float) == 0
    return series.astype(str).str.strip().isin(["0", "0.0"]).to_numpy()


def cumulative_incidence(df: pd.DataFrame, time: str, event: str, *, start: str | None = None) -> pd.DataFrame:
    """``time, cif_<cause>...`` at each distinct event time, causes in sorted order."""
    d, dropped = drop_missing(df, [time, event, start])
    t = numeric_column(d, time)
    if (t < 0).any():
        raise StatsInputError(f"column {time!r}: negative time {t[t < 0][0]:g}")
    st = None
    if start is not None:
        st = numeric_column(d, start)
        if (st >= t).any():
            raise StatsInputError(f"columns {start!r}/{time!r}: stop is not after start in "
                                  f"{int((st >= t).sum())} row(s)")
    cens = _is_censored(d[event])
    causes = sorted_levels(d.loc[~cens, event])
    if not causes:
        raise StatsInputError(f"column {event!r}: no events (0 = censored, other values name the cause)")
    ev = d[event].to_numpy()
    times = np.unique(t[~cens])
    n = _at_risk(st, t, times).astype(float)
    idx = np.searchsorted(times, t[~cens])
    d_all = np.bincount(idx, minlength=len(times))
    surv_before = np.concatenate([[1.0], np.cumprod(1 - d_all / n)[:-1]])
    out = pd.DataFrame({"time": times})
    for c in causes:
        dc = np.bincount(idx[ev[~cens] == c], minlength=len(times))
        out[f"cif_{level_label(c)}"] = np.cumsum(surv_before * dc / n)
    out.attrs["n_dropped"] = dropped
    out.attrs["warnings"] = []
    return out
