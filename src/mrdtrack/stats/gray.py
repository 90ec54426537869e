"""Gray's test: do the cumulative incidence curves of one cause differ between groups?
The k-sample test of Gray (1988, Ann Stat 16:1141), computed as R's ``cmprsk::cuminc`` (2.2,
Fortran ``crstm``, rho = 0, one stratum) does it (docs/statistics.md, "Gray's test").

For the cause of interest (1) against all other causes (2), over the distinct times with an event,
per group g: n_g at risk, S_g(t-) the all-cause Kaplan-Meier curve, F1_g(t-) the cause's CIF.
With h_g = n_g / S_g(t-), tr = sum h_g, tq = sum h_g (1 - F1_g(t-)) and F the pooled
subdistribution estimate (F += d1 / tr), the score for group g is
sum_t d1_g - d1 n_g (1 - F1_g(t-)) / (S_g(t-) tq); its variance is Gray's (a, c, v2, v3 terms
with cmprsk's tie corrections). The statistic s' V^-1 s over the first k - 1 groups is
chi-square with k - 1 degrees of freedom.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.competing import competing_data
from mrdtrack.stats.distributions import chi2_sf
from mrdtrack.stats.inputs import StatsInputError, cell_counts, group_codes

GRAY_COLUMNS = ["cause", "statistic", "df", "p"]


def _counts(time, status, group, ng):
    """Per distinct time with an event: n at risk, cause-1, cause-2 counts per group."""
    times, inv = np.unique(time, return_inverse=True)
    d1 = cell_counts(inv[status == 1], group[status == 1], len(times), ng)
    d2 = cell_counts(inv[status == 2], group[status == 2], len(times), ng)
    exits = cell_counts(inv, group, len(times), ng)
    rs = exits[::-1].cumsum(axis=0)[::-1]  # at risk: time >= t
    keep = (d1.sum(axis=1) + d2.sum(axis=1)) > 0
    return rs[keep], d1[keep], d2[keep]


def _score_variance(rs, d1, d2, rho=0.0):
    """Score (k - 1) and its variance matrix as ``crst`` accumulates them (module docstring)."""
    live = rs > 0
    safe = np.where(live, rs, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _accumulate(rs, d1, d2, live, safe, rho)


def _accumulate(rs, d1, d2, live, safe, rho):
    ng = rs.shape[1]
    skm = np.cumprod(np.where(live, (rs - d1 - d2) / safe, 1.0), axis=0)
    skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
    f1 = np.cumsum(np.where(live, skmm * d1 / safe, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
    t1 = np.where(live, rs / skmm, 0.0)
    tr = t1.sum(axis=1)
    tq = (t1 * (1 - f1m)).sum(axis=1)
    nd1 = d1.sum(axis=1)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate([[0.0], f[:-1]])
    fb = (1 - fm) ** rho
    a = fb[:, None, None] * (np.einsum("ti,ij->tij", t1, np.eye(ng)) - t1[:, :, None] * t1[:, None, :] / tr[:, None, None])
    c = np.cumsum(a * (nd1 / (tr * (1 - fm)))[:, None, None], axis=0)
    s = (fb[:, None] * np.where(live, d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None]), 0.0)).sum(axis=0)
    # cause-1 events: every group at risk
    t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 1.0)
    t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
    t3 = np.where(live & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * safe), 0.0)
    # other causes: groups with such events
    u4 = (1 - f)[:, None] / np.where(skm > 0, skm, 1.0)
    u5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
    u3 = np.where((skm > 0) & (d2 > 0), u5 * skmm ** 2 * d2 / safe ** 2, 0.0)
    u4 = np.where(u3 > 0, u4, 0.0)
    v3 = (t4 * t4 * t3 + u4 * u4 * u3).sum(axis=0)
    w = a - t4[:, None, :] * c  # (time, i, k)
    v2 = np.einsum("tik,tk->ik", w, t4 * t3) - np.einsum("tik,tk->ik", c, u4 * u4 * u3)
    v = np.einsum("tik,tjk,tk->ij", w, w, t3) + np.einsum("tik,tjk,tk->ij", c, c, u4 * u4 * u3)
    cf = c[-1]
    v = v + (cf * v3) @ cf.T + cf @ v2.T + v2 @ cf.T
    return s[:-1], v[:-1, :-1]


def gray_test(df: pd.DataFrame, time: str, event: str, *, group: str, rho: float = 0.0) -> pd.DataFrame:
    """``cause, statistic, df, p`` per cause: R ``cuminc(time, event, group)$Tests``. A singular
    variance (e.g. a group without any event of the cause) gives NaN with a warning in
    ``attrs["warnings"]`` (R prints -1)."""
    if not group:
        raise StatsInputError("gray: give a group column")
    data = competing_data(df, time, event, extra=[group])
    codes, labels = group_codes(data.frame, group)
    ng = len(labels)
    if ng < 2:
        raise StatsInputError(f"column {group!r}: Gray's test needs at least two groups (found {labels[0]!r})")
    rows, warnings = [], []
    for k, cause in enumerate(data.causes, start=1):
        status = np.where(data.cause == k, 1, np.where(data.cause > 0, 2, 0))
        absent = [labels[g] for g in range(ng) if not (status[codes == g] == 1).any()]
        if absent:
            warnings.append(f"cause {cause!r} does not occur in group(s) {', '.join(map(repr, absent))} of {group}")
        s, v = _score_variance(*_counts(data.time, status, codes, ng), rho=rho)
        stat = np.nan
        if np.all(np.isfinite(v)) and np.linalg.matrix_rank(v) == ng - 1:
            stat = float(s @ np.linalg.solve(v, s))
        else:
            warnings.append(f"cause {cause!r}: the variance of Gray's score is singular; the test is not estimable")
        rows.append({"cause": cause, "statistic": stat, "df": ng - 1,
                     "p": float(chi2_sf(stat, ng - 1)) if np.isfinite(stat) else np.nan})
    out = pd.DataFrame(rows, columns=GRAY_COLUMNS)
    out.attrs.update({"warnings": warnings, "n_dropped": data.n_dropped, "groups": labels})
    return out
