"""The study report's tables, built from the pipeline's outputs.

These are tabulations for display (counts of categories, Table 1 as ``tableone`` lays it out, the pipeline's
estimates laid out in rows); no estimate, interval or test is computed here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.issue_codes import CODES
from mrdtrack.report.drawing import DEPTH_ORDER, TREND_ORDER
from mrdtrack.report.fmt import (
    MISSING,
    NOT_ESTIMABLE,
    estimable,
    estimate,
    hazard_ratio,
    is_missing,
    label,
    pct,
    pvalue,
    share,
)
from mrdtrack.report.table_one import table_one_frame

#: The issue codes of recorded-vs-derived disagreements, per topic (data-quality section).
DISAGREEMENT_CODES = {"response": ("RECORDED_RESPONSE_DIFFERS", "RECORDED_RESPONSE_UNMATCHED"),
                      "progression": ("PROGRESSION_DISAGREES",)}

NOT_AVAILABLE = "not available"
NOT_EVALUABLE = "not evaluable"
TABLE1_VARIABLES = {
    "age_at_diagnosis": "Age at diagnosis, years",
    "sex": "Sex",
    "iss_stage": "ISS stage",
    "cytogenetic_risk": "Cytogenetic risk",
    "heavy_chain": "Heavy chain",
    "light_chain": "Light chain",
    "response_at_maintenance_start": "Response at maintenance start",
}
TREND_LABELS = {"negative": "MRD negative", "decreasing": "MRD decreasing", "not_decreasing": "MRD not decreasing"}


def maintenance_cohort(patients: pd.DataFrame) -> pd.DataFrame:
    """The patients of the maintenance cohort (docs/mrd.md section 4) as flagged by the pipeline."""
    if "in_maintenance_cohort" not in patients.columns:
        return patients[patients["maintenance_start"].notna()]
    flag = patients["in_maintenance_cohort"]
    return patients[flag if flag.dtype == bool else flag.astype(str).str.lower().isin(("true", "1"))]


def _as_nan(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna() & (s.astype(str) != ""), np.nan)


def table_one_input(cohort: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list]]:
    """(the Table 1 variables present, with a value, and the ``MRD trend`` group column; the orders
    of the groups and of the response levels) for the maintenance-cohort patients ``cohort``."""
    df = pd.DataFrame({c: _as_nan(cohort[c]) for c in TABLE1_VARIABLES if c in cohort.columns})
    df = df.loc[:, df.notna().any()]
    if "age_at_diagnosis" in df.columns:
        df["age_at_diagnosis"] = pd.to_numeric(df["age_at_diagnosis"], errors="coerce")
    trend = _as_nan(cohort["mrd_trend"]).fillna(NOT_EVALUABLE).map(lambda t: TREND_LABELS.get(t, t))
    df["MRD trend"] = trend.to_numpy()
    order = [TREND_LABELS[t] for t in TREND_ORDER if TREND_LABELS[t] in set(df["MRD trend"])]
    order += sorted(set(df["MRD trend"]) - set(order))
    orders = {"MRD trend": order}
    if "response_at_maintenance_start" in df.columns:
        present = set(df["response_at_maintenance_start"].dropna())
        orders["response_at_maintenance_start"] = [c for c in DEPTH_ORDER if c in present]
    return df, orders


def table_one(patients: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of the maintenance cohort, overall and by MRD trend (laid out as ``tableone`` does:
    ``report/table_one.py``).

    Variables with no value at all are left out; patients without a trend form the group
    'not evaluable'; missing values are counted in the 'Missing' column.
    """
    cohort = maintenance_cohort(patients)
    if cohort.empty:
        return pd.DataFrame({"variable": ["n"], "level": [""], "Overall": ["0"]})
    df, orders = table_one_input(cohort)
    labels = {c: TABLE1_VARIABLES[c] for c in TABLE1_VARIABLES if c in df.columns}
    return table_one_frame(df, labels, ["age_at_diagnosis"], "MRD trend", orders["MRD trend"], orders)


