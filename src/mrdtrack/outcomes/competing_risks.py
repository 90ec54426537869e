"""Competing-risks analyses of ``analyze`` (docs/statistics.md, "Competing risks"; docs/outputs.md,
summary.json ``competing_risks``).

From maintenance start, in the maintenance cohort:

* progression vs death without progression: the PFS time (``pfs_months``); the event is
  ``progression`` when the patient progressed on or before the PFS date (a progression and a death
  on one day count as progression), ``death`` when death came first; Aalen-Johansen curves by MRD
  trend, Gray's test per cause, Fine-Gray hazard ratios of progression by MRD trend (unadjusted and
  adjusted as the Cox models are) from maintenance start and from each landmark;
* second primary malignancy (SPM) with death as the competing event: months from maintenance start to
  the first SPM on or after it, death, or the end of follow-up (a patient whose first SPM came
  before maintenance start is left out, with a line in issues.csv);
* 1 - Kaplan-Meier of progression with deaths censored, beside the cumulative incidence, for the
  report's note on why it overstates the probability of progression.

Analyses that cannot be run are blank (``estimable: false``) with a coded issue, never an infinite
hazard ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.issues import issue
from mrdtrack.outcomes.trend_design import (
    ADJUSTMENT_COVARIATES,
    AT_RISK_STEP_MONTHS,
    REFERENCE_TREND,
    TREND_ORDER,
    trend_design,
)
from mrdtrack.stats import (
    StatsInputError,
    cif_at,
    cumulative_incidence,
    fine_gray,
    gray_test,
    km_survival_at,
    number_at_risk,
)

PROGRESSION, DEATH, SPM = "progression", "death", "spm"
CIF_COLUMNS = ["curve", "group", "time", "n_risk", "n_event", "n_censor", "cif", "std_err", "lower", "upper"]


def _est(value=None, low=None, high=None) -> dict:
    def f(x):
        return None if x is None or pd.isna(x) or not np.isfinite(float(x)) else float(x)

    return {"value": f(value), "ci_low": f(low), "ci_high": f(high)}


#: The patients columns the competing-risks frames read (the rows are selected with these only).
_FRAME_COLUMNS = ["patient_id", "pfs_days", "pfs_event", "progression_date", "maintenance_start", "os_days",
                  "os_event", "spm_date", "mrd_trend"]


def _cohort(patients: pd.DataFrame, days: str, extra=()) -> pd.DataFrame:
    """Maintenance-cohort patients with ``days`` known, with the columns these frames read."""
    cols = [c for c in dict.fromkeys([*_FRAME_COLUMNS, *extra, *ADJUSTMENT_COVARIATES]) if c in patients]
    return patients.loc[patients["in_maintenance_cohort"].astype(bool) & patients[days].notna(), cols]


def progression_death_frame(patients: pd.DataFrame, config: Config, landmark: float | None = None) -> pd.DataFrame:
    """``patient_id, time, cause, trend`` (+ adjustment covariates): time in months from maintenance
    start (or from ``landmark`` months, for patients event-free past it); cause progression / death / 0."""
    trend_col = "mrd_trend" if landmark is None else f"landmark_{landmark:g}_trend"
    p = _cohort(patients, "pfs_days", [trend_col])
    prog_days = (pd.to_datetime(p["progression_date"]) - pd.to_datetime(p["maintenance_start"])).dt.days
    event = p["pfs_event"].astype(bool).to_numpy()
    is_prog = event & prog_days.notna().to_numpy() & (prog_days.to_numpy() <= p["pfs_days"].to_numpy() + 0.5)
    cause = np.where(is_prog, PROGRESSION, np.where(event, DEATH, "0"))
    time = p["pfs_days"].to_numpy(float) / config.days_per_month
    df = pd.DataFrame({"patient_id": p["patient_id"].to_numpy(), "time": time, "cause": cause,
                       "trend": p[trend_col].to_numpy() if trend_col in p else None})
    for c in ADJUSTMENT_COVARIATES:
        df[c] = p[c].to_numpy() if c in p else None
    if landmark is not None:
        df = df[df["time"] > landmark].assign(time=lambda d: d["time"] - landmark)
    return df.reset_index(drop=True)


def spm_frame(patients: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, list]:
    """``patient_id, time, cause`` for SPM (cause spm / death / 0) from maintenance start, and issues
    for patients left out because their first SPM preceded maintenance start."""
    p = _cohort(patients, "os_days")
    spm = pd.to_datetime(p["spm_date"]) if "spm_date" in p else pd.Series(pd.NaT, index=p.index)
    spm_days = (spm - pd.to_datetime(p["maintenance_start"])).dt.days.to_numpy(float)
    os_days = p["os_days"].to_numpy(float)
    prior = spm_days < 0
    recs = [issue("excluded", "events", "second primary malignancy before maintenance start: left out of the SPM "
                  "cumulative incidence", code="SPM_BEFORE_MAINTENANCE", patient_id=pid, column="event", value="spm")
            for pid in p["patient_id"].to_numpy()[prior]]
    has = ~np.isnan(spm_days) & (spm_days <= os_days)
    died = p["os_event"].astype(bool).to_numpy()
    cause = np.where(has, SPM, np.where(died, DEATH, "0"))
    time = np.where(has, spm_days, os_days) / config.days_per_month
    df = pd.DataFrame({"patient_id": p["patient_id"].to_numpy(), "time": time, "cause": cause,
                       "trend": p["mrd_trend"].to_numpy()})
    return df[~prior].reset_index(drop=True), recs


def _curves(df: pd.DataFrame, name: str, causes, group: str | None, config: Config, recs: list):
    """Long CIF table (``CIF_COLUMNS``, one curve per cause) and its numbers at risk."""
    out = cumulative_incidence(df, time="time", event="cause", group=group, conf_type=config.km_conf_type,
                               conf_level=config.conf_level)
    absent = [f"cause {c!r} does not occur" for c in causes if c not in out.attrs["causes"]]
    for w in absent + out.attrs["warnings"]:
        recs.append(issue("warning", "patients", f"{name}: {w}", code="CIF_CAUSE_ABSENT", column="mrd_trend"))
    frames = []
    for c in causes:
        cols = {f"cif_{c}": "cif", f"std_err_{c}": "std_err", f"lower_{c}": "lower", f"upper_{c}": "upper"}
        part = out.rename(columns=cols) if f"cif_{c}" in out else out.assign(cif=0.0, std_err=0.0, lower=np.nan,
                                                                              upper=np.nan)
        part = part.assign(curve=f"{name}_{c}", group=part["group"] if group else "all")
        frames.append(part[CIF_COLUMNS])
    tmax = float(df["time"].max()) if len(df) else 0.0
    ar = number_at_risk(df, "time", times=np.arange(0.0, tmax + 1e-9, AT_RISK_STEP_MONTHS), group=group)
    ar = pd.concat([ar.assign(curve=f"{name}_{c}") for c in causes], ignore_index=True)
    return pd.concat(frames, ignore_index=True), out, ar[["curve", "strata", "time", "n_risk"]]


def _at_times(wide: pd.DataFrame, cause: str, config: Config) -> dict:
    if f"cif_{cause}" not in wide:
        return {}
    at = cif_at(wide, cause, list(config.survival_times_months))
    at = at[at["cif"].notna()]  # times after the last follow-up are left out
    if "group" not in at:
        return {f"{r.time:g}": _est(r.cif, r.lower, r.upper) for r in at.itertuples()}
    return {g: {f"{r.time:g}": _est(r.cif, r.lower, r.upper) for r in sub.itertuples()}
            for g, sub in at.groupby("group", sort=False)}


def _gray(df: pd.DataFrame, name: str, recs: list) -> dict:
    """Gray's p-value per cause, or None (with an issue) when the test cannot be run."""
    if df["trend"].nunique() < 2:
        recs.append(issue("warning", "patients", f"{name}: fewer than two MRD-trend groups: no Gray's test",
                          code="GRAY_NOT_ESTIMABLE", column="mrd_trend"))
        return {}
    try:
        g = gray_test(df, time="time", event="cause", group="trend")
    except StatsInputError as exc:
        recs.append(issue("warning", "patients", f"{name}: {exc}", code="GRAY_NOT_ESTIMABLE", column="mrd_trend"))
        return {}
    for w in g.attrs["warnings"]:
        if "singular" in w:
            recs.append(issue("warning", "patients", f"{name}: {w}", code="GRAY_NOT_ESTIMABLE", column="mrd_trend"))
    return {r.cause: {"statistic": _est(r.statistic)["value"], "df": int(r.df), "p": _est(r.p)["value"]}
            for r in g.itertuples()}


