"""Fine-Gray proportional subdistribution hazards regression (Fine & Gray 1999, JASA 94:496), as
R's ``cmprsk::crr`` (2.2) fits it (docs/statistics.md, "Fine-Gray").

Rows sorted by time; status 1 = the cause of interest, 2 = another cause, 0 = censored. G(t-) is
the Kaplan-Meier curve of censoring just before t (crr: ``survfit(Surv(ftime, cenind) ~ 1)`` read
at ``ftime * (1 - 100 eps)``). At a cause-1 time u with d events the risk set holds everyone with
time >= u (weight e^{x'b}) and everyone who failed from another cause before u, with weight
e^{x'b} G(u-) / G(t_i-). With S0, S1, S2 the weighted sums of 1, x, x x' over it, crr minimises
-l(b) = sum_u [d log S0 - sum_{fails at u} x'b] (Breslow ties) by Newton steps with crr's
backtracking line search (halve while -l(bn) > -l(b) + 1e-4 sc'score), stopping when
max |score| max(|b|, 1) < gtol max(|l|, 1) or after ``max_iter`` steps.

Variance: the robust sandwich H^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') H^-1 of crr's
``crrvv``: eta_i is observation i's score residual, psi_i the term for the estimated censoring
distribution, q(u) / Y(u) at its own censoring time less sum over censoring times v <= t_i of
n_c(v) q(v) / Y(v)^2. Every sum is a cumulative sum over the sorted rows: O(n p^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.stats.competing import cause_index, competing_data
from mrdtrack.stats.design import model_matrix
from mrdtrack.stats.distributions import norm_ppf, norm_sf
from mrdtrack.stats.inputs import StatsInputError

FINEGRAY_COLUMNS = ["term", "coef", "se", "hr", "lower", "upper", "p"]
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class _Risk:
    """Sorted data and the per-failure-time index arrays the sums need."""

    t: np.ndarray
    status: np.ndarray
    x: np.ndarray
    wt: np.ndarray  # G(t_i-) per row
    fail_times: np.ndarray
    d: np.ndarray  # cause-1 events per failure time
    pos: np.ndarray  # first row with t >= u per failure time
    g_u: np.ndarray  # G(u-) per failure time


def censoring_weights(t: np.ndarray, status: np.ndarray) -> np.ndarray:
    """G(t_i-): Kaplan-Meier of censoring read as crr reads it (sorted ``t``)."""
    times, inv = np.unique(t, return_inverse=True)
    cens = np.bincount(inv, weights=(status == 0).astype(float), minlength=len(times))
    at_risk = len(t) - np.searchsorted(t, times, side="left")
    surv = np.cumprod(1 - cens / at_risk)
    idx = np.searchsorted(times, t * (1 - 100 * _EPS), side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


def _prepare(t, status, x) -> _Risk:
    wt = censoring_weights(t, status)
    fail_times, d = np.unique(t[status == 1], return_counts=True)
    pos = np.searchsorted(t, fail_times, side="left")
    return _Risk(t, status, x, wt, fail_times, d.astype(float), pos, wt[pos])


def _weighted_sums(r: _Risk, b: np.ndarray, order: int):
    """S0 (and S1, S2 for ``order`` >= 1, 2) at every failure time, with e^{x'b - shift}."""
    eta = r.x @ b
    shift = eta.max()
    e = np.exp(eta - shift)
    other = np.where(r.status == 2, e / r.wt, 0.0)
    sums = [_at_failures(r, e, other)]
    if order >= 1:
        sums.append(_at_failures(r, e[:, None] * r.x, other[:, None] * r.x))
    if order >= 2:  # S2 entry by entry: memory of a column, not of n x p x p (the same sums, bit for bit)
        p = r.x.shape[1]
        s2 = np.empty((len(r.pos), p, p))
        for i in range(p):
            for j in range(i, p):
                xx = r.x[:, i] * r.x[:, j]
                s2[:, i, j] = s2[:, j, i] = _at_failures(r, e * xx, other * xx)
        sums.append(s2)
    return sums, eta, shift, e


def _at_failures(r: _Risk, at: np.ndarray, before: np.ndarray) -> np.ndarray:
    """At each failure time: the sum of ``at`` over the rows from it on plus G(t) times the sum of
    ``before`` over the rows before it (the rows are sorted by time)."""
    suffix = np.concatenate([np.cumsum(at[::-1], axis=0)[::-1], np.zeros((1,) + at.shape[1:])])
    prefix = np.concatenate([np.zeros((1,) + at.shape[1:]), np.cumsum(before, axis=0)])
    g = r.g_u.reshape((-1,) + (1,) * (at.ndim - 1))
    return suffix[r.pos] + g * prefix[r.pos]


def _objective(r: _Risk, b: np.ndarray, order: int = 2):
    """-loglik, score of -loglik and its Hessian (crr's ``crrfsv``)."""
    (s0, *rest), eta, shift, _ = _weighted_sums(r, b, order)
    lik = float(np.sum(r.d * (np.log(s0) + shift)) - eta[r.status == 1].sum())
    if order == 0:
        return lik, None, None
    s1, s2 = rest
    xbar = s1 / s0[:, None]
    score = (r.d[:, None] * xbar).sum(axis=0) - r.x[r.status == 1].sum(axis=0)
    hess = np.einsum("k,kij->ij", r.d / s0, s2) - np.einsum("k,ki,kj->ij", r.d, xbar, xbar)
    return lik, score, hess


def _newton(r: _Risk, p: int, gtol: float, max_iter: int):
    """crr's iteration, step for step (module docstring)."""
    b = np.zeros(p)
    converged = False
    for it in range(max_iter + 1):
        lik, score, hess = _objective(r, b)
        if np.max(np.abs(score) * np.maximum(np.abs(b), 1)) < max(abs(lik), 1) * gtol:
            return b, True, it
        if it == max_iter:
            break
        try:
            sc = -np.linalg.solve(hess, score)
        except np.linalg.LinAlgError:
            break
        bn = b + sc
        fbn = _objective(r, bn, 0)[0]
        halvings = 0
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(sc @ score):
            halvings += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = _objective(r, bn, 0)[0]
            if halvings > 20:
                break
        if halvings > 20:
            break
        b = bn
    return b, converged, it


def _influence(r: _Risk, b: np.ndarray) -> np.ndarray:
    """eta_i + psi_i for every row (crr's ``crrvv``, module docstring)."""
    (s0, s1), _, _, e = _weighted_sums(r, b, 1)
    xbar = s1 / s0[:, None]
    n = len(r.t)
    k_of = np.searchsorted(r.fail_times, r.t, side="right")  # failure times <= t_i: first k_of
    a0 = np.concatenate([[0.0], np.cumsum(r.d / s0)])
    a1 = np.concatenate([np.zeros((1, r.x.shape[1])), np.cumsum((r.d / s0)[:, None] * xbar, axis=0)])
    eta = -e[:, None] * (r.x * a0[k_of][:, None] - a1[k_of])
    g0 = r.d * r.g_u / s0
    c0 = np.concatenate([np.cumsum(g0[::-1])[::-1], [0.0]])
    c1 = np.concatenate([np.cumsum((g0[:, None] * xbar)[::-1], axis=0)[::-1], np.zeros((1, r.x.shape[1]))])
    late = (r.status == 2)[:, None] * (e / r.wt)[:, None] * (r.x * c0[k_of][:, None] - c1[k_of])
    fails = r.status == 1
    own = np.searchsorted(r.fail_times, r.t[fails])
    eta[fails] += r.x[fails] - xbar[own]
    eta -= late
    # censoring part: q at each censoring time u: sum over failure times >= u
    first = np.searchsorted(r.t, r.t, side="left")  # first row at t_i: Y(t_i) = n - first
    k_ge = np.searchsorted(r.fail_times, r.t, side="left")  # first failure time >= t_i
    before2 = np.where(r.status == 2, e / r.wt, 0.0)
    cb0 = np.concatenate([[0.0], np.cumsum(before2)])[first]  # other-cause rows with t < t_i
    cb1 = np.concatenate([np.zeros((1, r.x.shape[1])), np.cumsum(before2[:, None] * r.x, axis=0)])[first]
    q = cb1 * c0[k_ge][:, None] - cb0[:, None] * c1[k_ge]
    y = (n - first).astype(float)
    cens = r.status == 0
    step = np.where(cens[:, None], q / y[:, None] ** 2, 0.0)
    psi = -np.cumsum(step, axis=0)
    last = np.searchsorted(r.t, r.t, side="right") - 1  # through every row tied at t_i
    psi = psi[last] + np.where(cens[:, None], q / y[:, None], 0.0)
    return eta + psi


def _robust_se(r: _Risk, b: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """sqrt(diag(H^-1 (sum w w') H^-1)) (crr's ``var``); NaN with a warning when H is singular."""
    _, _, hess = _objective(r, b)
    try:
        h_inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full(len(b), np.nan), ["the information matrix is singular: standard errors are not estimable"]
    u = _influence(r, b)
    return np.sqrt(np.diag(h_inv @ (u.T @ u) @ h_inv)), []


def _not_estimable(r: _Risk, b, se, names, converged: bool, max_abs_coef: float) -> list[str]:
    """Terms to report as not estimable: a 0/1 column with no cause-1 event in one level, |coef| >
    ``max_abs_coef``, an undefined se; every term when the fit did not converge and none explains it."""
    flagged = []
    for j, term in enumerate(names):
        col = r.x[:, j]
        empty = np.isin(col, (0.0, 1.0)).all() and any(not ((col == v) & (r.status == 1)).any() for v in (0.0, 1.0))
        if empty or abs(b[j]) > max_abs_coef or not np.isfinite(se[j]):
            flagged.append(term)
    return flagged if converged or flagged else list(names)


def fine_gray(df: pd.DataFrame, *, time: str, event: str, cause, covariates, categorical=(),
              conf_level: float = 0.95, gtol: float = 1e-6, max_iter: int = 10,
              max_abs_coef: float = 10.0) -> pd.DataFrame:
    """``term, coef, se, hr, lower, upper, p``: R ``crr(time, event, model.matrix(...)[, -1],
    failcode = cause, cencode = 0)`` with its robust standard errors. A term that cannot be
    estimated (no cause-``cause`` events in one of its levels, |coef| > ``max_abs_coef``, or no
    convergence) keeps its coef but gets NaN for hr, limits and p, and a warning. ``attrs``:
    ``n``, ``events``, ``converged``, ``iterations``, ``loglik``, ``loglik_null``, ``warnings``,
    ``flagged``, ``n_dropped``."""
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError("finegray: give at least one covariate")
    if not 0 < conf_level < 1:
        raise StatsInputError(f"conf_level {conf_level!r}: must be between 0 and 1")
    data = competing_data(df, time, event, extra=covariates)
    k = cause_index(data, cause, event)
    design = model_matrix(data.frame, covariates, categorical)
    order = np.argsort(data.time, kind="stable")
    status = np.where(data.cause == k, 1, np.where(data.cause > 0, 2, 0))[order]
    r = _prepare(data.time[order], status, design.x[order])
    b, converged, iterations = _newton(r, design.x.shape[1], gtol, max_iter)
    se, warnings = _robust_se(r, b)
    if not converged:
        warnings.insert(0, f"Fine-Gray model for cause {data.causes[k - 1]!r} did not converge in {max_iter} "
                           f"iterations")
    flagged = _not_estimable(r, b, se, design.names, converged, max_abs_coef)
    if flagged:
        warnings.append(f"term(s) {', '.join(flagged)}: not estimable (no events of cause "
                        f"{data.causes[k - 1]!r} in a level, a coefficient growing without bound, or no convergence)")
    z = norm_ppf(1 - (1 - conf_level) / 2)
    ok = ~np.isin(design.names, flagged)
    with np.errstate(over="ignore", invalid="ignore"):
        out = pd.DataFrame({"term": design.names, "coef": b, "se": se,
                            "hr": np.where(ok, np.exp(b), np.nan), "lower": np.where(ok, np.exp(b - z * se), np.nan),
                            "upper": np.where(ok, np.exp(b + z * se), np.nan),
                            "p": np.where(ok, 2 * norm_sf(np.abs(b / se)), np.nan)})
    out.attrs.update({"n": len(r.t), "events": int((status == 1).sum()), "cause": data.causes[k - 1],
                      "converged": converged, "iterations": iterations, "loglik": -_objective(r, b, 0)[0],
                      "loglik_null": -_objective(r, np.zeros(len(b)), 0)[0], "warnings": warnings,
                      "flagged": flagged, "n_dropped": data.n_dropped})
    return out
