"""Guarantee-time (immortal-time) bias: a class that has no effect on survival but needs survival to be
reached looks protective from time zero, not at a landmark nor as a time-varying covariate
(docs/outcomes.md section 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrdtrack.stats import StatsInputError, cox_fit, landmark_data, tmerge


def simulated_cohort(n=3000, seed=20201):
    """Exponential survival (no class effect); 'converted' once alive past a conversion time C."""
    rng = np.random.default_rng(seed)
    death = rng.exponential(1 / 0.03, n)
    censor = rng.uniform(12, 72, n)
    conversion = rng.uniform(3, 36, n)
    time = np.minimum(death, censor)
    return pd.DataFrame({"id": np.arange(n), "time": time, "event": (death <= censor).astype(int),
                         "conversion": conversion,
                         "converted": (conversion < time).astype(int)})  # classified with hindsight


def test_naive_comparison_is_biased_but_landmark_is_not():
    """Seed fixed (20201). With it the landmark HR is 1.00 (0.84-1.19), the time-varying one 0.98
    (0.87-1.11) and the naive one 0.11 (0.10-0.13): wide margins on each side. Over other seeds a
    95% interval misses the true HR of 1 in about 5% of draws (1 of 40 seeds tried), which is why
    the seed is fixed rather than drawn."""
    d = simulated_cohort()
    naive = cox_fit(d, "time", "event", ["converted"]).table.iloc[0]
    assert naive["hr"] < 1 and naive["upper"] < 1  # "protective", significantly

    L = 24.0
    classes = pd.DataFrame({"id": d["id"], "class": (d["conversion"] <= L).astype(int)})  # data up to L only
    lm = landmark_data(d[["id", "time", "event"]], "time", "event", L, classes)
    assert (lm["time"] > 0).all() and len(lm) == int((d["time"] > L).sum())
    row = cox_fit(lm, "time", "event", ["class"]).table.iloc[0]
    assert row["lower"] < 1 < row["upper"]


def test_time_varying_covariate_removes_the_bias():
    d = simulated_cohort()
    changes = d.loc[d["conversion"] < d["time"], ["id", "conversion"]].rename(columns={"conversion": "time"})
    cp = tmerge(d[["id", "time", "event"]].rename(columns={"time": "futime"}), changes.assign(value=1),
                time_col="futime", event_col="event", tdc_name="converted", initial=0)
    assert cp.groupby("id")["event"].sum().sum() == d["event"].sum()
    row = cox_fit(cp, "stop", "event", ["converted"], start="start").table.iloc[0]
    assert row["lower"] < 1 < row["upper"]


def test_landmark_rows_time_and_class():
    d = pd.DataFrame({"id": [1, 2, 3, 4], "t": [5.0, 12.0, 13.0, 30.0], "e": [1, 1, 0, 1]})
    lm = landmark_data(d, "t", "e", 12, pd.DataFrame({"id": [3, 4], "class": ["a", "b"]}))
    assert lm[["id", "t", "e", "class"]].values.tolist() == [[3, 1.0, 0, "a"], [4, 18.0, 1, "b"]]
    assert lm.attrs["n_excluded_before"] == 2


def test_landmark_subject_without_class_is_left_out_with_a_warning():
    d = pd.DataFrame({"id": [1, 2], "t": [15.0, 20.0], "e": [1, 0]})
    lm = landmark_data(d, "t", "e", 12, pd.DataFrame({"id": [1], "class": ["a"]}))
    assert lm["id"].tolist() == [1] and "no class" in lm.attrs["warnings"][0]


def test_landmark_rejects_negative_landmark():
    with pytest.raises(StatsInputError):
        landmark_data(pd.DataFrame({"t": [1.0], "e": [1], "class": ["a"]}), "t", "e", -1)
