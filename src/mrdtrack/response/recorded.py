"""Recorded (physician) responses compared with the derived ones (docs/response-rules.md section 7).

Each recorded row is matched with the nearest assessment that has a derived response, within
``assessment_window_days`` (**convention**: the earlier assessment on a tie). Every disagreement,
and every recorded row with no assessment in reach, is a warning in ``issues.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.config import Config
from mrdtrack.issues import ISSUE_COLUMNS

#: (assessments column, label, unit) of the values shown behind a derived response.
_SHOWN = (("serum", "serum M-protein", " g/dL"), ("urine", "urine M-protein", " mg/24h"),
          ("kappa", "kappa", " mg/L"), ("lambda", "lambda", " mg/L"), ("dflc", "dFLC", " mg/L"),
          ("flc_ratio", "FLC ratio", ""), ("serum_ife", "serum IFE", ""), ("urine_ife", "urine IFE", ""),
          ("marrow_pct", "marrow plasma cells", "%"), ("marrow_clonality", "marrow", ""),
          ("spd_status", "plasmacytoma SPD", " cm2"), ("nadir_serum", "serum nadir", " g/dL"),
          ("nadir_urine", "urine nadir", " mg/24h"), ("nadir_dflc", "dFLC nadir", " mg/L"))


def lab_values_text(rows: pd.DataFrame) -> pd.Series:
    """The lab values behind each derived response, as 'serum M-protein 0.4 g/dL, ...'."""
    out = pd.Series("", index=rows.index, dtype=object)
    for col, label, unit in _SHOWN:
        if col not in rows:
            continue
        v = rows[col]
        if v.dtype == object:
            text = v.where(v.notna(), None).map(lambda s: "" if s is None else str(s))
        else:
            text = v.map(lambda f: "" if pd.isna(f) else f"{f:.4g}")
        piece = np.where(text != "", label + " " + text + unit, "")
        out = pd.Series(np.where((out != "") & (piece != ""), out + ", " + piece, out + piece), index=rows.index)
    if "new_lesion" in rows:
        out = pd.Series(np.where(rows["new_lesion"].eq(True).to_numpy(), np.where(out != "", out + ", new lesion",
                                 "new lesion"), out), index=rows.index)
    return out.replace("", "no lab values")


def nearest_assessment(recorded: pd.DataFrame, assessments: pd.DataFrame, window: int) -> pd.DataFrame:
    """For each recorded row, the nearest assessment with a response within ``window`` days."""
    r = recorded[["patient_id", "date", "response", "row"]].rename(columns={"date": "rec_date", "response": "recorded"})
    r = r.assign(_i=np.arange(len(r))).sort_values("rec_date")
    # only the assessments of patients with a recorded response can match (usually a small share)
    recorded_patient = pd.Index(r["patient_id"].unique()).get_indexer(assessments["patient_id"]) >= 0
    a = assessments[assessments["response"].notna().to_numpy() & recorded_patient]
    a = a.assign(adate=a["date"]).sort_values("date")
    tol = pd.Timedelta(days=window)
    back = pd.merge_asof(r, a, left_on="rec_date", right_on="date", by="patient_id", direction="backward",
                         tolerance=tol)
    fwd = pd.merge_asof(r, a, left_on="rec_date", right_on="date", by="patient_id", direction="forward",
                        tolerance=tol)
    back, fwd = back.sort_values("_i").reset_index(drop=True), fwd.sort_values("_i").reset_index(drop=True)
    gap_b = (back["rec_date"] - back["adate"]).dt.days.fillna(np.inf)
    gap_f = (fwd["adate"] - fwd["rec_date"]).dt.days.fillna(np.inf)
    use_fwd = (gap_f < gap_b).to_numpy()
    out = back.copy()
    out.loc[use_fwd] = fwd.loc[use_fwd]
    return out


def recorded_response_issues(cohort: Cohort, assessments: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Warnings for recorded responses that disagree with the derived one, or have no assessment near."""
    rec = cohort.responses
    if rec is None or rec.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS}).astype({"row": "Int64"})
    m = nearest_assessment(rec, assessments, config.assessment_window_days)
    found = m["adate"].notna().to_numpy()
    differ = found & (m["response"].astype(object).to_numpy() != m["recorded"].astype(object).to_numpy())
    rec_day = m["rec_date"].dt.strftime("%Y-%m-%d")
    values = lab_values_text(m)
    msg_differ = ("recorded " + m["recorded"].astype(str) + " on " + rec_day + " disagrees with derived "
                  + m["response"].astype(str) + " at the assessment of " + m["adate"].dt.strftime("%Y-%m-%d")
                  + " (" + values + ")")
    msg_none = ("recorded " + m["recorded"].astype(str) + " on " + rec_day + ": no derived assessment within "
                + str(config.assessment_window_days) + " days to compare with")
    sel = differ | ~found
    out = pd.DataFrame({
        "severity": "warning",
        "code": np.where(found, "RECORDED_RESPONSE_DIFFERS", "RECORDED_RESPONSE_UNMATCHED"), "table": "responses", "row": m["row"].to_numpy(), "patient_id": m["patient_id"],
        "column": "response", "value": m["recorded"].astype(str),
        "message": np.where(found, msg_differ, msg_none)})[sel]
    out["row"] = pd.array(pd.to_numeric(out["row"], errors="coerce"), dtype="Int64")
    return out.reset_index(drop=True)[ISSUE_COLUMNS]
