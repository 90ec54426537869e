"""Scale: a Cox model on 100,000 rows with a few covariates (and its PH test) fits, converges and recovers
the simulated log hazard ratios (its time is measured in benchmarks/run.py, stage ``cox``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats import cox_fit, cox_zph, km_table


def test_cox_on_100000_rows_recovers_the_hazard_ratios():
    rng = np.random.default_rng(7)
    n = 100_000
    d = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 2, n), "c": rng.choice(["x", "y", "z"], n)})
    rate = np.exp(0.3 * d["a"] - 0.5 * d["b"] + 0.2 * (d["c"] == "y"))
    death, censor = rng.exponential(1 / rate), rng.exponential(2.0, n)
    d["time"] = np.ceil(np.minimum(death, censor) * 365)  # days: many ties
    d["event"] = (death <= censor).astype(int)
    d["start"] = np.floor(d["time"] * rng.uniform(0, 0.5, n))
    fit = cox_fit(d, "time", "event", ["a", "b", "c"])
    zph = cox_zph(fit)
    fit_cp = cox_fit(d, "time", "event", ["a", "b", "c"], start="start", ties="breslow")
    km_table(d, "time", "event", group="c")
    np.testing.assert_allclose(fit.coef, [0.3, -0.5, 0.2, 0.0], atol=0.03)
    assert fit.converged and fit_cp.converged and len(zph) == 4
