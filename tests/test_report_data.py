"""A hand-made ``Analysis`` with the documented columns, for the report's unit tests.

``make_analysis`` builds a small cohort's derived tables, summary and curves by hand (a tiny
product-limit estimate, not the pipeline's), so the report can be tested in isolation, including
edge cases such as an empty trend group. The tests here keep the fixture in line with the
pipeline's column lists.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from builders import make_cohort
from mrdtrack.config import make_config
from mrdtrack.issues import ISSUE_COLUMNS, issues_frame
from mrdtrack.outcomes.competing_risks import competing_risks
from mrdtrack.pipeline import Analysis

TRENDS = ("negative", "decreasing", "not_decreasing")
DPM = 30.4375


def _km(times: np.ndarray, events: np.ndarray, strata: str) -> pd.DataFrame:
    rows, s = [], 1.0
    for t in np.unique(times):
        at = int((times >= t).sum())
        d = int(((times == t) & (events == 1)).sum())
        c = int(((times == t) & (events == 0)).sum())
        s *= 1 - d / at
        rows.append({"strata": strata, "time": float(t), "n_risk": at, "n_event": d, "n_censor": c, "survival": s,
                     "lower": max(0.0, s - 0.1), "upper": min(1.0, s + 0.1)})
    return pd.DataFrame(rows)


def _at_risk(curve: str, times: np.ndarray, strata: str) -> pd.DataFrame:
    grid = np.arange(0, max(times.max(), 1) + 1e-9, 6.0)
    return pd.DataFrame({"curve": curve, "strata": strata, "time": grid,
                         "n_risk": [int((times >= g).sum()) for g in grid]})


def _share(num: int, den: int) -> dict:
    v = num / den if den else None
    return {"numerator": num, "denominator": den, "value": v,
            "ci_low": None if v is None else max(0, v - 0.1), "ci_high": None if v is None else min(1, v + 0.1)}


def make_analysis(n: int = 24, seed: int = 1, trends=TRENDS, with_warnings: bool = True) -> Analysis:
    """A synthetic but consistent Analysis of ``n`` patients whose trends cycle through ``trends``."""
    rng = np.random.default_rng(seed)
    ids = [f"MM-{i:04d}" for i in range(1, n + 1)]
    dx = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    ms = dx + pd.to_timedelta(300, unit="D")
    pfs = rng.uniform(3, 60, n).round(1)
    pfs_event = rng.integers(0, 2, n)
    os_ = pfs + rng.uniform(0, 20, n).round(1)
    os_event = pfs_event * rng.integers(0, 2, n)
    trend = [trends[i % len(trends)] if trends else None for i in range(n)]
    died_first = (pfs_event == 1) & (np.arange(n) % 5 == 4)  # death without progression: a competing event
    os_ = np.where(died_first, pfs, os_)
    os_event = np.where(died_first, 1, os_event)
    prog = [m + pd.Timedelta(days=float(p * DPM)) if e and not d else pd.NaT
            for m, p, e, d in zip(ms, pfs, pfs_event, died_first)]
    spm = [m + pd.Timedelta(days=float(0.5 * o * DPM)) if i % 7 == 3 else pd.NaT
           for i, (m, o) in enumerate(zip(ms, os_))]
    death = [m + pd.Timedelta(days=float(o * DPM)) if e else pd.NaT for m, o, e in zip(ms, os_, os_event)]
    eof = [m + pd.Timedelta(days=float(o * DPM)) for m, o in zip(ms, os_)]
    mend = [m + pd.Timedelta(days=float(p * DPM)) for m, p in zip(ms, pfs)]
    depth = ["VGPR", "CR", "sCR", "MRD-negative CR", "PR"]
    patients = pd.DataFrame({
        "patient_id": ids, "followed": "serum", "maintenance_start": ms, "maintenance_end": mend,
        "response_at_maintenance_start": [depth[i % 4] for i in range(n)],
        "best_response": "CR", "deepest_response": [depth[(i + 1) % 5] for i in range(n)],
        "deepest_response_date": [m + pd.Timedelta(days=200) for m in ms],
        "deepest_during_maintenance": [bool(i % 3) for i in range(n)],
        "progression_date": prog, "progression_source": ["derived" if e else None for e in pfs_event],
        "mrd_entry_status": [("negative", "positive", "unknown")[i % 3] for i in range(n)],
        "mrd_converted": [True if i % 3 == 1 and i % 2 else (False if i % 3 == 1 else None) for i in range(n)],
        "mrd_ever_negative": [i % 2 == 0 for i in range(n)], "mrd_sustained_negative": [i % 4 == 0 for i in range(n)],
        "mrd_sustained_negative_imaging": None, "mrd_lost_negativity": [i % 5 == 0 for i in range(n)],
        "mrd_kinetics": [{"negative": "remained_negative", "decreasing": "decreasing",
                          "not_decreasing": "stable", None: "not_evaluable"}[t] for t in trend],
        "mrd_trend": trend, "months_to_mrd_negative": None, "mrd_samples": 3, "mrd_log10_slope_per_year": -0.5,
        "pfs_months": pfs, "pfs_days": (pfs * DPM).round(), "pfs_event": pfs_event.astype(bool),
        "os_months": os_, "os_days": (os_ * DPM).round(), "os_event": os_event.astype(bool),
        "pfs_dx_months": pfs + 10, "pfs_dx_days": ((pfs + 10) * DPM).round(), "pfs_dx_event": pfs_event.astype(bool),
        "os_dx_months": os_ + 10, "os_dx_days": ((os_ + 10) * DPM).round(), "os_dx_event": os_event.astype(bool),
        "in_maintenance_cohort": True, "end_of_followup": eof, "death_date": death,
        "age_at_diagnosis": rng.normal(58, 7, n).round(), "sex": rng.choice(["F", "M"], n),
        "iss_stage": rng.choice(["I", "II", "III"], n), "cytogenetic_risk": rng.choice(["standard", "high"], n),
        "heavy_chain": "IgG", "light_chain": rng.choice(["kappa", "lambda"], n), "spm_date": spm,
    })
    for lm in (12, 24):
        patients[f"landmark_{lm}_trend"] = [t if p > lm else None for t, p in zip(trend, pfs)]
    mrd_rows = []
    for i, (pid, m) in enumerate(zip(ids, ms)):
        for k in range(3):
            date = m + pd.Timedelta(days=-30 + 365 * k)
            detected = (i + k) % 2 == 0
            level = 10 ** (-3 - k - (i % 3) * 0.5) if detected else None
            lod = 1e-5 if i % 4 else 1e-4
            status = ("positive" if level >= 1e-5 else "negative") if detected else (
                "negative" if lod <= 1e-5 else "not_evaluable")
            mrd_rows.append({"patient_id": pid, "date": date, "phase": "maintenance", "method": "NGF", "lod": lod,
                             "result": "detected" if detected else "not_detected", "level": level,
                             "log10_level": np.log10(level) if detected else np.log10(lod),
                             "censored": not detected, "status": status})
    mrd = pd.DataFrame(mrd_rows)
    anchors = pd.DataFrame({"patient_id": ids, "diagnosis_date": dx, "first_treatment_date": dx + pd.Timedelta(days=20),
                            "maintenance_start": ms, "maintenance_end": mend, "later_line_start": pd.NaT,
                            "death_date": death, "end_of_followup": eof, "progression_date": prog})
    assessments = pd.DataFrame({"patient_id": ids, "date": ms, "phase": "maintenance", "response": "CR",
                                "confirmed_response": "CR", "pd_confirmed": False, "basis": "serum", "note": None})
    recs = [{"severity": "excluded", "code": "LAB_UNKNOWN_UNIT", "table": "labs", "row": 12, "patient_id": ids[0], "column": "unit",
             "value": "mg", "message": "unknown unit for serum_m_protein"},
            {"severity": "excluded", "code": "PATIENT_LEFT_OUT", "table": "patients", "row": 40, "patient_id": "MM-9999",
             "column": "diagnosis_date",
             "value": "", "message": "diagnosis_date missing: patient left out"}]
    if with_warnings:
        recs += [{"severity": "warning", "code": "RECORDED_RESPONSE_DIFFERS", "table": "responses", "row": 3, "patient_id": ids[1], "column": "response",
                  "value": "CR", "message": "recorded response CR differs from derived VGPR (serum 0.2 g/dL)"},
                 {"severity": "warning", "code": "PROGRESSION_DISAGREES", "table": "events", "row": 5, "patient_id": ids[2], "column": "date",
                  "value": "2015-02-01", "message": "recorded progression 2015-02-01 and derived progression "
                                                    "2015-06-01 differ by more than 30 days"}]
    issues = issues_frame(recs)[ISSUE_COLUMNS]
    statistics, groups = {}, {}
    at_risk = []
    for key, t, e in (("km_pfs", pfs, pfs_event), ("km_os", os_, os_event), ("km_pfs_dx", pfs + 10, pfs_event),
                      ("km_os_dx", os_ + 10, os_event)):
        statistics[key] = _km(t, e, "all")
        at_risk.append(_at_risk(key, t, "all"))
    curves, lm12, lm24 = [], [], []
    tr = np.array([x if x is not None else "" for x in trend])
    for g in TRENDS:
        sel = tr == g
        if sel.any():
            curves.append(_km(pfs[sel], pfs_event[sel], g))
            at_risk.append(_at_risk("km_pfs_by_trend", pfs[sel], g))
            for lm, out in ((12, lm12), (24, lm24)):
                keep = sel & (pfs > lm)
                if keep.any():
                    out.append(_km(pfs[keep] - lm, pfs_event[keep], g))
                    at_risk.append(_at_risk(f"km_landmark_{lm}", pfs[keep] - lm, g))
        hr = {"value": 0.5, "ci_low": 0.2, "ci_high": 1.1} if g != "not_decreasing" else None
        groups[g] = {"n": int(sel.sum()), "events": int(pfs_event[sel].sum()),
                     "median": {"value": float(np.median(pfs[sel])) if sel.any() else None, "ci_low": None,
                                "ci_high": None},
                     "hazard_ratio": hr, "hazard_ratio_adjusted": hr}
    cols = ["strata", "time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper"]
    statistics["km_pfs_by_trend"] = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=cols)
    statistics["km_landmark_12"] = pd.concat(lm12, ignore_index=True) if lm12 else pd.DataFrame(columns=cols)
    statistics["km_landmark_24"] = pd.concat(lm24, ignore_index=True) if lm24 else pd.DataFrame(columns=cols)
    statistics["at_risk"] = pd.concat(at_risk, ignore_index=True)
    present = [g for g in ("negative", "decreasing") if g in trends]
    statistics["cox_pfs_by_trend"] = pd.DataFrame(
        [{"model": m, "term": f"mrd_trend{g}", "hr": 0.5, "lower": 0.2, "upper": 1.1, "p": 0.04}
         for m in ("unadjusted", "adjusted") for g in present],
        columns=["model", "term", "hr", "lower", "upper", "p"])
    summary = {
        "config": make_config().to_dict(),
        "provenance": {"inputs": {"patients": {"path": "cohort/patients.csv", "sha256": "ab" * 32},
                                  "mrd": {"path": "cohort/mrd.csv", "sha256": "cd" * 32}},
                       "version": "0.1.0", "profile": "imwg2016", "data_cut": "2020-06-30"},
        "counts": {"patients_in": n + 1, "patients_used": n, "patients_excluded": 1,
                   "rows": {"labs": {"in": 100, "used": 99, "excluded": 1}, "mrd": {"in": 3 * n, "used": 3 * n,
                                                                                   "excluded": 0}}},
        "deepest_during_maintenance": _share(8, 21), "mrd_conversion": _share(3, 9),
        "progressed_after_mrd_negative": _share(2, 12),
        "median_pfs_months": {"value": 30.5, "ci_low": 20.1, "ci_high": None},
        "median_os_months": {"value": None, "ci_low": None, "ci_high": None},
        "median_pfs_dx_months": {"value": 40.5, "ci_low": 30.1, "ci_high": 55.0},
        "median_os_dx_months": {"value": None, "ci_low": None, "ci_high": None},
        "pfs_by_mrd_trend": {"groups": groups, "logrank_p": 0.031},
        "landmark": {k: {"groups": groups, "logrank_p": 0.2, "n_at_landmark": n - 3} for k in ("12", "24")},
        "time_varying_cox": {"term": "mrd_negative", "hr": 0.4, "ci_low": 0.2, "ci_high": 0.9, "p": 0.02, "n": n,
                             "events": int(pfs_event.sum())},
    }
    summary["competing_risks"], cr_tables, _ = competing_risks(patients, make_config())  # the real statistics
    statistics.update(cr_tables)
    cohort = make_cohort([{"patient_id": pid, "diagnosis_date": d} for pid, d in zip(ids, dx)],
                         data_cut="2020-06-30")
    return Analysis(config=make_config(), cohort=cohort, anchors=anchors, assessments=assessments, mrd=mrd,
                    patients=patients, issues=issues, summary=summary, statistics=statistics)


def test_fixture_has_the_pipeline_columns():
    from mrdtrack.pipeline import MRD_COLUMNS, PATIENT_COLUMNS

    a = make_analysis()
    assert set(PATIENT_COLUMNS) <= set(a.patients.columns)
    assert set(MRD_COLUMNS) <= set(a.mrd.columns)
    assert list(a.issues.columns) == ISSUE_COLUMNS


def test_fixture_can_leave_a_trend_group_empty():
    a = make_analysis(trends=("negative", "not_decreasing"))
    assert "decreasing" not in set(a.patients["mrd_trend"])
    assert set(a.statistics["km_pfs_by_trend"]["strata"]) == {"negative", "not_decreasing"}
