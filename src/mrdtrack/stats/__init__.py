"""Generic survival statistics on any table, agreeing with R's ``survival`` 3.5-3 (docs/statistics.md).

Every function takes a pandas DataFrame and column names, drops rows with a missing value in a used
column (as R does; the count is in ``attrs["n_dropped"]`` or ``n_dropped``), and raises
:class:`StatsInputError` (a ``UserError``: exit 2 at the command line) with a message naming the
column and the problem. Warnings (a group without events, a coefficient that may be infinite) are
returned, never printed: ``DataFrame.attrs["warnings"]``, ``result["warnings"]`` or
``CoxResult.warnings``.

Kaplan-Meier (``km``; R ``survfit``)
    ``km_table(df, time, event, *, start=None, group=None, conf_type="log", conf_level=0.95)``
        event times: ``strata, time, n_risk, n_event, survival, std_err, lower, upper``
    ``km_curve(...)`` the full curve with ``n_censor`` (for plots)
    ``km_median(...)`` ``strata, n, events, median, lower, upper`` (print.survfit rule)
    ``km_survival_at(df, time, event, times, ...)`` survival at fixed times (``summary(fit, times=)``)
    ``number_at_risk(df, time, *, times, group=None, start=None)`` ``strata, time, n_risk``
    ``strata`` holds the group's level (``all`` without a group).
Log-rank (``logrank``; R ``survdiff``)
    ``logrank.logrank_test(df, time, event, group, *, strata=None)`` ->
    ``{chisq, df, p, groups: DataFrame(group, n, observed, expected), warnings, n_dropped}``
Notebook API (``tidy``: keyword columns in, tidy DataFrames out; docs/api.md)
    ``kaplan_meier(df, time=, event=, group=None, ...)``, ``logrank_test(df, time=, event=, group=)``
    (one row per group with ``chisq, df, p``), ``cox_ph(df, time=, event=, covariates=, ...)``
Cox (``cox``, ``zph``; R ``coxph``, ``cox.zph``)
    ``cox_fit(df, time, event, covariates, *, start=None, strata=None, categorical=(), ties="efron",
    conf_level=0.95)`` -> :class:`CoxResult` (``table``: ``term, coef, hr, se, p, lower, upper, loglik,
    concordance``; ``lr_test``/``wald_test``/``score_test`` ``{chisq, df, p}``; ``to_dict()``)
    ``cox_zph(fit, transform="km")`` -> ``term, chisq, df, p`` per covariate and GLOBAL
Data preparation
    ``tmerge(base, changes, *, id_col, time_col, event_col, tdc_name, change_time_col="time",
    change_value_col="value", initial=None)`` -> ``id, ..., start, stop, event, <tdc_name>``
    ``landmark_data(df, time, event, landmark, classes=None, *, id_col="id", class_col="class")``
Competing risks (``cif``, ``gray``, ``finegray``; R ``survfit`` with a factor event, ``cmprsk`` 2.2)
    Event column: 0 = censored, any other value names a cause.
    ``cumulative_incidence(df, time=, event=, *, group=None, start=None, conf_type="log", conf_level=0.95)``
    -> ``[group,] time, n_risk, n_event, n_censor, cif_<cause>, std_err_<cause>, lower_<cause>, upper_<cause>``
    ``gray_test(df, time=, event=, *, group=)`` -> ``cause, statistic, df, p`` (``cuminc(...)$Tests``)
    ``fine_gray(df, *, time=, event=, cause=, covariates=, categorical=())`` -> ``term, coef, se, hr, lower,
    upper, p`` (``crr``, robust standard errors)
"""

from mrdtrack.stats.cif import cif_at, cumulative_incidence
from mrdtrack.stats.concordance import concordance_counts
from mrdtrack.stats.cox import COX_COLUMNS, CoxResult, cox_fit
from mrdtrack.stats.finegray import FINEGRAY_COLUMNS, fine_gray
from mrdtrack.stats.gray import GRAY_COLUMNS, gray_test
from mrdtrack.stats.inputs import StatsInputError
from mrdtrack.stats.km import (
    CURVE_COLUMNS,
    KM_COLUMNS,
    confidence_limits,
    km_curve,
    km_median,
    km_survival_at,
    km_table,
    number_at_risk,
)
from mrdtrack.stats.landmark import landmark_data
from mrdtrack.stats.tidy import cox_ph, kaplan_meier, logrank_test
from mrdtrack.stats.timevarying import tmerge
from mrdtrack.stats.zph import cox_zph

__all__ = [
    "COX_COLUMNS",
    "CURVE_COLUMNS",
    "FINEGRAY_COLUMNS",
    "GRAY_COLUMNS",
    "KM_COLUMNS",
    "CoxResult",
    "StatsInputError",
    "cif_at",
    "concordance_counts",
    "confidence_limits",
    "cox_fit",
    "cox_zph",
    "cumulative_incidence",
    "cox_ph",
    "fine_gray",
    "gray_test",
    "kaplan_meier",
    "km_curve",
    "km_median",
    "km_survival_at",
    "km_table",
    "landmark_data",
    "logrank_test",
    "number_at_risk",
    "tmerge",
]
