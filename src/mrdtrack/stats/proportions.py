"""Proportions with confidence intervals (docs/mrd.md section 4: each share with a 95% Wilson interval).

The Wilson score interval (Wilson, JASA 1927) is the one statsmodels'
``proportion_confint(method="wilson")`` and R's ``prop.test(correct=FALSE)`` report:
centre (k + z^2/2) / (n + z^2), half-width z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4),
with z the normal quantile at 1 - (1 - conf_level) / 2.
"""

from __future__ import annotations

import numpy as np

from mrdtrack.stats.distributions import norm_ppf


def wilson_interval(k, n, conf_level: float = 0.95):
    """Wilson score interval ``(low, high)`` for ``k`` successes out of ``n`` (scalars or arrays).

    NaN where ``n`` is 0 (no interval without a denominator).
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = norm_ppf(1 - (1 - conf_level) / 2)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = (k + z2 / 2) / (n + z2)
        half = z / (n + z2) * np.sqrt(k * (n - k) / n + z2 / 4)
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def share(numerator: int, denominator: int, conf_level: float = 0.95) -> dict:
    """``{numerator, denominator, value, ci_low, ci_high}`` (docs/cli.md summary.json shares); value and
    limits are None when the denominator is 0."""
    numerator, denominator = int(numerator), int(denominator)
    if denominator == 0:
        return {"numerator": numerator, "denominator": 0, "value": None, "ci_low": None, "ci_high": None}
    low, high = wilson_interval(numerator, denominator, conf_level)
    return {"numerator": numerator, "denominator": denominator, "value": numerator / denominator,
            "ci_low": low, "ci_high": high}
