"""Proportional-hazards test of R's ``cox.zph`` (survival >= 3.0; numbers of survival 3.5-3).

For each term, the score test of adding x * g(t) to the fitted model, evaluated at (b_hat, 0):
g is the ``km`` transform 1 - S(t-) (left-continuous Kaplan-Meier of all rows, delayed entry
honoured; ``identity``, ``rank`` and ``log`` also offered), centred at its mean over events. With
the per-event terms of the Cox fit (weighted mean a_k and variance V_k, Efron or Breslow as
fitted), u2 = sum_k g_k (x_k - a_k) and the information of (b, b2) has blocks
sum V_k, sum g_k V_k, sum g_k^2 V_k. The statistic is u' I^-1 u with u = (0, u2 restricted to the
term's columns) and I the matching submatrix; GLOBAL uses all columns (df = number of columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.cox import CoxResult, death_terms
from mrdtrack.stats.distributions import chi2_sf, rankdata
from mrdtrack.stats.inputs import StatsInputError
from mrdtrack.stats.km import _at_risk

TRANSFORMS = ("km", "identity", "rank", "log")


def _left_km(stop, event, start, at):
    """1 - S(t-) of the pooled Kaplan-Meier curve at times ``at``."""
    times = np.unique(stop[event])
    d = np.bincount(np.searchsorted(times, stop[event]), minlength=len(times))
    n = _at_risk(start, stop, times)
    surv = np.cumprod(1 - d / n)
    idx = np.searchsorted(times, at, side="left")  # event times strictly before each t
    return 1 - np.concatenate([[1.0], surv])[idx]


def cox_zph(fit: CoxResult, transform: str = "km") -> pd.DataFrame:
    """``term, chisq, df, p`` per covariate (its columns together, as R's ``terms=TRUE``) and GLOBAL."""
    if transform not in TRANSFORMS:
        raise StatsInputError(f"transform {transform!r}: use one of {', '.join(TRANSFORMS)}")
    m = fit._model
    stop, start, ev = m["stop"], m["start"], m["event"]
    if transform == "km":
        g_all = _left_km(stop, ev, start, stop)
    elif transform == "rank":
        g_all = rankdata(stop)
    elif transform == "log":
        g_all = np.log(stop)
    else:
        g_all = stop.astype(float)
    terms = death_terms(m["x"], fit.coef, m["prep"])
    x = np.concatenate(terms["x"])
    a = np.concatenate(terms["a"])
    v = np.concatenate(terms["v"])
    # g at each event in the order death_terms lists them (stratum, then time)
    g_events = np.concatenate([g_all[st.rows[st.deaths]] for st in m["prep"]])
    g = g_events - g_all[ev].mean()
    p = x.shape[1]
    u2 = (g[:, None] * (x - a)).sum(axis=0)
    i11 = v.sum(axis=0)
    i12 = (g[:, None, None] * v).sum(axis=0)
    i22 = (g[:, None, None] ** 2 * v).sum(axis=0)
    imat = np.block([[i11, i12], [i12.T, i22]])

    def stat(cols):
        kk = np.concatenate([np.arange(p), p + np.asarray(cols)])
        u = np.concatenate([np.zeros(p), u2[cols]])
        return float(np.linalg.solve(imat[np.ix_(kk, kk)], u) @ u)

    rows = [{"term": name, "chisq": stat(cols), "df": len(cols)} for name, cols in fit.assign.items()]
    rows.append({"term": "GLOBAL", "chisq": stat(list(range(p))), "df": p})
    out = pd.DataFrame(rows)
    out["p"] = chi2_sf(out["chisq"], out["df"])
    return out
