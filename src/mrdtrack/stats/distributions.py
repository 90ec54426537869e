"""The few distribution functions the statistics need, from ``scipy.special``.

``scipy.stats`` computes ``chi2.sf``, ``norm.sf`` and ``norm.ppf`` with these same special functions
(``chdtrc``, ``ndtr``, ``ndtri``), so the numbers are the same bits; importing ``scipy.stats`` costs
about a second of start-up (every distribution is built at import), ``scipy.special`` a fraction of
it (issue 15: the report of the demo cohort under 2.5 s). ``rankdata`` is scipy's average ranks.
``tests/test_stats_distributions.py`` checks each against ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def chi2_sf(x, df):
    """P(X > x) for X chi-square with ``df`` degrees of freedom (``scipy.stats.chi2.sf``)."""
    x = np.asarray(x, dtype=float)
    df = np.asarray(df, dtype=float)
    out = special.chdtrc(df, np.where(x < 0, 0.0, x))  # the distribution's support starts at 0
    out = np.where(df > 0, out, np.nan)
    return out[()] if out.ndim == 0 else out


def norm_sf(x):
    """P(Z > x) for a standard normal Z (``scipy.stats.norm.sf``)."""
    out = special.ndtr(-np.asarray(x, dtype=float))
    return out[()] if np.ndim(out) == 0 else out


def norm_ppf(q):
    """The standard normal quantile of ``q`` (``scipy.stats.norm.ppf``)."""
    out = special.ndtri(np.asarray(q, dtype=float))
    return out[()] if np.ndim(out) == 0 else out


def rankdata(a) -> np.ndarray:
    """Ranks 1..n of ``a`` (flattened), ties given their average rank (``scipy.stats.rankdata``)."""
    arr = np.ravel(np.asarray(a))
    order = np.argsort(arr, kind="mergesort")
    sorted_ = arr[order]
    new = np.r_[True, sorted_[1:] != sorted_[:-1]]
    dense = np.empty(arr.size, dtype=np.intp)
    dense[order] = np.cumsum(new)
    count = np.r_[np.nonzero(new)[0], arr.size]
    return 0.5 * (count[dense] + count[dense - 1] + 1)
