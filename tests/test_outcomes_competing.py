"""Competing-risks inputs of ``analyze`` (outcomes/competing_risks.py): vignettes of the per-patient
cause and time, SPM before maintenance, and the issues when an analysis cannot be run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import make_config
from mrdtrack.outcomes.competing_risks import competing_risks, progression_death_frame, spm_frame

CFG = make_config()
MS = pd.Timestamp("2020-01-01")


def day(n):
    return MS + pd.Timedelta(days=n) if n is not None else pd.NaT


def patients(rows) -> pd.DataFrame:
    """rows: (id, pfs_days, pfs_event, progression day, death day, os_days, spm day, trend)."""
    out = []
    for pid, pfs, pev, prog, death, os_, spm, trend in rows:
        out.append({"patient_id": pid, "in_maintenance_cohort": True, "maintenance_start": MS,
                    "pfs_days": pfs, "pfs_event": pev, "progression_date": day(prog), "death_date": day(death),
                    "os_days": os_, "os_event": death is not None, "spm_date": day(spm), "mrd_trend": trend,
                    "landmark_12_trend": trend, "landmark_24_trend": trend, "cytogenetic_risk": "standard",
                    "iss_stage": "I"})
    return pd.DataFrame(out)


def test_progression_and_death_without_progression_from_maintenance_start():
    p = patients([
        ("A", 100, True, 100, 400, 400, None, "negative"),   # progressed, died later: progression
        ("B", 200, True, None, 200, 200, None, "negative"),  # died without progression: death
        ("C", 300, True, 300, 300, 300, None, "decreasing"),  # same day: progression
        ("D", 500, False, None, None, 500, None, "decreasing"),  # censored
    ])
    f = progression_death_frame(p, CFG)
    assert f["cause"].tolist() == ["progression", "death", "progression", "0"]
    np.testing.assert_allclose(f["time"], np.array([100, 200, 300, 500]) / CFG.days_per_month)
    lm = progression_death_frame(p, CFG, landmark=5.0)  # 152 days: A is out, time from the landmark
    assert lm["patient_id"].tolist() == ["B", "C", "D"]
    np.testing.assert_allclose(lm["time"], np.array([200, 300, 500]) / CFG.days_per_month - 5.0)


def test_spm_with_death_competing_and_prior_spm_left_out():
    p = patients([
        ("A", 100, True, 100, 400, 400, 250, "negative"),  # SPM at 250 before death: spm
        ("B", 200, True, None, 200, 200, None, "negative"),  # death first
        ("C", 300, False, None, None, 300, 350, "negative"),  # SPM after the end of follow-up: censored
        ("D", 500, False, None, None, 500, -30, "negative"),  # SPM before maintenance: left out
    ])
    f, recs = spm_frame(p, CFG)
    assert f["patient_id"].tolist() == ["A", "B", "C"]
    assert f["cause"].tolist() == ["spm", "death", "0"]
    np.testing.assert_allclose(f["time"], np.array([250, 200, 300]) / CFG.days_per_month)
    assert [r["code"] for r in recs] == ["SPM_BEFORE_MAINTENANCE"] and recs[0]["patient_id"] == "D"


def test_no_death_and_no_progression_in_a_group_are_coded_issues_not_infinite_hazard_ratios():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(60):
        trend = ("negative", "decreasing", "not_decreasing")[i % 3]
        t = int(rng.integers(30, 900))
        progressed = trend != "negative" and i % 2 == 0  # no progression at all in the negative group
        rows.append((f"P{i}", t, progressed, t if progressed else None, None, t + 10, None, trend))
    summary, tables, recs = competing_risks(patients(rows), CFG)
    codes = {r["code"] for r in recs}
    assert "CIF_CAUSE_ABSENT" in codes  # no death without progression at all, none progressing in one group
    assert "FINEGRAY_NOT_ESTIMABLE" in codes or "FINEGRAY_NOT_CONVERGED" in codes
    neg = summary["fine_gray"]["maintenance_start"]["unadjusted"]["negative"]
    assert neg["value"] is None and neg["estimable"] is False and neg["reason"].startswith("FINEGRAY_")
    fg = tables["finegray_pfs_by_trend"]
    neg = fg[(fg["term"] == "negative") & (fg["analysis"] == "from maintenance start")]
    assert neg["hr"].isna().all()
    assert np.isfinite(fg.loc[fg["term"] == "decreasing", "hr"]).all()
    assert summary["gray_test"]["progression"]["p"] is not None


def test_empty_cohort_gives_empty_tables_and_an_issue():
    p = patients([("A", 100, False, None, None, 100, None, "negative")])
    summary, tables, recs = competing_risks(p, CFG)
    assert tables["cif_curves"].empty and tables["finegray_pfs_by_trend"].empty
    assert "CIF_CAUSE_ABSENT" in {r["code"] for r in recs}
    assert summary["spm"]["events"] == 0