def attrition(summary: dict, issues: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts per table: in, excluded, used; exclusions by table and reason, with counts)."""
    counts = summary.get("counts", {}) or {}
    rows = [{"table": "patients", "in": counts.get("patients_in"), "excluded": counts.get("patients_excluded"),
             "used": counts.get("patients_used")}]
    per_table = dict(counts.get("rows") or {})  # {table: {in, used, excluded}}
    per_table.update({k: v for k, v in counts.items() if isinstance(v, dict) and k != "rows"})  # {table: {rows_*}}
    for table, c in sorted(per_table.items()):
        rows.append({"table": f"{table} rows", "in": _count(c, "in"), "excluded": _count(c, "excluded"),
                     "used": _count(c, "used")})
    flow = pd.DataFrame(rows, columns=["table", "in", "excluded", "used"])
    excl = issues[issues["severity"] == "excluded"]
    if excl.empty:
        reasons = pd.DataFrame(columns=["table", "code", "reason", "rows or patients"])
    else:
        reasons = (excl.groupby(["table", "code"], dropna=False).size().reset_index(name="rows or patients")
                   .sort_values(["table", "rows or patients"], ascending=[True, False]))
        reasons.insert(2, "reason", reasons["code"].map(CODES).fillna(""))
    return flow, reasons.reset_index(drop=True)


def _count(c: dict, what: str):
    return c.get(what, c.get(f"rows_{what}"))


def _depth_category(s: pd.Series) -> pd.Series:
    return s.where(s.notna() & (s.astype(str) != ""), NOT_AVAILABLE).astype(str)


def shift_table(patients: pd.DataFrame) -> pd.DataFrame:
    """Patients by response at maintenance start (rows) and deepest response (columns)."""
    cohort = maintenance_cohort(patients)
    cats = DEPTH_ORDER + [NOT_AVAILABLE]
    start = pd.Categorical(_depth_category(cohort["response_at_maintenance_start"]), categories=cats)
    deepest = pd.Categorical(_depth_category(cohort["deepest_response"]), categories=cats)
    tab = pd.crosstab(start, deepest, dropna=False).reindex(index=cats, columns=cats, fill_value=0)
    keep_rows = tab.sum(axis=1) > 0
    keep_cols = tab.sum(axis=0) > 0
    tab = tab.loc[keep_rows, keep_cols]
    tab.index.name = "response_at_maintenance_start"
    tab.columns.name = None
    return tab


def for_display(df: pd.DataFrame, column: str = "variable") -> pd.DataFrame:
    """A copy with repeats of ``column`` blanked (Table 1's variable names, one per block)."""
    out = df.copy()
    out.loc[out[column].eq(out[column].shift()), column] = ""
    return out


def depth_counts(shift: pd.DataFrame) -> pd.DataFrame:
    """The two margins of the shift table, one column per bar, in depth order."""
    cats = [c for c in DEPTH_ORDER + [NOT_AVAILABLE] if c in shift.index or c in shift.columns]
    return pd.DataFrame({
        "At maintenance start": shift.sum(axis=1).reindex(cats, fill_value=0),
        "Deepest response": shift.sum(axis=0).reindex(cats, fill_value=0),
    })


def _count_rows(s: pd.Series, name: str, order: list[str] | None = None) -> list[dict]:
    vals = s.astype(object).where(s.notna() & (s.astype(str) != ""), NOT_AVAILABLE).astype(str)
    counts = vals.value_counts()
    keys = [k for k in (order or []) if k in counts.index] + sorted(set(counts.index) - set(order or []))
    return [{"measure": name, "category": label(k), "patients": int(counts[k])} for k in keys]


def mrd_overview(patients: pd.DataFrame) -> pd.DataFrame:
    """Counts of MRD entry status, kinetics class, trend and the true/false MRD flags."""
    cohort = maintenance_cohort(patients)
    rows = _count_rows(cohort["mrd_entry_status"], "entry status", ["negative", "positive", "unknown"])
    rows += _count_rows(cohort["mrd_kinetics"], "kinetics during maintenance",
                        ["remained_negative", "converted_negative", "decreasing", "stable", "increasing",
                         "lost_negativity", "not_evaluable"])
    rows += _count_rows(cohort["mrd_trend"], "trend group", TREND_ORDER)
    for col, name in (("mrd_ever_negative", "ever negative"), ("mrd_lost_negativity", "lost negativity"),
                      ("mrd_sustained_negative", "sustained negativity (>= 1 year)"),
                      ("mrd_sustained_negative_imaging", "sustained negativity with negative imaging")):
        if col in cohort.columns:
            rows += _count_rows(_flag_text(cohort[col]), name, ["true", "false"])
    return pd.DataFrame(rows, columns=["measure", "category", "patients"])


def _flag_text(s: pd.Series) -> pd.Series:
    """A true/false column as 'true' / 'false' (any other value as its text in lower case), missing
    or empty as 'not available'."""
    missing = s.isna() | s.astype(object).eq("")
    return s.astype(str).str.lower().where(~missing, NOT_AVAILABLE)


def mrd_overview_display(overview: pd.DataFrame) -> pd.DataFrame:
    """The overview with one row per measure: 'negative 71 · positive 47 · unknown 21'."""
    rows = []
    for measure, g in overview.groupby("measure", sort=False):
        rows.append({"measure": measure,
                     "patients by category": " · ".join(f"{c}: {n}" for c, n in zip(g["category"], g["patients"])),
                     "total": int(g["patients"].sum())})
    return pd.DataFrame(rows, columns=["measure", "patients by category", "total"])


def headline_shares(summary: dict) -> pd.DataFrame:
    """The seed study's headline shares as the pipeline estimated them."""
    items = [("deepest_during_maintenance", "Deepest response first reached during maintenance"),
             ("mrd_conversion", "MRD conversion (entry-positive patients becoming negative)"),
             ("progressed_after_mrd_negative", "Progression after MRD negativity")]
    rows = []
    for key, text in items:
        s = summary.get(key) or {}
        rows.append({"figure": text, "numerator": s.get("numerator"), "denominator": s.get("denominator"),
                     "share": pct(s.get("value")), "95% CI": _ci(s, pct), "text": share(s)})
    return pd.DataFrame(rows)


def _ci(e: dict, f) -> str:
    if is_missing(e.get("ci_low")) and is_missing(e.get("ci_high")):
        return MISSING
    return f"{f(e.get('ci_low'))} to {f(e.get('ci_high'))}"


def medians(summary: dict) -> pd.DataFrame:
    """Median PFS and OS from maintenance start and from diagnosis (months, 95% CI)."""
    items = [("pfs", "PFS from maintenance start"), ("os", "OS from maintenance start"),
             ("pfs_dx", "PFS from diagnosis"), ("os_dx", "OS from diagnosis")]
    rows = []
    for key, text in items:
        row = {"endpoint": text, "median (months)": estimate(summary.get(f"median_{key}_months"), "")}
        for t, e in (summary.get(f"{key}_survival_at_months") or {}).items():
            row[f"survival at {t} months"] = _ci_share(e)
        rows.append(row)
    return pd.DataFrame(rows).fillna(MISSING)


def _ci_share(e: dict | None) -> str:
    if not e or is_missing(e.get("value")):
        return MISSING
    return f"{pct(e['value'], 0)} ({_ci(e, lambda v: pct(v, 0))})"


def trend_groups(block: dict | None) -> pd.DataFrame:
    """PFS by MRD trend (or a landmark of it): n, events, median, hazard ratios per group."""
    groups = (block or {}).get("groups") or {}
    rows = []
    for g in TREND_ORDER + sorted(set(groups) - set(TREND_ORDER)):
        v = groups.get(g)
        if not v or not v.get("n"):
            rows.append({"group": label(g), "patients": 0, "events": 0, "median PFS (months)": MISSING,
                         "HR vs not decreasing": MISSING, "adjusted HR": MISSING})
            continue
        med = v.get("median")
        rows.append({
            "group": label(g), "patients": v.get("n"), "events": v.get("events"),
            "median PFS (months)": estimate(med) if isinstance(med, dict) else ("not reached" if is_missing(med)
                                                                              else f"{float(med):.1f}"),
            "HR vs not decreasing": "reference" if g == "not_decreasing" else hazard_ratio(v.get("hazard_ratio")),
            "adjusted HR": "reference" if g == "not_decreasing" else hazard_ratio(v.get("hazard_ratio_adjusted")),
        })
    return pd.DataFrame(rows)


def finite_hazard_ratios(cox: pd.DataFrame) -> pd.DataFrame:
    """The rows of a Cox table whose hazard ratio and limits are finite and positive (plottable)."""
    keep = [estimable(r.hr, r.lower, r.upper) for r in cox.itertuples()]
    return cox[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def cox_display(cox: pd.DataFrame) -> pd.DataFrame:
    """The Cox table as the page shows it: rounded, with p-values and non-estimable rows said so."""
    rows = []
    for r in cox.itertuples():
        ok = estimable(r.hr, r.lower, r.upper)
        row = {"analysis": getattr(r, "analysis", "") or "", "model": r.model, "group": label(r.term),
               "hazard ratio": f"{float(r.hr):.2f}" if ok else NOT_ESTIMABLE,
               "95% CI": f"{float(r.lower):.2f} to {float(r.upper):.2f}" if ok else MISSING,
               "p": pvalue(r.p) if ok else MISSING}
        rows.append(row)
    out = pd.DataFrame(rows, columns=["analysis", "model", "group", "hazard ratio", "95% CI", "p"])
    return out if out["analysis"].astype(str).str.len().any() else out.drop(columns=["analysis"])


def time_varying(tv: dict | None) -> pd.DataFrame:
    """The time-varying Cox result as one row (no row when the model was not fitted)."""
    if not tv:
        return pd.DataFrame(columns=["term", "hazard ratio", "p", "patients", "events"])
    hr = {"value": tv.get("hr"), "ci_low": tv.get("ci_low"), "ci_high": tv.get("ci_high"),
          "estimable": tv.get("estimable"), "reason": tv.get("reason")}
    return pd.DataFrame([{"term": label(tv.get("term")), "hazard ratio": hazard_ratio(hr), "p": pvalue(tv.get("p")),
                          "patients": tv.get("n"), "events": tv.get("events")}])


def issues_by(issues: pd.DataFrame, severity: str) -> pd.DataFrame:
    """Issues of one severity counted by table, column and code (the code's meaning, one example each)."""
    cols = ["table", "column", "code", "meaning", "count", "example"]
    sub = issues[issues["severity"] == severity]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    sub = sub.assign(column=sub["column"].fillna(""))
    g = sub.groupby(["table", "column", "code"], dropna=False, sort=False)
    out = g.size().reset_index(name="count")
    out["example"] = g["message"].first().to_numpy()
    out["meaning"] = out["code"].map(CODES).fillna("")
    return out.sort_values(["count", "table"], ascending=[False, True]).reset_index(drop=True)[cols]


def disagreements(issues: pd.DataFrame, topic: str) -> pd.DataFrame:
    """Issues about recorded vs derived ``response`` or ``progression`` (by their codes)."""
    codes = DISAGREEMENT_CODES[topic]
    mask = issues["code"].isin(codes)
    cols = ["severity", "code", "table", "row", "patient_id", "column", "value", "message"]
    return issues.loc[mask, cols].reset_index(drop=True)


def configuration(config_dict: dict, sources: dict) -> pd.DataFrame:
    """Every configuration field with its value, meaning and source."""
    rows = []
    for name, value in config_dict.items():
        src = sources.get(name, {})
        rows.append({"field": name, "value": value if not isinstance(value, list) else ", ".join(map(str, value)),
                     "meaning": src.get("doc", ""), "source": src.get("source", "")})
    return pd.DataFrame(rows)


CAUSE_LABELS = {"progression": "progression", "death": "death without progression", "spm": "second primary malignancy"}


def cif_at(block: dict | None, key: str, cause: str) -> pd.DataFrame:
    """A cumulative incidence at the fixed times (``summary.json`` ``competing_risks[key]``) as rows:
    by MRD trend group when the block is keyed by group, else one row for all patients."""
    values = (block or {}).get(key) or {}
    if values and all(isinstance(v, dict) and "value" in v for v in values.values()):
        values = {"all patients": values}
    rows = []
    for g in [*TREND_ORDER, *sorted(set(values) - set(TREND_ORDER))]:
        if g in values:
            rows.append({"event": CAUSE_LABELS.get(cause, cause), "group": TREND_LABELS.get(g, label(g)),
                         **{f"at {t} months": _ci_share(e) for t, e in values[g].items()}})
    return pd.DataFrame(rows).fillna(MISSING)


def gray_tests(block: dict | None) -> pd.DataFrame:
    """Gray's test per cause across the MRD trend groups."""
    tests = (block or {}).get("gray_test") or {}
    order = [c for c in CAUSE_LABELS if c in tests] + sorted(set(tests) - set(CAUSE_LABELS))
    return pd.DataFrame([{"event": CAUSE_LABELS.get(c, c), "chi-square": MISSING if is_missing(tests[c].get("statistic"))
                          else f"{float(tests[c]['statistic']):.2f}", "df": tests[c].get("df"),
                          "p": pvalue(tests[c].get("p"))} for c in order], columns=["event", "chi-square", "df", "p"])


def naive_versus_cif(block: dict | None) -> pd.DataFrame:
    """1 - Kaplan-Meier of progression (deaths censored) beside its cumulative incidence, all patients."""
    km = (block or {}).get("one_minus_km_progression_at_months") or {}
    cif = (block or {}).get("all_progression_cif_at_months") or {}
    rows = [{"months from maintenance start": t, "1 − Kaplan-Meier (deaths censored)": _ci_share(km.get(t)),
             "cumulative incidence (death competing)": _ci_share(cif.get(t))} for t in cif]
    return pd.DataFrame(rows, columns=["months from maintenance start", "1 − Kaplan-Meier (deaths censored)",
                                       "cumulative incidence (death competing)"])
