"""The notebook API of the statistics layer: keyword column names in, tidy DataFrames out.

Each function is a thin front over the R-agreeing estimators of this package (docs/statistics.md)
and returns one pandas DataFrame, with what does not fit in its rows in ``attrs`` (warnings,
global tests, rows dropped for missing values):

* ``kaplan_meier(df, time=, event=, group=None, start=None, conf_type="log", conf_level=0.95)``:
  ``strata, time, n_risk, n_event, survival, std_err, lower, upper`` at event times (R survfit);
* ``logrank_test(df, time=, event=, group=, strata=None)``: one row per group,
  ``group, n, observed, expected, chisq, df, p`` (R survdiff);
* ``cox_ph(df, time=, event=, covariates=, start=None, strata=None, categorical=(), ties="efron",
  conf_level=0.95)``: ``term, coef, hr, se, p, lower, upper, loglik, concordance`` (R coxph), with
  ``attrs`` ``lr_test``, ``wald_test``, ``score_test``, ``converged``, ``warnings``;
* ``cumulative_incidence``: see ``mrdtrack.stats.cif``.
"""

from __future__ import annotations

import pandas as pd

from mrdtrack.stats.cox import cox_fit
from mrdtrack.stats.km import km_table
from mrdtrack.stats.logrank import logrank_test as _logrank


def kaplan_meier(df: pd.DataFrame, *, time: str, event: str, group: str | None = None, start: str | None = None,
                 conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier survival at each event time, by ``group`` when given (R ``survfit``)."""
    return km_table(df, time, event, start=start, group=group, conf_type=conf_type, conf_level=conf_level)


def logrank_test(df: pd.DataFrame, *, time: str, event: str, group: str, strata: str | None = None) -> pd.DataFrame:
    """The k-group log-rank test (R ``survdiff``): one row per group with the test beside it."""
    res = _logrank(df, time, event, group, strata=strata)
    out = res["groups"].assign(chisq=res["chisq"], df=res["df"], p=res["p"])
    out.attrs = {"warnings": list(res["warnings"]), "n_dropped": res.get("n_dropped", 0)}
    return out


def cox_ph(df: pd.DataFrame, *, time: str, event: str, covariates, start: str | None = None,
           strata: str | None = None, categorical=(), ties: str = "efron", conf_level: float = 0.95) -> pd.DataFrame:
    """The Cox proportional-hazards model (R ``coxph``): one row per model term."""
    fit = cox_fit(df, time, event, list(covariates), start=start, strata=strata, categorical=categorical, ties=ties,
                  conf_level=conf_level)
    out = fit.table.copy()
    out.attrs = {"lr_test": fit.lr_test, "wald_test": fit.wald_test, "score_test": fit.score_test,
                 "converged": fit.converged, "warnings": list(fit.warnings), "n": fit.n, "events": fit.n_events,
                 "n_dropped": fit.n_dropped}
    return out
