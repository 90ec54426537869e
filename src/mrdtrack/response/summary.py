"""Per-patient response summaries: best, at maintenance start, deepest (docs/response-rules.md sections 4, 6).

The depth scale adds ``MRD-negative CR`` above sCR (Kumar et al., Lancet Oncol 2016: MRD-negative
CR requires CR plus a negative marrow MRD assessment). Only confirmed responses count; a confirmed
response is dated by the first assessment of its pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.response.levels import CR, MRD_NEG_CR, NONE, level_codes, level_names

SUMMARY_COLUMNS = ["patient_id", "response_at_maintenance_start", "best_response", "deepest_response",
                   "deepest_response_date", "deepest_during_maintenance"]


def _confirmed(assessments: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Confirmed responses with the patient's anchors; ``before_progression`` per section 4."""
    c = assessments.loc[assessments["confirmed_response"].notna(),
                        ["patient_id", "date", "confirmed_response", "confirmed_date"]].copy()
    c["level"] = level_codes(c["confirmed_response"].to_numpy())
    c = c.reset_index(drop=True)
    pos = pd.Index(anchors["patient_id"]).get_indexer(c["patient_id"])  # anchors: one row per patient
    for col in ("progression_date", "maintenance_start", "later_line_start"):
        values = anchors[col].to_numpy(dtype="datetime64[ns]")
        c[col] = np.where(pos >= 0, values[np.maximum(pos, 0)] if len(values) else np.datetime64("NaT"),
                          np.datetime64("NaT")).astype("datetime64[ns]")
    prog, ll = c["progression_date"], c["later_line_start"]
    c["before_progression"] = (prog.isna() | (c["confirmed_date"] < prog)).to_numpy()
    c["before_new_line"] = (ll.isna() | (c["confirmed_date"] < ll)).to_numpy()
    return c


def best_response(confirmed: pd.DataFrame) -> pd.Series:
    """Highest confirmed response dated before the analysis progression date (section 4)."""
    c = confirmed[confirmed["before_progression"]]
    return c.groupby("patient_id")["level"].max()


def response_at_maintenance_start(confirmed: pd.DataFrame) -> pd.Series:
    """The most recent confirmed response of a pair whose second assessment is on or before
    maintenance start (section 4)."""
    c = confirmed[confirmed["maintenance_start"].notna() & (confirmed["date"] <= confirmed["maintenance_start"])]
    c = c.sort_values(["patient_id", "date"]).drop_duplicates("patient_id", keep="last")
    return c.set_index("patient_id")["level"]


def deepest_confirmed(confirmed: pd.DataFrame) -> pd.DataFrame:
    """Highest confirmed level before progression and before a new line, and the date first reached."""
    c = confirmed[confirmed["before_progression"] & confirmed["before_new_line"]]
    top = c.groupby("patient_id")["level"].transform("max")
    c = c[c["level"] == top]
    return c.groupby("patient_id").agg(level=("level", "first"), date=("confirmed_date", "min"))


def mrd_negative_cr_date(confirmed: pd.DataFrame, mrd_samples: pd.DataFrame, anchors: pd.DataFrame,
                         config: Config) -> pd.Series:
    """First date D of MRD-negative CR (section 6): a sample negative at T dated no more than
    ``mrd_cr_window_days`` before the first confirmed CR-or-better date c; D = max(sample date, c).

    Only samples before progression (and before a new line) count. Because every later CR date
    admits a subset of the samples and a later D, the first confirmed CR date gives the first D.
    """
    c = confirmed[confirmed["before_progression"] & confirmed["before_new_line"] & (confirmed["level"] >= CR)]
    cr_date = c.groupby("patient_id")["confirmed_date"].min().rename("cr_date")
    s = mrd_samples.loc[mrd_samples["status"] == "negative", ["patient_id", "date"]]
    s = s.merge(anchors[["patient_id", "progression_date", "later_line_start"]], on="patient_id", how="left")
    s = s[(s["progression_date"].isna() | (s["date"] < s["progression_date"]))
          & (s["later_line_start"].isna() | (s["date"] < s["later_line_start"]))]
    s = s.merge(cr_date.reset_index(), on="patient_id", how="inner")
    s = s[s["date"] >= s["cr_date"] - pd.Timedelta(days=config.mrd_cr_window_days)]
    d = s[["date", "cr_date"]].max(axis=1)
    return d.groupby(s["patient_id"].to_numpy()).min() if len(s) else pd.Series(dtype="datetime64[ns]")


def summarise_responses(assessments: pd.DataFrame, response_patients: pd.DataFrame, mrd_samples: pd.DataFrame,
                        anchors: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per patient: ``SUMMARY_COLUMNS`` (docs/response-rules.md sections 4 and 6).

    ``anchors`` needs ``patient_id, maintenance_start, later_line_start, progression_date`` (the
    analysis progression date); ``mrd_samples`` needs ``patient_id, date, status``.
    ``deepest_during_maintenance``: true when the deepest response was first reached strictly after
    maintenance start, false when on or before it, NA without maintenance or confirmed response.
    """
    pids = response_patients["patient_id"].to_numpy()
    anc = anchors.drop_duplicates("patient_id")
    conf = _confirmed(assessments, anc)
    best = best_response(conf).reindex(pids)
    at_ms = response_at_maintenance_start(conf).reindex(pids)
    deep = deepest_confirmed(conf).reindex(pids)
    mrd_cr = mrd_negative_cr_date(conf, mrd_samples, anc, config).reindex(pids)

    has_mrd_cr = mrd_cr.notna().to_numpy()
    deep_level = np.where(has_mrd_cr, MRD_NEG_CR, deep["level"].fillna(NONE).to_numpy()).astype(np.int64)
    deep_date = pd.Series(np.where(has_mrd_cr, mrd_cr.to_numpy(dtype="datetime64[ns]"),
                                   deep["date"].to_numpy(dtype="datetime64[ns]")), index=pids)
    ms = anc.set_index("patient_id")["maintenance_start"].reindex(pids)
    during = pd.array(np.where(deep_date.to_numpy() > ms.to_numpy(), True, False), dtype="boolean")
    during[(ms.isna() | deep_date.isna()).to_numpy()] = pd.NA
    return pd.DataFrame({
        "patient_id": pids,
        "response_at_maintenance_start": level_names(at_ms.fillna(NONE).to_numpy()),
        "best_response": level_names(best.fillna(NONE).to_numpy()),
        "deepest_response": level_names(deep_level),
        "deepest_response_date": deep_date.to_numpy(),
        "deepest_during_maintenance": during,
    })
