"""Lay the pipeline's per-patient tables out on the plots' time axes (months from maintenance start).

Only date arithmetic and selection happen here: which patients a plot draws (a reproducible
random sample when there are too many to read) and where each mark goes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.report.tables import maintenance_cohort

MAX_SPAGHETTI_PATIENTS = 60
MAX_SWIMMER_PATIENTS = 40
SAMPLE_SEED = 2020


def truthy(s: pd.Series) -> pd.Series:
    """Booleans written as True/False, 'true'/'false' or 1/0 as a boolean Series (missing = False)."""
    return s.astype(str).str.strip().str.lower().isin(("true", "1", "1.0", "yes"))


def patient_frame(patients: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Maintenance-cohort patients with the anchor dates the plots need (anchors fill gaps)."""
    p = maintenance_cohort(patients).copy()
    extra = [c for c in ("end_of_followup", "death_date", "progression_date", "later_line_start")
             if c not in p.columns and c in anchors.columns]
    if extra and len(anchors):
        p = p.merge(anchors[["patient_id", *extra]], on="patient_id", how="left")
    for c in ("maintenance_start", "maintenance_end", "end_of_followup", "death_date", "progression_date",
              "deepest_response_date", "later_line_start"):
        if c in p.columns:
            p[c] = pd.to_datetime(p[c], errors="coerce")
    return p[p["maintenance_start"].notna()]


def sample_patients(ids, cap: int) -> tuple[list, int]:
    """(ids to draw, total): all when at most ``cap``, else a seeded random sample of ``cap``."""
    ids = sorted(pd.unique(pd.Series(list(ids), dtype=object)))
    if len(ids) <= cap:
        return ids, len(ids)
    rng = np.random.default_rng(SAMPLE_SEED)
    pick = rng.choice(len(ids), size=cap, replace=False)
    return sorted(ids[i] for i in pick), len(ids)


def _months(later: pd.Series, origin: pd.Series, days_per_month: float) -> pd.Series:
    return (later - origin).dt.days / days_per_month


def spaghetti_points(mrd: pd.DataFrame, pf: pd.DataFrame, config) -> tuple[pd.DataFrame, int, int]:
    """(points, patients drawn, patients with samples) for the serial-MRD plot.

    Samples from the start of the entry window to the end of maintenance, the progression or a
    later line, whichever comes first (docs/mrd.md section 2); y is log10 of the level, or of the LOD
    for a censored (not detected) sample.
    """
    cols = ["patient_id", "months", "y", "censored", "mrd_trend"]
    if mrd.empty or pf.empty:
        return pd.DataFrame(columns=cols), 0, 0
    ends = [c for c in ("maintenance_end", "progression_date", "later_line_start") if c in pf.columns]
    stop = pf[ends].min(axis=1) if ends else pd.Series(pd.NaT, index=pf.index)
    m = mrd.merge(pf[["patient_id", "maintenance_start", "mrd_trend"]].assign(_stop=stop), on="patient_id",
                  how="inner")
    dates = pd.to_datetime(m["date"])
    m["months"] = _months(dates, m["maintenance_start"], config.days_per_month)
    m = m[(m["months"] >= -config.entry_window_before_days / config.days_per_month)
          & (m["_stop"].isna() | (dates <= m["_stop"]))]
    m["censored"] = truthy(m["censored"])
    lvl = pd.to_numeric(m.get("log10_level"), errors="coerce")
    lod = np.log10(pd.to_numeric(m["lod"], errors="coerce"))
    m["y"] = lvl.where(~m["censored"] & lvl.notna(), lod)
    m = m[m["y"].notna()]
    ids, total = sample_patients(m["patient_id"], MAX_SPAGHETTI_PATIENTS)
    m = m[m["patient_id"].isin(ids)]
    return m[cols].reset_index(drop=True), len(ids), total


def swimmer_lanes(pf: pd.DataFrame, mrd: pd.DataFrame, config) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """(lanes, marks, patients drawn, patients in the maintenance cohort) for the swimmer plot."""
    lane_cols = ["patient_id", "maint_end", "followup_end"]
    mark_cols = ["patient_id", "months", "kind"]
    if pf.empty:
        return pd.DataFrame(columns=lane_cols), pd.DataFrame(columns=mark_cols), 0, 0
    ids, total = sample_patients(pf["patient_id"], MAX_SWIMMER_PATIENTS)
    p = pf[pf["patient_id"].isin(ids)].copy()
    dpm = config.days_per_month
    ms = p["maintenance_start"]
    p["maint_end"] = _months(p["maintenance_end"], ms, dpm).fillna(0).clip(lower=0)
    p["followup_end"] = _months(p["end_of_followup"], ms, dpm).fillna(p["maint_end"]).clip(lower=0)
    p = p.sort_values(["followup_end", "patient_id"], ascending=[False, True])
    marks = []
    for col, kind in (("deepest_response_date", "deepest_response"), ("progression_date", "progression"),
                      ("death_date", "death")):
        if col in p.columns:
            t = _months(p[col], ms, dpm)
            marks.append(pd.DataFrame({"patient_id": p["patient_id"], "months": t, "kind": kind}).dropna())
    if len(mrd):
        s = mrd[mrd["patient_id"].isin(ids)].merge(p[["patient_id", "maintenance_start"]], on="patient_id")
        t = _months(pd.to_datetime(s["date"]), s["maintenance_start"], dpm)
        kind = "mrd_" + s["status"].astype(str)
        marks.append(pd.DataFrame({"patient_id": s["patient_id"], "months": t, "kind": kind}))
    mk = pd.concat(marks, ignore_index=True) if marks else pd.DataFrame(columns=mark_cols)
    mk = mk[mk["months"] >= -config.entry_window_before_days / dpm]
    return p[lane_cols].reset_index(drop=True), mk[mark_cols].reset_index(drop=True), len(ids), total
