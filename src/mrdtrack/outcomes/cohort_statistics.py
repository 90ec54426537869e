"""Cohort-level statistics of ``analyze`` (docs/outcomes.md, docs/mrd.md section 4, docs/cli.md summary.json).

Everything here is computed from the per-patient table by the generic statistics layer
(``mrdtrack.stats``, which agrees with R): Kaplan-Meier curves and medians, log-rank, Cox hazard
ratios by MRD trend (unadjusted and adjusted), landmark analyses, the Cox model with MRD status
as a time-varying covariate, and the competing-risks analyses (``competing_risks.py``). Each
analysis that cannot be run (too few patients or events) is reported as blank with a warning in
the issues log, never silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.issues import issue, issues_frame
from mrdtrack.mrd import mrd_cohort_figures
from mrdtrack.outcomes.competing_risks import competing_risks
from mrdtrack.outcomes.trend_design import (
    ADJUSTMENT_COVARIATES,
    AT_RISK_STEP_MONTHS,
    REFERENCE_TREND,
    TREND_ORDER,
    trend_design,
)
from mrdtrack.stats import (
    StatsInputError,
    cox_fit,
    cox_zph,
    km_curve,
    km_median,
    km_survival_at,
    number_at_risk,
    tmerge,
)
from mrdtrack.stats.logrank import logrank_test

#: From this many patients on, ``start_models`` runs the models in a child process (below, a fork
#: costs more than the models take).
PARALLEL_MIN_PATIENTS = 5_000

ENDPOINTS = {  # curve name -> (time column in months, event column)
    "pfs": ("pfs_months", "pfs_event"),
    "os": ("os_months", "os_event"),
    "pfs_dx": ("pfs_dx_months", "pfs_dx_event"),
    "os_dx": ("os_dx_months", "os_dx_event"),
}


def _estimate(value=None, low=None, high=None) -> dict:
    def f(x):
        return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)

    return {"value": f(value), "ci_low": f(low), "ci_high": f(high)}


def _survival_frame(patients: pd.DataFrame, time: str, event: str) -> pd.DataFrame:
    d = patients[["patient_id", time, event]].dropna()
    return pd.DataFrame({"patient_id": d["patient_id"].to_numpy(), "time": d[time].astype(float).to_numpy(),
                         "event": d[event].astype(bool).astype(int).to_numpy()})


def _at_risk_times(curve: pd.DataFrame) -> np.ndarray:
    tmax = float(curve["time"].max()) if len(curve) else 0.0
    return np.arange(0.0, tmax + 1e-9, AT_RISK_STEP_MONTHS)


def _curve_and_at_risk(df: pd.DataFrame, name: str, group: str | None, config: Config):
    curve = km_curve(df, "time", "event", group=group, conf_type=config.km_conf_type, conf_level=config.conf_level)
    at_risk = number_at_risk(df, "time", group=group, times=_at_risk_times(curve))
    at_risk.insert(0, "curve", name)
    return curve, at_risk


def _median(df: pd.DataFrame, group: str | None, config: Config) -> pd.DataFrame:
    return km_median(df, "time", "event", group=group, conf_type=config.km_conf_type, conf_level=config.conf_level)


def _not_estimable(code: str) -> dict:
    """A hazard ratio that cannot be estimated: blank numbers and the issue code that says why
    (the report prints "not estimable", never a ratio of 0 or an interval from 0 to infinity)."""
    return {**_estimate(), "p": None, "estimable": False, "reason": code}


def _fit_issues(fit, label: str, model: str) -> tuple[set, list]:
    """The terms of a Cox fit that are not estimates, with one warning each (issue_codes)."""
    if not fit.converged:
        return set(fit.terms), [issue("warning", "patients", f"{label} ({model}): the Cox model did not converge; "
                                      "no hazard ratio is shown", code="COX_NOT_CONVERGED", column="mrd_trend")]
    recs = [issue("warning", "patients", f"{label} ({model}): coefficient of {term} may be infinite (monotone "
                  "likelihood, e.g. a group without events): not estimable", code="COX_INFINITE_COEFFICIENT",
                  column="mrd_trend", value=term) for term in fit.flagged]
    return set(fit.flagged), recs


def _ph_issues(fit, label: str, model: str, alpha: float) -> list:
    """A proportional-hazards test (R cox.zph, KM transform) rejecting at p < ``alpha``: a warning."""
    if not fit.converged or fit.flagged:
        return []
    z = cox_zph(fit)
    glob = z[z["term"] == "GLOBAL"].iloc[0]
    if not glob["p"] < alpha:
        return []
    return [issue("warning", "patients", f"{label} ({model}): the proportional-hazards test rejects "
                  f"(cox.zph global p = {glob['p']:.3g}): the hazard ratio is an average over time",
                  code="PH_VIOLATED", column="mrd_trend", value=f"{glob['p']:.3g}")]


def _hazard_ratios(df: pd.DataFrame, adjust: list[str], config: Config, label: str,
                   model: str) -> tuple[dict[str, dict], list]:
    """Cox HR (Efron ties) of each MRD-trend group vs not_decreasing, optionally adjusted; terms
    that are not estimates (non-convergence, infinite coefficient) are ``_not_estimable``."""
    d, cols = trend_design(df, adjust)
    fit = cox_fit(d, "time", "event", covariates=cols, ties="efron", conf_level=config.conf_level, concordance=False)
    bad, recs = _fit_issues(fit, label, model)
    recs += _ph_issues(fit, label, model, config.ph_test_alpha)
    code = "COX_NOT_CONVERGED" if not fit.converged else "COX_INFINITE_COEFFICIENT"
    out = {}
    for g in TREND_ORDER:
        row = fit.table[fit.table["term"] == f"trend_{g}"]
        if not len(row):
            continue
        r = row.iloc[0]
        out[g] = _not_estimable(code) if f"trend_{g}" in bad else \
            {**_estimate(r["hr"], r["lower"], r["upper"]), "p": float(r["p"])}
    return out, recs


def _group_issues(groups: dict, label: str) -> list:
    """A trend group with patients but no events (its hazard ratio is not estimable), or with no
    patients at all (the log-rank test compares the others)."""
    recs = [issue("warning", "patients", f"{label}: the {g} group ({v['n']} patients) has no events: its "
                  "hazard ratio is not estimable", code="GROUP_WITHOUT_EVENTS", column="mrd_trend", value=g)
            for g, v in groups.items() if v["n"] > 0 and v["events"] == 0]
    recs += [issue("warning", "patients", f"{label}: the {g} group has no patients: the log-rank test and the "
                   "hazard ratios compare the other groups", code="LOGRANK_EMPTY_GROUP", column="mrd_trend", value=g)
             for g, v in groups.items() if v["n"] == 0]
    return recs


def _logrank_issues(lr: dict, label: str) -> list:
    if np.isfinite(lr["p"]):
        return []
    return [issue("warning", "patients", f"{label}: log-rank test not possible (" + "; ".join(lr["warnings"]) + ")",
                  code="LOGRANK_EMPTY_GROUP", column="mrd_trend")]


def trend_comparison(df: pd.DataFrame, config: Config, adjust: list[str], label: str):
    """KM medians, log-rank and Cox HRs by ``trend`` (column of ``df``); returns summary, cox table, issues.

    Every number that cannot be estimated is blank with ``estimable: false`` and a warning with its
    code (a group without events, non-convergence, an infinite coefficient, an empty log-rank group);
    a proportional-hazards test with p < 0.05 is a warning beside the estimate."""
    recs = []
    groups = {}
    present = [g for g in TREND_ORDER if (df["trend"] == g).any()]
    med = _median(df, "trend", config) if len(df) else pd.DataFrame()
    for g in TREND_ORDER:
        sub = df[df["trend"] == g]
        m = med[med["strata"] == g] if len(med) else med
        groups[g] = {"n": int(len(sub)), "events": int(sub["event"].sum()),
                     "median": _estimate(*(m.iloc[0][["median", "lower", "upper"]] if len(m) else (None,) * 3)),
                     "hazard_ratio": None, "hazard_ratio_adjusted": None}
    result = {"groups": groups, "reference": REFERENCE_TREND, "logrank_p": None, "logrank_chisq": None,
              "logrank_df": None, "adjusted_for": []}
    cox_rows = []
    if len(present) < 2 or df["event"].sum() == 0 or REFERENCE_TREND not in present:
        recs.append(issue("warning", "patients", code="TOO_FEW_GROUPS", message=f"{label}: fewer than two MRD-trend "
                          f"groups with patients, no events, or no {REFERENCE_TREND} group: no log-rank or hazard "
                          "ratio", column="mrd_trend"))
        return result, pd.DataFrame(cox_rows), recs
    recs += _group_issues(groups, label)
    try:
        lr = logrank_test(df, "time", "event", group="trend")
        recs += _logrank_issues(lr, label)
        result.update(logrank_p=_float(lr["p"]), logrank_chisq=_float(lr["chisq"]), logrank_df=lr["df"])
        hr, r = _hazard_ratios(df, [], config, label, "unadjusted")
        recs += r
        for g, v in hr.items():
            groups[g]["hazard_ratio"] = v
            cox_rows.append({"model": "unadjusted", "term": g, "hr": v["value"], "lower": v["ci_low"],
                             "upper": v["ci_high"], "p": v["p"]})
        adj = [c for c in adjust if c in df.columns and df[c].notna().any() and df[c].nunique() > 1]
        if adj:
            d2 = df.dropna(subset=adj)
            hr_a, r = _hazard_ratios(d2, adj, config, label, "adjusted")
            recs += r
            result["adjusted_for"] = adj
            result["adjusted_n"] = int(len(d2))
            for g, v in hr_a.items():
                groups[g]["hazard_ratio_adjusted"] = v
                cox_rows.append({"model": "adjusted", "term": g, "hr": v["value"], "lower": v["ci_low"],
                                 "upper": v["ci_high"], "p": v["p"]})
    except StatsInputError as exc:
        recs.append(issue("warning", "patients", f"{label}: {exc}", code="COX_FAILED", column="mrd_trend"))
    return result, pd.DataFrame(cox_rows), recs


def _landmark_frame(patients: pd.DataFrame, months: float) -> pd.DataFrame:
    """PFS from the landmark for maintenance-cohort patients event-free and followed past it."""
    col = f"landmark_{months:g}_trend"
    keep = patients["in_maintenance_cohort"].astype(bool) & (patients["pfs_months"] > months)
    p = patients.loc[keep, ["patient_id", "pfs_months", "pfs_event", col, *ADJUSTMENT_COVARIATES]]  # not every column
    df = pd.DataFrame({"patient_id": p["patient_id"].to_numpy(), "time": (p["pfs_months"] - months).to_numpy(float),
                       "event": p["pfs_event"].astype(bool).astype(int).to_numpy(), "trend": p[col].to_numpy()})
    for c in ADJUSTMENT_COVARIATES:
        df[c] = p[c].to_numpy()
    return df[df["trend"].notna()]


def time_varying_mrd_cox(patients: pd.DataFrame, changes: pd.DataFrame, config: Config) -> tuple[dict | None, list]:
    """Cox model of PFS with MRD negativity as a time-varying covariate (docs/outcomes.md section 3)."""
    # maintenance-cohort patients with PFS known; a patient with no time at risk after maintenance
    # start (event or censoring on that day) contributes no counting-process interval, as in R
    # (tmerge needs futime > 0). Only the columns read are selected (patients has some 60).
    keep = patients["in_maintenance_cohort"].astype(bool) & (patients["pfs_days"] > 0)
    p = patients.loc[keep, ["patient_id", "pfs_days", "pfs_event"]]
    base = pd.DataFrame({"id": p["patient_id"].to_numpy(), "futime": p["pfs_days"].to_numpy(float),
                         "status": p["pfs_event"].astype(bool).astype(int).to_numpy()})
    ch = changes[changes["patient_id"].isin(base["id"])]
    ch = pd.DataFrame({"id": ch["patient_id"].to_numpy(), "time": ch["time_days"].to_numpy(float),
                       "value": ch["mrd_negative"].to_numpy(float)})
    cp = tmerge(base, ch, id_col="id", time_col="futime", event_col="status", tdc_name="mrd_negative")
    cp = cp.dropna(subset=["mrd_negative"])
    cp = cp[cp["stop"] > cp["start"]]
    if cp.empty or cp["event"].sum() == 0 or cp["mrd_negative"].nunique() < 2:
        return None, [issue("warning", "mrd", "time-varying Cox: no events or MRD status never varies: not fitted",
                            code="TIME_VARYING_NOT_FITTED")]
    fit = cox_fit(cp, "stop", "event", start="start", covariates=["mrd_negative"], ties="efron",
                  conf_level=config.conf_level, concordance=False)
    r = fit.table.iloc[0]
    bad, recs = _fit_issues(fit, "time-varying Cox", "MRD negativity")
    for rec in recs:
        rec.update(table="mrd", column="mrd_negative")
    recs += _ph_issues(fit, "time-varying Cox", "MRD negativity", config.ph_test_alpha)
    est = {"hr": float(r["hr"]), "ci_low": float(r["lower"]), "ci_high": float(r["upper"]), "p": float(r["p"])}
    if bad:
        est = {"hr": None, "ci_low": None, "ci_high": None, "p": None, "estimable": False,
               "reason": recs[0]["code"]}
    return {"term": "mrd_negative", **est, "n": int(cp["id"].nunique()), "events": int(cp["event"].sum()),
            "intervals": int(len(cp)), "time_unit": "days from maintenance start",
            "covariate": "MRD negative at the analysis threshold (latest evaluable sample, carried forward)"}, recs


def _models(patients: pd.DataFrame, changes: pd.DataFrame, config: Config) -> tuple:
    """The time-varying Cox model and the competing-risks section: (their summary blocks, tables, issue records)."""
    tv, tv_recs = time_varying_mrd_cox(patients, changes, config)
    cr, cr_tables, cr_recs = competing_risks(patients, config)
    return {"time_varying_cox": tv, "competing_risks": cr}, cr_tables, tv_recs + cr_recs


def _curves_and_trends(patients: pd.DataFrame, config: Config) -> tuple:
    """Kaplan-Meier curves and medians by endpoint, PFS by MRD trend (log-rank, Cox) from maintenance
    start and at the landmarks: (summary, statistics, issue records, numbers at risk, Cox tables)."""
    recs: list = []
    summary: dict = {}
    statistics: dict = {}
    at_risk_frames = []
    summary.update(mrd_cohort_figures(patients, config))

    for name, (tcol, ecol) in ENDPOINTS.items():
        df = _survival_frame(patients, tcol, ecol)
        key = f"median_{name}_months"
        if df.empty:
            summary[key] = _estimate()
            recs.append(issue("warning", "patients", f"{name}: no patient with this endpoint: no curve",
                              code="NO_ENDPOINT_PATIENTS"))
            continue
        curve, ar = _curve_and_at_risk(df, name, None, config)
        statistics[f"km_{name}"] = curve
        at_risk_frames.append(ar)
        m = _median(df, None, config).iloc[0]
        summary[key] = _estimate(m["median"], m["lower"], m["upper"])
        s = km_survival_at(df, "time", "event", times=list(config.survival_times_months),
                           conf_type=config.km_conf_type, conf_level=config.conf_level)
        summary[f"{name}_survival_at_months"] = {
            f"{t:g}": _estimate(v, lo, hi) for t, v, lo, hi in
            zip(s["time"], s["survival"], s["lower"], s["upper"])}

    pfs = _survival_frame(patients, "pfs_months", "pfs_event")
    by_id = patients[["patient_id", "mrd_trend", *ADJUSTMENT_COVARIATES]].set_index("patient_id")
    pfs["trend"] = pfs["patient_id"].map(by_id["mrd_trend"])
    for c in ADJUSTMENT_COVARIATES:
        pfs[c] = pfs["patient_id"].map(by_id[c])
    pfs_t = pfs[pfs["trend"].notna()]
    summary["pfs_by_mrd_trend"], cox_naive, r = trend_comparison(pfs_t, config, list(ADJUSTMENT_COVARIATES),
                                                                 "PFS by MRD trend")
    recs += r
    cox_tables = [cox_naive.assign(analysis="from maintenance start")] if len(cox_naive) else []
    if len(pfs_t):
        curve, ar = _curve_and_at_risk(pfs_t, "pfs_by_trend", "trend", config)
        statistics["km_pfs_by_trend"] = curve
        at_risk_frames.append(ar)

    summary["landmark"] = {}
    for lm in config.landmarks_months:
        df = _landmark_frame(patients, lm)
        res, cox_lm, r = trend_comparison(df, config, list(ADJUSTMENT_COVARIATES), f"landmark {lm:g} months")
        res["n_at_landmark"] = int(len(df))
        res["landmark_months"] = lm
        summary["landmark"][f"{lm:g}"] = res
        recs += r
        if len(cox_lm):
            cox_tables.append(cox_lm.assign(analysis=f"landmark {lm:g} months"))
        if len(df):
            curve, ar = _curve_and_at_risk(df, f"landmark_{lm:g}", "trend", config)
            statistics[f"km_landmark_{lm:g}"] = curve
            at_risk_frames.append(ar)

    return summary, statistics, recs, at_risk_frames, cox_tables


def start_models(patients: pd.DataFrame, changes: pd.DataFrame, config: Config, parallel: bool = True,
                 min_patients: int = PARALLEL_MIN_PATIENTS):
    """The models of ``_models`` started in a forked child process (``processes.run_in_child``) when
    ``parallel`` and the cohort has at least ``min_patients`` patients, so that they run while
    this process computes the curves; returns the function that gives their result."""
    from mrdtrack.processes import run_in_child

    def models():
        return _models(patients, changes, config)

    return run_in_child(models) if parallel and len(patients) >= min_patients else models


def cohort_statistics(patients: pd.DataFrame, changes: pd.DataFrame, config: Config,
                      models=None) -> tuple[dict, dict, pd.DataFrame]:
    """summary.json headline figures, the report's curves/tables, and issues.

    ``models``: from ``start_models`` (the time-varying Cox model and the competing-risks section,
    perhaps already running in a child process); by default they are computed here, after the
    curves. The results are the same either way, in the same order."""
    models = models or start_models(patients, changes, config, parallel=False)
    try:
        summary, statistics, recs, at_risk_frames, cox_tables = _curves_and_trends(patients, config)
    finally:  # the child's result is collected even when the curves fail (no process left behind)
        blocks, cr_tables, r = models()
    summary.update(blocks)
    statistics.update(cr_tables)
    recs += r
    statistics["at_risk"] = pd.concat(at_risk_frames, ignore_index=True) if at_risk_frames else pd.DataFrame(
        columns=["curve", "strata", "time", "n_risk"])
    statistics["cox_pfs_by_trend"] = pd.concat(cox_tables, ignore_index=True) if cox_tables else pd.DataFrame(
        columns=["analysis", "model", "term", "hr", "lower", "upper", "p"])

    mc = patients["in_maintenance_cohort"].astype(bool)
    dur = (patients["maintenance_end"] - patients["maintenance_start"]).dt.days / config.days_per_month
    summary["cohort"] = {
        "patients": int(len(patients)),
        "maintenance_cohort": int(mc.sum()),
        "median_age": _float(patients["age_at_diagnosis"].median()),
        "median_maintenance_months": _float(dur[mc].median()),
        "mrd_samples": int(patients["mrd_samples"].fillna(0).sum()),
        "mrd_samples_per_patient": _float(patients["mrd_samples"].fillna(0).mean()) if len(patients) else None,
        "mrd_trend_counts": {g: int((patients.loc[mc, "mrd_trend"] == g).sum()) for g in TREND_ORDER},
    }
    return summary, statistics, issues_frame(recs)


def _float(x):
    return None if x is None or pd.isna(x) else float(x)
