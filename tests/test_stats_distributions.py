"""The distribution functions of ``mrdtrack.stats.distributions`` give scipy.stats' bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mrdtrack.stats.distributions import chi2_sf, norm_ppf, norm_sf, rankdata

X = np.array([0.0, -0.0, 1e-12, 0.3, 1.0, 2.5, 3.841458820694124, 10.0, 55.5, 400.0, 1e6, np.inf, np.nan, -1.0])
Q = np.array([0.0, 1e-300, 1e-12, 0.025, 0.05, 0.5, 0.9, 0.95, 0.975, 0.995, 1 - 1e-16, 1.0, np.nan])


def _same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30])
def test_chi2_sf_equals_scipy(df):
    assert _same(chi2_sf(X, df), stats.chi2.sf(X, df))
    for x in X:
        assert _same(chi2_sf(x, df), stats.chi2.sf(x, df))
        assert type(chi2_sf(x, df)) is type(stats.chi2.sf(x, df))


def test_chi2_sf_of_series_and_bad_df():
    s, d = pd.Series([0.5, 4.0, 12.0]), pd.Series([1, 2, 3])
    assert _same(chi2_sf(s, d), stats.chi2.sf(s, d))
    assert _same(chi2_sf(3.0, 0), stats.chi2.sf(3.0, 0))


def test_norm_functions_equal_scipy():
    z = np.r_[-X, X]
    assert _same(norm_sf(z), stats.norm.sf(z))
    assert _same(norm_ppf(Q), stats.norm.ppf(Q))
    assert _same(norm_ppf(1 - (1 - 0.95) / 2), stats.norm.ppf(1 - (1 - 0.95) / 2))
    assert type(norm_sf(1.5)) is type(stats.norm.sf(1.5))


@pytest.mark.parametrize("values", [[3, 1, 2], [1, 1, 1], [2.5, 1.0, 2.5, 7.0, 1.0, 2.5], [], [5.0]])
def test_rankdata_equals_scipy(values):
    assert _same(rankdata(values), stats.rankdata(values))


def test_rankdata_of_random_ties():
    v = np.random.default_rng(1).integers(0, 50, 5000).astype(float)
    assert _same(rankdata(v), stats.rankdata(v))