def _fine_gray_by_trend(df: pd.DataFrame, adjust: list[str], name: str, recs: list) -> tuple[dict, list[dict]]:
    """Fine-Gray HR of progression for each trend group vs not_decreasing: ``{group: estimate + p}``
    (None where not estimable) and table rows."""
    d, cols = trend_design(df, adjust, keep=("time", "cause"))
    if not any(c.startswith("trend_") for c in cols) or not (d["cause"] == PROGRESSION).any():
        recs.append(issue("warning", "patients", f"{name}: fewer than two MRD-trend groups or no progression: "
                          "no Fine-Gray model", code="FINEGRAY_NOT_ESTIMABLE", column="mrd_trend"))
        return {}, []
    try:
        fit = fine_gray(d, time="time", event="cause", cause=PROGRESSION, covariates=cols)
    except StatsInputError as exc:
        recs.append(issue("warning", "patients", f"{name}: {exc}", code="FINEGRAY_NOT_ESTIMABLE", column="mrd_trend"))
        return {}, []
    if not fit.attrs["converged"]:
        recs.append(issue("warning", "patients", f"{name}: {fit.attrs['warnings'][0]}", code="FINEGRAY_NOT_CONVERGED",
                          column="mrd_trend"))
    if fit.attrs["flagged"]:
        recs.append(issue("warning", "patients", f"{name}: {fit.attrs['warnings'][-1]}; shown as not estimable",
                          code="FINEGRAY_NOT_ESTIMABLE", column="mrd_trend"))
    all_flagged = not fit.attrs["converged"] and len(fit.attrs["flagged"]) == len(fit)
    reason = "FINEGRAY_NOT_CONVERGED" if all_flagged else "FINEGRAY_NOT_ESTIMABLE"
    out, rows = {}, []
    for g in TREND_ORDER:
        row = fit[fit["term"] == f"trend_{g}"]
        if len(row):
            r = row.iloc[0]
            est = {**_est(r["hr"], r["lower"], r["upper"]), "p": _est(r["p"])["value"]}
            if est["value"] is None:  # as the Cox hazard ratios: blank, with the reason's issue code
                est.update(estimable=False, reason=reason)
            out[g] = est
            rows.append({"term": g, "hr": est["value"], "lower": est["ci_low"], "upper": est["ci_high"],
                         "p": est["p"]})
    return out, rows


