"""Per-patient endpoints (docs/outcomes.md section 1).

PFS = progression (analysis progression date) or death from any cause, whichever first; OS =
death; each from maintenance start and from diagnosis; censored at the end of follow-up. Times in
days and in months (days / ``config.days_per_month``). Maintenance-anchored endpoints are blank
outside the maintenance cohort (docs/mrd.md section 4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.issues import issue, issues_frame

ENDPOINT_COLUMNS = [
    "pfs_months", "pfs_days", "pfs_event", "os_months", "os_days", "os_event",
    "pfs_dx_months", "pfs_dx_days", "pfs_dx_event", "os_dx_months", "os_dx_days", "os_dx_event",
]


def maintenance_cohort(anchors: pd.DataFrame) -> pd.Series:
    """True for patients with a maintenance start and no progression, death or later line before it.

    docs/mrd.md section 4: the others are left out of the maintenance figures and endpoints.
    """
    ms = anchors["maintenance_start"]
    before = pd.Series(False, index=anchors.index)
    for col in ("progression_date", "death_date", "later_line_start"):
        before |= anchors[col].notna() & (anchors[col] < ms)
    return ms.notna() & ~before


def _time_to(origin: pd.Series, event_date: pd.Series, censor_date: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Days from origin to the event when there is one, else to the censoring date."""
    has_event = event_date.notna()
    end = event_date.where(has_event, censor_date)
    days = (end - origin).dt.days.astype("float64")
    return days, has_event


def derive_endpoints(anchors: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PFS/OS columns of patients.csv per patient, plus `in_maintenance_cohort`, and issues.

    ``anchors`` are timeline.patient_anchors plus ``progression_date`` (the analysis date).
    """
    a = anchors
    pfs_date = a[["progression_date", "death_date"]].min(axis=1)
    out = pd.DataFrame({"patient_id": a["patient_id"]})
    in_cohort = maintenance_cohort(a)
    out["in_maintenance_cohort"] = in_cohort.to_numpy()
    specs = {
        "pfs": (a["maintenance_start"], pfs_date),
        "os": (a["maintenance_start"], a["death_date"]),
        "pfs_dx": (a["diagnosis_date"], pfs_date),
        "os_dx": (a["diagnosis_date"], a["death_date"]),
    }
    for name, (origin, event_date) in specs.items():
        days, event = _time_to(origin, event_date, a["end_of_followup"])
        valid = origin.notna() & days.notna()
        if name in ("pfs", "os"):
            valid &= in_cohort
        out[f"{name}_days"] = days.where(valid)
        out[f"{name}_months"] = (days / config.days_per_month).where(valid)
        out[f"{name}_event"] = pd.array(np.where(valid, event, pd.NA), dtype="boolean")
    out = out[["patient_id", "in_maintenance_cohort", *ENDPOINT_COLUMNS]]

    left_out = a[a["maintenance_start"].notna() & ~in_cohort]
    recs = [issue("excluded", "treatments", code="NOT_IN_MAINTENANCE_COHORT", message=
                  "progression, death or a later line before maintenance start: left out of the "
                  "maintenance cohort (maintenance endpoints and MRD figures)",
                  patient_id=pid, column="maintenance_start", value=str(ms.date()))
            for pid, ms in zip(left_out["patient_id"], left_out["maintenance_start"])]
    negative = out[(out["pfs_days"] < 0) | (out["os_days"] < 0)]
    recs += [issue("warning", "events", code="EVENT_BEFORE_MAINTENANCE", message="event or end of follow-up before maintenance start",
                   patient_id=pid) for pid in negative["patient_id"]]
    return out, issues_frame(recs)


def progression_discrepancy_issues(anchors: pd.DataFrame, derived: pd.Series, days: int) -> pd.DataFrame:
    """One warning per patient whose derived and recorded progression differ by more than
    ``days`` or exist in only one source (docs/outcomes.md section 1)."""
    rec = anchors.set_index("patient_id")["recorded_progression_date"]
    der = derived.reindex(rec.index)
    gap = (der - rec).abs().dt.days
    bad = (der.notna() != rec.notna()) | (gap > days)
    recs = []
    for pid in rec.index[bad.to_numpy()]:
        d, r = der.get(pid), rec.get(pid)
        ds = "none" if pd.isna(d) else str(d.date())
        rs = "none" if pd.isna(r) else str(r.date())
        recs.append(issue("warning", "events", code="PROGRESSION_DISAGREES", message=
                          f"progression: derived from labs {ds}, recorded {rs} (differ by more than "
                          f"{days} days or only one exists)", patient_id=pid, column="progression",
                          value=f"derived={ds}; recorded={rs}"))
    return issues_frame(recs)
