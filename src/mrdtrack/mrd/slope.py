"""Censored (Tobit) maximum-likelihood slope of log10 MRD level over time (docs/mrd.md section 3).

Model, per patient: log10 level_i = a + b * t_i + e_i, e_i ~ N(0, sigma^2), sigma FIXED (the
assay's measurement noise, ``mrd_log10_sd``); t in years. A detected sample contributes the
normal density at its log10 level; a not-detected sample is left-censored at log10(LOD) and
contributes P(level < LOD) = Phi((log10 LOD - mu_i) / sigma). With sigma fixed the log-likelihood
is concave in (a, b); it has a unique finite maximum when the detected samples span two or more
dates, or when they share one date and censored samples lie on both sides of it. Otherwise the
likelihood keeps rising as the line tilts away from the censored samples (no MLE): the slope is
NaN and the reason is reported.

Each patient's fit uses that patient's samples alone. Patients with nothing censored get the
closed-form least-squares slope (the Tobit MLE reduces to it); all censored patients are fitted
together by Newton-Raphson on arrays (one 2x2 system per patient per iteration), with step
halving per patient so that every accepted step raises that patient's likelihood.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from mrdtrack.mrd.groups import count

OK = "ok"
TOO_FEW = "too_few"  # fewer than 3 samples or fewer than 2 detected: blank, no issue
ONE_DATE = "one_date"  # every sample on one date: no slope to speak of
NO_MLE = "no_mle"  # likelihood unbounded: the maximum does not exist
NOT_CONVERGED = "not_converged"

MIN_SAMPLES = 3
MIN_DETECTED = 2
_MAX_ITER = 100
_MAX_HALVINGS = 60
_STEP_TOL = 1e-10
_MAX_ABS_SLOPE = 1e3  # log10 per year: beyond this the fit has run away, not converged
_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _sum(code: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(code, weights=w, minlength=n)


def _centred_time(code: np.ndarray, t: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    k = np.maximum(count(code, mask, n), 1)
    return t - (_sum(code[mask], t[mask], n) / k)[code]


def _loglik(code, x, y, cens, a, b, sigma, n):
    """Per patient censored-normal log-likelihood (constants dropped)."""
    z = (y - a[code] - b[code] * x) / sigma
    contrib = np.where(cens, log_ndtr(z), -0.5 * z * z)
    return _sum(code, contrib, n)


def _derivatives(code, x, y, cens, a, b, sigma, n):
    """Per patient gradient and Hessian of the log-likelihood in (a, b)."""
    z = (y - a[code] - b[code] * x) / sigma
    # inverse Mills ratio phi(z)/Phi(z), in logs so that it stays finite far in the tail
    mills = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_ndtr(z))
    g_mu = np.where(cens, -mills, z) / sigma
    h_mu = np.where(cens, -mills * np.maximum(z + mills, 0.0), -1.0) / sigma**2
    g = np.stack([_sum(code, g_mu, n), _sum(code, g_mu * x, n)])
    h = np.stack([_sum(code, h_mu, n), _sum(code, h_mu * x, n), _sum(code, h_mu * x * x, n)])
    return g, h


def _newton(code, x, y, cens, a, b, sigma, n):
    """Vectorised Newton-Raphson with per-patient step halving; returns (a, b, converged)."""
    done = np.zeros(n, dtype=bool)
    failed = np.zeros(n, dtype=bool)
    ll = _loglik(code, x, y, cens, a, b, sigma, n)
    for _ in range(_MAX_ITER):
        g, (haa, hab, hbb) = _derivatives(code, x, y, cens, a, b, sigma, n)
        det = haa * hbb - hab * hab
        bad = ~(det > 0) & ~done
        failed |= bad
        det = np.where(det > 0, det, 1.0)
        # step = -H^-1 g (H negative definite)
        da = -(hbb * g[0] - hab * g[1]) / det
        db = -(-hab * g[0] + haa * g[1]) / det
        active = ~done & ~failed
        da, db = np.where(active, da, 0.0), np.where(active, db, 0.0)
        scale = np.ones(n)
        for _ in range(_MAX_HALVINGS):
            new_ll = _loglik(code, x, y, cens, a + scale * da, b + scale * db, sigma, n)
            worse = active & ~(new_ll >= ll - 1e-12 * (1 + np.abs(ll)))
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        else:
            failed |= worse
        a, b = a + scale * da, b + scale * db
        ll = _loglik(code, x, y, cens, a, b, sigma, n)
        small = (np.abs(scale * da) < _STEP_TOL * (1 + np.abs(a))) & (np.abs(scale * db) < _STEP_TOL * (1 + np.abs(b)))
        done |= active & small
        failed |= ~done & (np.abs(b) > _MAX_ABS_SLOPE)
        if (done | failed).all():
            break
    return a, b, done & ~failed


def tobit_slope(code: np.ndarray, t_years: np.ndarray, y: np.ndarray, censored: np.ndarray, n: int,
                sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Per patient (codes ``0..n-1``): the ML slope of ``y`` (log10 level, or log10 LOD where
    ``censored``) against ``t_years``, and why it is missing (``OK`` when it is not).

    Blank (``TOO_FEW``) with fewer than 3 samples or fewer than 2 detected; NaN with
    ``ONE_DATE``, ``NO_MLE`` or ``NOT_CONVERGED`` where no finite maximum is found.
    """
    code = np.asarray(code, dtype=np.int64)
    t, y, cens = np.asarray(t_years, float), np.asarray(y, float), np.asarray(censored, bool)
    det = ~cens
    everything = np.ones(len(code), bool)
    n_all, n_det = count(code, everything, n), count(code, det, n)
    slope = np.full(n, np.nan)
    reason = np.where((n_all >= MIN_SAMPLES) & (n_det >= MIN_DETECTED), OK, TOO_FEW).astype(object)

    x = _centred_time(code, t, everything, n)
    sxx = _sum(code, x * x, n)
    reason[(reason == OK) & ~(sxx > 0)] = ONE_DATE

    # detected samples on one date: the MLE exists only with censored samples on both sides
    xd = _centred_time(code, t, det, n)
    sdd = _sum(code[det], xd[det] * xd[det], n)
    t0 = _sum(code[det], t[det], n) / np.maximum(n_det, 1)
    before = count(code, cens & (t < t0[code]), n) > 0
    after = count(code, cens & (t > t0[code]), n) > 0
    reason[(reason == OK) & ~(sdd > 0) & ~(before & after)] = NO_MLE

    n_cens = n_all - n_det
    ols = (reason == OK) & (n_cens == 0)
    slope[ols] = (_sum(code, x * y, n) / np.where(sxx > 0, sxx, 1.0))[ols]

    fit = (reason == OK) & (n_cens > 0)
    if fit.any():
        keep = fit[code]
        sub = np.cumsum(fit) - 1  # patient code -> position among the fitted patients
        c, xs, ys, cs = sub[code[keep]], x[keep], y[keep], cens[keep]
        m = int(fit.sum())
        # start from least squares with censored values taken at their LOD
        sxx_s = _sum(c, xs * xs, m)
        b0 = _sum(c, xs * ys, m) / sxx_s
        a0 = _sum(c, ys, m) / np.maximum(count(c, np.ones(len(c), bool), m), 1)
        _, b, ok = _newton(c, xs, ys, cs, a0, b0, sigma, m)
        fitted = np.flatnonzero(fit)
        slope[fitted[ok]] = b[ok]
        reason[fitted[~ok]] = NOT_CONVERGED
    return slope, reason
