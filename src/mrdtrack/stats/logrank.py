"""k-group log-rank test, optionally stratified, as R's ``survival::survdiff`` (rho = 0).

Within each stratum, at each distinct event time t with n at risk and d events, group g with n_g
at risk has expected events n_g d / n and variance contributions
V_gh = d (n - d) / (n^2 (n - 1)) n_g (n delta_gh - n_h). O, E and V are summed over times and
strata; chisq = (O - E)' V^- (O - E) over the groups with E > 0 less one, df = that count - 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.distributions import chi2_sf
from mrdtrack.stats.inputs import StatsInputError, group_codes, survival_data


def logrank_test(df: pd.DataFrame, time: str, event: str, group: str, *, strata: str | None = None) -> dict:
    """``{chisq, df, p, groups: DataFrame(group, n, observed, expected), warnings}``."""
    if group is None:
        raise StatsInputError("logrank: give a group column")
    data = survival_data(df, time, event, None, extra=[group, *([strata] if strata else [])])
    g, labels = group_codes(data.frame, group)
    s, _ = group_codes(data.frame, strata)
    k = len(labels)
    if k < 2:
        raise StatsInputError(f"column {group!r}: a log-rank test needs at least two groups (found {labels[0]!r})")
    obs, exp = np.zeros(k), np.zeros(k)
    var = np.zeros((k, k))
    for code in np.unique(s):
        m = s == code
        t, e, gg = data.time[m], data.event[m].astype(bool), g[m]
        times = np.unique(t[e])
        if times.size == 0:
            continue
        n_g = np.stack([len(t[gg == j]) - np.searchsorted(np.sort(t[gg == j]), times, side="left")
                        for j in range(k)], axis=1).astype(float)
        d_g = np.stack([np.bincount(np.searchsorted(times, t[e & (gg == j)]), minlength=len(times))
                        for j in range(k)], axis=1).astype(float)
        n, d = n_g.sum(axis=1), d_g.sum(axis=1)
        obs += d_g.sum(axis=0)
        exp += (n_g * (d / n)[:, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(n > 1, d * (n - d) / (n * n * (n - 1)), 0.0)
        var += np.diag((c * n) @ n_g) - np.einsum("t,tg,th->gh", c, n_g, n_g)
    warnings = [f"group {labels[j]!r} of {group} has no events" for j in range(k) if obs[j] == 0]
    keep = exp > 0
    if keep.sum() < 2:
        chisq, dof = 0.0, 0
        warnings.append("fewer than two groups with expected events: no test")
    else:
        diff = (obs - exp)[keep][1:]
        v = var[np.ix_(keep, keep)][1:, 1:]
        chisq = float(np.linalg.solve(v, diff) @ diff)
        dof = int(keep.sum() - 1)
    groups = pd.DataFrame({"group": labels, "n": np.bincount(g, minlength=k), "observed": obs, "expected": exp})
    return {"chisq": chisq, "df": dof, "p": float(chi2_sf(chisq, dof)) if dof else float("nan"),
            "groups": groups, "warnings": warnings, "n_dropped": data.n_dropped}
