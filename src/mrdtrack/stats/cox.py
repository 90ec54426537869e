"""Cox proportional-hazards regression by Newton-Raphson, as R's ``survival::coxph`` fits it.

Partial likelihood over the distinct event times t of each stratum, with risk set
R(t) = {start < t <= stop} (counting-process input ``Surv(start, stop, event)``). With d tied events
at t, weights w = exp(x'b), S0 = sum_R w, S1 = sum_R w x, S2 = sum_R w x x' and D0, D1, D2 the
same sums over the d events, the Efron approximation (R's default) uses, for k = 0..d-1,
S0 - (k/d) D0 (and likewise S1, S2); Breslow uses k/d = 0:

    loglik = sum_events x'b - sum_k log(S0_k);  U = sum_events x - sum_k a_k, a_k = S1_k / S0_k
    I = sum_k (S2_k / S0_k - a_k a_k')

Iteration as R's ``coxfit6``/``agfit4``: start at b = 0, Newton steps with step-halving when the
log-likelihood falls, stop when |1 - loglik_old / loglik_new| <= 1e-9 (``coxph.control``) or after
20 iterations; covariates centred at their means. The variance is I^-1 at the estimate. Tests:
likelihood ratio 2 (loglik - loglik0), Wald b' I b, score U(0)' I(0)^-1 U(0). A coefficient drifting
to infinity (monotone likelihood, e.g. a perfectly separating covariate) is flagged with R's rule
|U I^-1|_j > 1e-9 and > sqrt(1e-9) |b_j| and reported in ``warnings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mrdtrack.stats.concordance import concordance_counts
from mrdtrack.stats.design import model_matrix
from mrdtrack.stats.distributions import chi2_sf, norm_ppf, norm_sf
from mrdtrack.stats.inputs import StatsInputError, group_codes, survival_data

COX_COLUMNS = ["term", "coef", "hr", "se", "p", "lower", "upper", "loglik", "concordance"]
TIES = ("efron", "breslow")


@dataclass
class _Stratum:
    rows: np.ndarray  # row indices of the stratum
    stop_desc: np.ndarray  # local order, stop descending
    start_desc: np.ndarray | None
    n_stop_ge: np.ndarray  # per event time: rows with stop >= t
    n_start_ge: np.ndarray | None  # per event time: rows with start >= t
    deaths: np.ndarray  # local indices of events, by time
    death_time: np.ndarray  # index of each event's time among the stratum's event times
    group_start: np.ndarray  # first position of each event time within ``deaths``
    frac: np.ndarray  # k/d (Efron) or 0 (Breslow) for each event
    event_times: np.ndarray


def _prepare(stop, start, event, strata, ties) -> list[_Stratum]:
    out = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        t, e = stop[rows], event[rows]
        deaths = np.flatnonzero(e)
        if deaths.size == 0:
            continue
        deaths = deaths[np.argsort(t[deaths], kind="stable")]
        times, first, counts = np.unique(t[deaths], return_index=True, return_counts=True)
        dt = np.repeat(np.arange(len(times)), counts)
        k = np.arange(len(deaths)) - first[dt]
        frac = k / counts[dt] if ties == "efron" else np.zeros(len(deaths))
        n_stop_ge = len(t) - np.searchsorted(np.sort(t), times, side="left")
        sd = np.argsort(-t, kind="stable")
        if start is None:
            st_desc, n_start_ge = None, None
        else:
            st = start[rows]
            st_desc = np.argsort(-st, kind="stable")
            n_start_ge = len(st) - np.searchsorted(np.sort(st), times, side="left")
        out.append(_Stratum(rows, sd, st_desc, n_stop_ge, n_start_ge, deaths, dt, first, frac, times))
    return out


def _prefix(a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])


def death_terms(x: np.ndarray, beta: np.ndarray, strata_prep: list[_Stratum], need_var: bool = True) -> dict:
    """Per-event Efron/Breslow terms at ``beta``: loglik, score U, information I and, per event,
    x, a_k (the weighted covariate mean) and V_k (S2_k/S0_k - a_k a_k'), its stratum and time."""
    p = x.shape[1]
    ll = 0.0
    u = np.zeros(p)
    info = np.zeros((p, p))
    xs_all, a_all, v_all, t_all = [], [], [], []
    for st in strata_prep:
        xs = x[st.rows]
        eta = xs @ beta
        eta = eta - eta.max()  # a constant shift per stratum leaves loglik, U and I unchanged
        w = np.exp(eta)
        wx = w[:, None] * xs

        def risk(arr, st=st):
            c = _prefix(arr[st.stop_desc])[st.n_stop_ge]
            if st.start_desc is not None:
                c = c - _prefix(arr[st.start_desc])[st.n_start_ge]
            return c

        s0, s1 = risk(w), risk(wx)
        d = st.deaths
        d0 = np.add.reduceat(w[d], st.group_start)
        d1 = np.add.reduceat(wx[d], st.group_start, axis=0)
        f = st.frac
        k = st.death_time
        den = s0[k] - f * d0[k]
        a = (s1[k] - f[:, None] * d1[k]) / den[:, None]
        ll += float(eta[d].sum() - np.log(den).sum())
        u += xs[d].sum(axis=0) - a.sum(axis=0)
        if need_var:  # V entry by entry: memory of one column, not of n x p x p (the same values, bit for bit)
            v = np.empty((len(k), p, p))
            for i in range(p):
                for j in range(p):
                    wxx = wx[:, i] * xs[:, j]
                    s2, d2 = risk(wxx), np.add.reduceat(wxx[d], st.group_start)
                    v[:, i, j] = (s2[k] - f * d2[k]) / den - a[:, i] * a[:, j]
            info += v.sum(axis=0)
            v_all.append(v)
        xs_all.append(xs[d])
        a_all.append(a)
        t_all.append(st.event_times[k])
    return {"loglik": ll, "u": u, "info": info, "x": xs_all, "a": a_all, "v": v_all, "time": t_all}


def _loglik(x, beta, prep):
    """Log partial likelihood without the per-stratum shift (which cancels: sum over events of
    (eta - c) - log(S0 e^-c) = sum eta - log S0)."""
    return death_terms(x, beta, prep, need_var=False)["loglik"]


def _solve(info: np.ndarray, v: np.ndarray) -> np.ndarray:
    try:
        c = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(info, v, rcond=None)[0]
    y = np.linalg.solve(c, v)
    return np.linalg.solve(c.T, y)


def _inverse(info: np.ndarray) -> np.ndarray:
    return _solve(info, np.eye(info.shape[0])) if info.size else info


@dataclass
class CoxResult:
    """A fitted Cox model. ``table`` has ``COX_COLUMNS`` (one row per model-matrix column, R's names);
    tests are dicts ``{chisq, df, p}``; ``warnings`` lists non-convergence and infinite coefficients
    (``flagged`` names them)."""

    table: pd.DataFrame
    terms: list[str]
    coef: np.ndarray
    var: np.ndarray
    loglik_null: float
    loglik: float
    lr_test: dict
    wald_test: dict
    score_test: dict
    concordance: float
    n: int
    n_events: int
    ties: str
    iterations: int
    converged: bool
    assign: dict
    flagged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_dropped: int = 0
    _model: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready summary: coefficients, loglik, LR / Wald / score tests, concordance."""
        rows = self.table.replace({np.nan: None}).to_dict(orient="records")
        return {"n": self.n, "events": self.n_events, "ties": self.ties, "coefficients": rows,
                "loglik_null": self.loglik_null, "loglik": self.loglik, "likelihood_ratio_test": self.lr_test,
                "wald_test": self.wald_test, "score_test": self.score_test, "concordance": self.concordance,
                "converged": self.converged, "iterations": self.iterations, "flagged": self.flagged,
                "warnings": self.warnings}


def _test(stat: float, df: int) -> dict:
    return {"chisq": float(stat), "df": int(df), "p": float(chi2_sf(stat, df)) if df > 0 else float("nan")}


def cox_fit(df: pd.DataFrame, time: str, event: str, covariates, *, start: str | None = None,
            strata: str | None = None, categorical=(), ties: str = "efron", conf_level: float = 0.95,
            max_iter: int = 20, eps: float = 1e-9, concordance: bool = True) -> CoxResult:
    """Fit ``coxph(Surv([start,] time, event) ~ covariates [+ strata(strata)], ties = ties)``;
    ``concordance=False`` leaves Harrell's C out (NaN): the cohort statistics do not report it."""
    covariates = list(covariates)
    if ties not in TIES:
        raise StatsInputError(f"ties {ties!r}: use efron or breslow")
    if not covariates:
        raise StatsInputError("cox: give at least one covariate")
    if not 0 < conf_level < 1:
        raise StatsInputError(f"conf_level {conf_level!r}: must be between 0 and 1")
    data = survival_data(df, time, event, start, extra=[*covariates, *([strata] if strata else [])])
    design = model_matrix(data.frame, covariates, categorical)
    x = design.x - design.x.mean(axis=0)
    scodes, slabels = group_codes(data.frame, strata)
    ev = data.event.astype(bool)
    if not ev.any():
        raise StatsInputError(f"column {event!r}: no events, a Cox model cannot be fitted")
    warnings = []
    for k, lab in enumerate(slabels):
        if strata and not ev[scodes == k].any():
            warnings.append(f"stratum {strata}={lab} has no events: it adds nothing to the likelihood")
    prep = _prepare(data.time, data.start, ev, scodes, ties)
    p = x.shape[1]
    beta = np.zeros(p)
    t0 = death_terms(x, beta, prep)
    ll0, u0, i0 = t0["loglik"], t0["u"], t0["info"]
    score = float(u0 @ _solve(i0, u0))
    loglik, info, u = ll0, i0, u0
    newbeta = beta + _solve(info, u)
    converged, halving, it = False, 0, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - iteration count is reported
        t = death_terms(x, newbeta, prep)
        newlk = t["loglik"]
        if np.isfinite(newlk) and abs(1 - loglik / newlk) <= eps and halving == 0:
            beta, loglik, info, u = newbeta, newlk, t["info"], t["u"]
            converged = True
            break
        if not np.isfinite(newlk) or newlk < loglik:
            halving += 1
            newbeta = (newbeta + halving * beta) / (halving + 1)
        else:
            halving = 0
            beta, loglik, info, u = newbeta, newlk, t["info"], t["u"]
            newbeta = beta + _solve(info, u)
    var = _inverse(info)
    flagged = []
    if not converged:
        warnings.append(f"Ran out of iterations ({max_iter}) and did not converge")
    step = np.abs(u @ var)
    inf = (step > eps) & (step > np.sqrt(eps) * np.abs(beta))
    if inf.any():
        flagged = [design.names[j] for j in np.flatnonzero(inf)]
        warnings.append(f"Loglik converged before variable(s) {', '.join(flagged)}; coefficient may be infinite "
                        f"(e.g. a covariate that separates events perfectly)")
    se = np.sqrt(np.diag(var))
    z = norm_ppf(1 - (1 - conf_level) / 2)
    lp = design.x @ beta
    conc = concordance_counts(data.time, ev, lp, data.start, scodes) if concordance else {"concordance": np.nan}
    with np.errstate(over="ignore"):  # an infinite coefficient (flagged above) has an infinite limit, as in R
        table = pd.DataFrame({"term": design.names, "coef": beta, "hr": np.exp(beta), "se": se,
                              "p": 2 * norm_sf(np.abs(beta / se)), "lower": np.exp(beta - z * se),
                              "upper": np.exp(beta + z * se), "loglik": loglik,
                              "concordance": conc["concordance"]})
    return CoxResult(
        table=table, terms=design.names, coef=beta, var=var, loglik_null=ll0, loglik=loglik,
        lr_test=_test(2 * (loglik - ll0), p), wald_test=_test(float(beta @ info @ beta), p),
        score_test=_test(score, p), concordance=conc["concordance"], n=len(data.time), n_events=int(ev.sum()),
        ties=ties, iterations=it, converged=converged, assign=design.assign, flagged=flagged, warnings=warnings,
        n_dropped=data.n_dropped,
        _model={"x": x, "prep": prep, "stop": data.time, "start": data.start, "event": ev},
    )
