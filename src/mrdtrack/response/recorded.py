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
    """For each recorded row, the nearest assessment with a response within ``window`` days: the
    recorded row's columns, the assessment's (missing where none is in reach) and ``adate``.

    The two as-of searches carry only the assessment's position, whose row is taken once at the end
    (merging the whole wide assessment table twice cost more than the rest of the comparison).
    """
    r = recorded[["patient_id", "date", "response", "row"]].rename(columns={"date": "rec_date", "response": "recorded"})
    r = r.assign(_i=np.arange(len(r))).sort_values("rec_date")
    # only the assessments of patients with a recorded response can match (usually a small share)
    recorded_patient = pd.Index(r["patient_id"].unique()).get_indexer(assessments["patient_id"]) >= 0
    sel = np.flatnonzero(assessments["response"].notna().to_numpy() & recorded_patient)
    keys = pd.DataFrame({"patient_id": assessments["patient_id"].to_numpy()[sel],
                         "date": assessments["date"].to_numpy()[sel], "_j": sel}).sort_values("date")
    tol = pd.Timedelta(days=window)
    left = r[["patient_id", "rec_date", "_i"]]

    def nearest(direction: str) -> tuple[np.ndarray, np.ndarray]:
        m = pd.merge_asof(left, keys, left_on="rec_date", right_on="date", by="patient_id", direction=direction,
                          tolerance=tol).sort_values("_i")
        gap = (m["date"] - m["rec_date"]).dt.days.abs().fillna(np.inf).to_numpy()
        return m["_j"].fillna(-1).to_numpy(dtype=np.int64), gap

    j_back, gap_back = nearest("backward")
    j_fwd, gap_fwd = nearest("forward")
    j = np.where(gap_fwd < gap_back, j_fwd, j_back)  # the earlier one on a tie; -1: none in reach
    hit = j >= 0
    found = assessments.iloc[j[hit]].drop(columns=["patient_id"])
    found.index = np.flatnonzero(hit)
    found = found.reindex(np.arange(len(j)))  # no assessment: missing values
    found["adate"] = found["date"]
    return pd.concat([r.sort_values("_i").reset_index(drop=True), found], axis=1)


def recorded_response_issues(cohort: Cohort, assessments: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Warnings for recorded responses that disagree with the derived one, or have no assessment near."""
    none = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS}).astype({"row": "Int64"})
    rec = cohort.responses
    if rec is None or rec.empty:
        return none
    m = nearest_assessment(rec, assessments, config.assessment_window_days)
    found = m["adate"].notna().to_numpy()
    differ = found & (m["response"].astype(object).to_numpy() != m["recorded"].astype(object).to_numpy())
    sel = differ | ~found
    if not sel.any():
        return none
    m, found = m[sel].reset_index(drop=True), found[sel]  # only the rows to report are worded
    rec_day = m["rec_date"].dt.strftime("%Y-%m-%d")
    values = lab_values_text(m)
    msg_differ = ("recorded " + m["recorded"].astype(str) + " on " + rec_day + " disagrees with derived "
                  + m["response"].astype(str) + " at the assessment of " + m["adate"].dt.strftime("%Y-%m-%d")
                  + " (" + values + ")")
    msg_none = ("recorded " + m["recorded"].astype(str) + " on " + rec_day + ": no derived assessment within "
                + str(config.assessment_window_days) + " days to compare with")
    out = pd.DataFrame({
        "severity": "warning",
        "code": np.where(found, "RECORDED_RESPONSE_DIFFERS", "RECORDED_RESPONSE_UNMATCHED"), "table": "responses",
        "row": m["row"].to_numpy(), "patient_id": m["patient_id"], "column": "response",
        "value": m["recorded"].astype(str), "message": np.where(found, msg_differ, msg_none)})
    out["row"] = pd.array(pd.to_numeric(out["row"], errors="coerce"), dtype="Int64")
    return out[ISSUE_COLUMNS]
