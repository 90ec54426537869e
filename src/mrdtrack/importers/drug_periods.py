"""Drug records -> drug periods of one ingredient (phases-from-drugs rules, "Drug periods",
docs/phases-from-drugs.md). Vectorised over all patients: one sort, a grouped running maximum and
one aggregation; the log keeps which records made each period and every record left out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.importers.log import PART
from mrdtrack.importers.phase_rules import PhaseRules

LOG_COLUMNS = ["patient_id", "code", "detail", "record_ids"]
PERIOD_COLUMNS = ["patient_id", "ingredient", "start_date", "end_date", "record_ids"]
_DAY = np.timedelta64(1, "D")


def log_frame(patient_id, code, detail, record_ids) -> pd.DataFrame:
    """A decisions/log frame from equal-length columns (``code`` may be one string)."""
    n = len(patient_id)
    return pd.DataFrame({"patient_id": np.asarray(patient_id, dtype=object),
                         "code": np.full(n, code, dtype=object) if isinstance(code, str) else code,
                         "detail": np.asarray(detail, dtype=object),
                         "record_ids": np.asarray(record_ids, dtype=object)}, columns=LOG_COLUMNS)


def record_end(records: pd.DataFrame) -> pd.Series:
    """End = end_date, else start + days_supply - 1, else the start date; never before the start."""
    supply = pd.to_numeric(records["days_supply"], errors="coerce")
    by_supply = records["start_date"] + pd.to_timedelta(supply.clip(lower=1) - 1, unit="D")
    end = records["end_date"].fillna(by_supply).fillna(records["start_date"])
    return end.where(end >= records["start_date"], records["start_date"])


def end_of_record_window(patients: pd.DataFrame, data_cut) -> pd.DataFrame:
    """Per patient: the last day a drug may run (death, else the data cut; the earlier of both)."""
    p = patients[["patient_id", "death_date"]].drop_duplicates("patient_id")
    cut = pd.Timestamp(data_cut)
    limit = p["death_date"].where(p["death_date"] < cut, cut).fillna(cut)
    return pd.DataFrame({"patient_id": p["patient_id"], "limit": limit, "death_date": p["death_date"]})


def join_ids(ids, groups) -> tuple[np.ndarray, list[str]]:
    """``';'``-joined ids per run of equal ``groups`` (rows already sorted by group): the distinct
    groups in order and their joined ids (one slice per group, no pandas apply)."""
    groups = np.asarray(groups)
    ids = [str(x) for x in ids]
    if len(groups) == 0:
        return groups, []
    first = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    last = np.r_[first[1:], len(groups)]
    return groups[first], [";".join(ids[a:b]) for a, b in zip(first.tolist(), last.tolist())]


def iso_dates(dates) -> np.ndarray:
    """ISO date strings (fast: numpy's day unit, not strftime)."""
    return np.asarray(pd.Series(dates).to_numpy(dtype="datetime64[D]")).astype(str)


def _excluded(records: pd.DataFrame, keep: np.ndarray, code: str, detail: str) -> pd.DataFrame:
    bad = records[~keep]
    return log_frame(bad["patient_id"], code, detail + " (" + bad["ingredient"].astype(str) + ")",
                     bad["record_id"].astype(str))


def merge_persistent(rec: pd.DataFrame, persistence_days: int) -> pd.DataFrame:
    """Periods of one ingredient whose gap (next start - previous end - 1) is <= persistence_days
    merge into one; overlapping periods always merge."""
    rec = rec.sort_values(["patient_id", "ingredient", "start_date", "end_date"], kind="stable")
    key = ["patient_id", "ingredient"]
    prev_end = rec.groupby(key, sort=False)["end_date"].cummax().groupby(
        [rec["patient_id"], rec["ingredient"]], sort=False).shift()
    gap = (rec["start_date"] - prev_end) / _DAY - 1
    new = prev_end.isna() | (gap > persistence_days)
    period = new.cumsum().to_numpy()
    g = rec.groupby(period, sort=False)
    return pd.DataFrame({
        "patient_id": g["patient_id"].first().to_numpy(), "ingredient": g["ingredient"].first().to_numpy(),
        "start_date": g["start_date"].min().to_numpy(), "end_date": g["end_date"].max().to_numpy(),
        "record_ids": np.asarray(join_ids(rec["record_id"].to_numpy(), period)[1], dtype=object),
    })


def _clip(periods: pd.DataFrame, window: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    w = window.set_index("patient_id").reindex(periods["patient_id"])
    limit = w["limit"].to_numpy()
    over = periods["end_date"].to_numpy() > limit
    at_death = over & (w["death_date"].to_numpy() == limit)
    p = periods[over]
    codes = np.where(at_death[over], "DRUG_PERIOD_CLIPPED_DEATH", "DRUG_PERIOD_CLIPPED_DATA_CUT")
    log = log_frame(p["patient_id"], codes,
                    p["ingredient"] + " period " + iso_dates(p["start_date"]) + " to "
                    + iso_dates(p["end_date"]) + " cut at " + iso_dates(limit[over]), p["record_ids"])
    periods = periods.assign(end_date=np.where(over, limit, periods["end_date"].to_numpy()))
    return periods, log


def drug_periods(records: pd.DataFrame, patients: pd.DataFrame, data_cut,
                 rules: PhaseRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drug periods (``PERIOD_COLUMNS``: one ingredient, start and end dates, the ';'-joined ids of
    the records that made it) and the log (``LOG_COLUMNS``), phases-from-drugs "Drug periods".

    ``records``: ``patient_id, ingredient, start_date, end_date (NaT), days_supply (NaN), record_id``
    (``end_date`` and ``days_supply`` may be absent);
    ``patients``: ``patient_id, diagnosis_date, death_date``. Periods are sorted by patient, start
    and ingredient. A record starting after death or the data cut is left out (logged); a period
    running past them is clipped (logged).
    """
    rec = records.reindex(columns=["patient_id", "ingredient", "start_date", "end_date", "days_supply", "record_id"])
    rec["end_date"] = pd.to_datetime(rec["end_date"])  # an absent column is all NaT
    rec["ingredient"] = rec["ingredient"].astype(str).str.lower()
    logs = []
    has_start = rec["start_date"].notna().to_numpy()
    logs.append(_excluded(rec, has_start, "DRUG_RECORD_NO_START", "drug record without a start date"))
    rec = rec[has_start]
    bad_end = (rec["end_date"] < rec["start_date"]).to_numpy()
    logs.append(_excluded(rec, ~bad_end, "DRUG_RECORD_END_BEFORE_START", "end date before start date; read as one day"))
    rec["end_date"] = record_end(rec)
    window = end_of_record_window(patients, data_cut)
    limit = window.set_index("patient_id")["limit"].reindex(rec["patient_id"]).to_numpy()
    in_window = ~(rec["start_date"].to_numpy() > limit)
    logs.append(_excluded(rec, in_window, "DRUG_RECORD_AFTER_END", "drug record starts after death or the data cut"))
    rec = rec[in_window]
    periods = merge_persistent(rec, rules.persistence_days)
    periods, clip_log = _clip(periods, window)
    periods = periods.sort_values(["patient_id", "start_date", "ingredient"], kind="stable").reset_index(drop=True)
    made = log_frame(periods["patient_id"], "DRUG_PERIOD",
                     periods["ingredient"] + " " + iso_dates(periods["start_date"]) + " to "
                     + iso_dates(periods["end_date"]), periods["record_ids"])
    pieces = [f.assign(**{PART: f"{i:03d}"}) for i, f in enumerate((*logs, clip_log, made)) if len(f)]
    log = pd.concat(pieces or [log_frame([], "", [], [])], ignore_index=True)  # PART: merge_logs keeps each piece together
    return periods[PERIOD_COLUMNS], log