def _trend_models(df: pd.DataFrame, analysis: str, recs: list) -> tuple[dict, list[dict]]:
    """Unadjusted and adjusted Fine-Gray models of one analysis (maintenance start or a landmark)."""
    block = {"n": int(len(df)), "progressions": int((df["cause"] == PROGRESSION).sum()),
             "deaths_without_progression": int((df["cause"] == DEATH).sum()), "reference": REFERENCE_TREND,
             "unadjusted": {}, "adjusted": {}, "adjusted_for": []}
    if df.empty:
        return block, []
    block["unadjusted"], rows = _fine_gray_by_trend(df, [], f"Fine-Gray {analysis}", recs)
    table = [{"analysis": analysis, "model": "unadjusted", **r} for r in rows]
    adj = [c for c in ADJUSTMENT_COVARIATES if c in df and df[c].notna().any() and df[c].nunique() > 1]
    if adj:
        d2 = df.dropna(subset=adj)
        block["adjusted"], rows = _fine_gray_by_trend(d2, adj, f"Fine-Gray {analysis}, adjusted", recs)
        block["adjusted_for"], block["adjusted_n"] = adj, int(len(d2))
        table += [{"analysis": analysis, "model": "adjusted", **r} for r in rows]
    return block, table


def _naive_progression(df: pd.DataFrame, config: Config) -> dict:
    """1 - KM of progression with deaths censored, at the report's fixed times (overall)."""
    d = df.assign(event=(df["cause"] == PROGRESSION).astype(int))
    if not d["event"].any():
        return {}
    s = km_survival_at(d, "time", "event", times=list(config.survival_times_months), conf_type=config.km_conf_type,
                       conf_level=config.conf_level)
    return {f"{t:g}": _est(1 - v, 1 - hi, 1 - lo) for t, v, lo, hi in
            zip(s["time"], s["survival"], s["lower"], s["upper"])}


