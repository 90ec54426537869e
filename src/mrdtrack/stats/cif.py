"""Cumulative incidence with competing events: the Aalen-Johansen estimator, as R's ``survfit``
with a factor event (``survfit(Surv(time, factor(event)) ~ group)``, survival 3.5-3) computes it.

At each distinct time t_k with n_k at risk (start < t_k <= time) and d_ck events of cause c,
CIF_c(t) = sum_{t_k <= t} S(t_k-) d_ck / n_k, where S is the all-cause Kaplan-Meier curve.

Standard errors are R's infinitesimal jackknife: var CIF_c(t) = sum_i U_ic(t)^2, U_ic the
derivative of CIF_c(t) with respect to observation i's case weight. Every observation's U_ic(t)
is ``F_c(t) + a_i + b_i G_c(t)`` while it is at risk and ``alpha_i + beta_i G_c(t)`` after it
leaves, with F, G cumulative sums over the times, so the sum of squares takes cumulative sums of
the coefficients' products: O(n log n) however many times. Limits: ``survfit_confint`` on the
probability scale (log limits use se / CIF), as for the Kaplan-Meier curve (docs/statistics.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.competing import competing_data
from mrdtrack.stats.inputs import cell_counts, group_codes, signed_sums
from mrdtrack.stats.km import _at_risk, _check_options, confidence_limits


def _hazards(stop, cause, start, n_causes):
    """Times, n at risk, event and censoring counts, cause-specific hazard increments."""
    times, inv = np.unique(stop, return_inverse=True)
    n = _at_risk(start, stop, times).astype(float)
    ev = cause > 0
    d = cell_counts(inv[ev], cause[ev] - 1, len(times), n_causes)
    n_all = np.bincount(inv, minlength=len(times))
    lam_c = d / n[:, None]
    lam = lam_c.sum(axis=1)
    return times, inv, n, d, n_all, lam_c, lam


def _sum_sq(idx_from, idx_to, coefs, length):
    """Per time k, the sums over observations with idx_from <= k < idx_to of each coefficient column."""
    ok = idx_from < idx_to
    acc = signed_sums(idx_from[ok], idx_to[ok], coefs[ok], length + 1)
    return np.cumsum(acc, axis=0)[:length]


def _ij_variance(times, inv, n, lam_c, lam, cause, first, n_causes):
    """Infinitesimal-jackknife variance of every CIF_c at every time (module docstring)."""
    T = len(times)
    surv = np.cumprod(1 - lam)
    sprev = np.concatenate([[1.0], surv[:-1]])
    full = lam >= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(full, 0.0, lam / (n * (1 - lam)))
    Q = np.cumsum(q)
    Qm = np.concatenate([[0.0], Q])  # Qm[k + 1] = Q(k); Qm[0] = Q(-1) = 0
    e, s = inv, first
    at = s <= e  # observations at risk at one time at least
    qs = Qm[s]
    with np.errstate(divide="ignore", invalid="ignore"):
        h_last = np.where(full[e], 0.0, (cause > 0) - lam[e]) / (n[e] * np.where(full[e], 1.0, 1 - lam[e]))
    H = -(Qm[e] - qs) + h_last
    var = np.zeros((T, n_causes))
    for c in range(n_causes):
        g = lam_c[:, c] * sprev
        G, P = np.cumsum(g), np.cumsum(sprev * lam_c[:, c] / n)
        R = np.cumsum(g * Qm[:-1])
        F = R - P
        Gm, Pm, Rm, Fm = (np.concatenate([[0.0], a]) for a in (G, P, R, F))
        a_i, b_i = -Fm[s] + qs * Gm[s], -qs
        ones = np.ones_like(a_i)
        inside = _sum_sq(s, e, np.column_stack([ones, a_i, b_i, a_i * a_i, a_i * b_i, b_i * b_i]), T)
        term1 = -(Pm[e] - Pm[s]) + sprev[e] * ((cause == c + 1) - lam_c[e, c]) / n[e]
        alpha = term1 + (R[e] - Rm[s]) - qs * (G[e] - Gm[s]) + H * G[e]
        beta = -H
        after = _sum_sq(np.where(at, e, T), np.full(len(e), T), np.column_stack([alpha * alpha, alpha * beta,
                                                                                  beta * beta]), T)
        var[:, c] = (inside[:, 0] * F * F + 2 * F * (inside[:, 1] + inside[:, 2] * G) + inside[:, 3]
                     + 2 * G * inside[:, 4] + G * G * inside[:, 5]
                     + after[:, 0] + 2 * G * after[:, 1] + G * G * after[:, 2])
    return np.sqrt(np.maximum(var, 0.0))


def _one_group(stop, cause, start, causes, conf_type, conf_level) -> pd.DataFrame:
    k = len(causes)
    times, inv, n, d, n_all, lam_c, lam = _hazards(stop, cause, start, k)
    sprev = np.concatenate([[1.0], np.cumprod(1 - lam)[:-1]])
    cif = np.cumsum(sprev[:, None] * lam_c, axis=0)
    first = np.zeros(len(stop), dtype=np.int64) if start is None else np.searchsorted(times, start, side="right")
    se = _ij_variance(times, inv, n, lam_c, lam, cause, first, k)
    n_event = d.sum(axis=1)
    out = {"time": times, "n_risk": n.astype(np.int64), "n_event": n_event.astype(np.int64),
           "n_censor": (n_all - n_event).astype(np.int64)}
    for j, label in enumerate(causes):
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.where(se[:, j] == 0, 0.0, se[:, j] / cif[:, j])
        lower, upper = confidence_limits(cif[:, j], se_log, conf_type, conf_level)
        out.update({f"cif_{label}": cif[:, j], f"std_err_{label}": se[:, j], f"lower_{label}": lower,
                    f"upper_{label}": upper})
    return pd.DataFrame(out)


def cumulative_incidence(df: pd.DataFrame, time: str, event: str, *, group: str | None = None,
                         start: str | None = None, conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Aalen-Johansen curves, one row per distinct time (per group): ``[group,] time, n_risk,
    n_event, n_censor`` then ``cif_<cause>, std_err_<cause>, lower_<cause>, upper_<cause>`` for
    each cause in R's factor order. ``attrs``: ``causes``, ``warnings`` (a cause absent from a
    group), ``n_dropped``."""
    _check_options(conf_type, conf_level)
    data = competing_data(df, time, event, start=start, extra=[group] if group else ())
    codes, labels = group_codes(data.frame, group)
    frames, warnings = [], []
    for g, label in enumerate(labels):
        m = codes == g
        c = data.cause[m]
        for j, name in enumerate(data.causes):
            if not (c == j + 1).any():
                warnings.append(f"cause {name!r} does not occur in group {label!r} of {group}: its curve stays at 0"
                                if group else f"cause {name!r} does not occur")
        frame = _one_group(data.time[m], c, None if data.start is None else data.start[m], data.causes,
                           conf_type, conf_level)
        if group:
            frame.insert(0, "group", label)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update({"causes": list(data.causes), "warnings": warnings, "n_dropped": data.n_dropped})
    return out


def cif_at(curves: pd.DataFrame, cause: str, times) -> pd.DataFrame:
    """The step function of ``cif_<cause>`` (with its limits) at chosen times, per group:
    ``[group,] time, cif, lower, upper`` (the value at the last curve time <= t; 0 before; NaN after
    the group's last time, as ``summary.survfit(extend = FALSE)`` leaves such times out)."""
    req = np.asarray(times, dtype=float)
    parts = curves.groupby("group", sort=False) if "group" in curves else [(None, curves)]
    rows = []
    for label, c in parts:
        t = c["time"].to_numpy()
        idx = np.searchsorted(t, req, side="right") - 1
        beyond = req > t[-1]
        for col in ("cif", "lower", "upper"):
            v = c[f"{col}_{cause}"].to_numpy()
            c_vals = np.where(idx >= 0, v[np.maximum(idx, 0)], 0.0 if col == "cif" else np.nan)
            c_vals = np.where(beyond, np.nan, c_vals)
            if col == "cif":
                res = pd.DataFrame({"time": req, "cif": c_vals})
            else:
                res[col] = c_vals
        if label is not None:
            res.insert(0, "group", label)
        rows.append(res)
    return pd.concat(rows, ignore_index=True)