def competing_risks(patients: pd.DataFrame, config: Config) -> tuple[dict, dict, list]:
    """summary.json ``competing_risks``, the report's tables (``cif_curves``, ``cif_at_risk``,
    ``finegray_pfs_by_trend``) and issues (module docstring)."""
    recs: list = []
    summary: dict = {"causes": [PROGRESSION, DEATH], "time_unit": "months from maintenance start"}
    curves, at_risk, fg_rows = [], [], []
    pd_all = progression_death_frame(patients, config)
    pd_t = pd_all[pd_all["trend"].notna()]
    summary["n"] = int(len(pd_t))
    summary["events"] = {c: int((pd_t["cause"] == c).sum()) for c in (PROGRESSION, DEATH)}
    if len(pd_t) and (pd_t["cause"] != "0").any():
        long, wide, ar = _curves(pd_t, "cif_by_trend", (PROGRESSION, DEATH), "trend", config, recs)
        curves.append(long)
        at_risk.append(ar)
        summary["progression_cif_at_months"] = _at_times(wide, PROGRESSION, config)
        summary["death_without_progression_cif_at_months"] = _at_times(wide, DEATH, config)
        summary["gray_test"] = _gray(pd_t, "Gray's test, progression vs death by MRD trend", recs)
    else:
        recs.append(issue("warning", "patients", "competing risks: no progression or death in patients with an MRD "
                          "trend: no cumulative incidence", code="CIF_CAUSE_ABSENT", column="mrd_trend"))
    if len(pd_all) and (pd_all["cause"] == PROGRESSION).any():
        _, wide_all, _ = _curves(pd_all, "cif_all", (PROGRESSION, DEATH), None, config, [])
        summary["all_progression_cif_at_months"] = _at_times(wide_all, PROGRESSION, config)
        summary["one_minus_km_progression_at_months"] = _naive_progression(pd_all, config)
    summary["fine_gray"] = {}
    block, rows = _trend_models(pd_t, "from maintenance start", recs)
    summary["fine_gray"]["maintenance_start"] = block
    fg_rows += rows
    for lm in config.landmarks_months:
        df = progression_death_frame(patients, config, landmark=lm)
        block, rows = _trend_models(df[df["trend"].notna()], f"landmark {lm:g} months", recs)
        summary["fine_gray"][f"landmark_{lm:g}"] = block
        fg_rows += rows
    spm, r = spm_frame(patients, config)
    recs += r
    summary["spm"] = {"n": int(len(spm)), "events": int((spm["cause"] == SPM).sum()),
                      "deaths_first": int((spm["cause"] == DEATH).sum()), "cif_at_months": {}}
    if (spm["cause"] == SPM).any():
        long, wide, ar = _curves(spm, "cif_spm", (SPM,), None, config, recs)
        curves.append(long)
        at_risk.append(ar)
        summary["spm"]["cif_at_months"] = _at_times(wide, SPM, config)
    statistics = {
        "cif_curves": pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CIF_COLUMNS),
        "cif_at_risk": (pd.concat(at_risk, ignore_index=True) if at_risk
                        else pd.DataFrame(columns=["curve", "strata", "time", "n_risk"])),
        "finegray_pfs_by_trend": pd.DataFrame(fg_rows, columns=["analysis", "model", "term", "hr", "lower", "upper",
                                                                "p"]),
    }
    return summary, statistics, recs
