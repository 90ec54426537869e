"""Last contact, the data cut and the contract's windows for rows read from a database (docs/omop.md).

Pure functions over whole patients (vectorised, no clock: "today" is an argument).

* The data cut is ``--data-cut`` when given, else the latest dated fact not after today; future
  dates (planned visits, drug end dates ahead) never set it.
* ``last_contact`` = the latest contact date of a person, not after death.
* Rows outside the contract's windows are kept out, not errors: before ``diagnosis_date`` -
  ``pre_diagnosis_days``, after death, after the data cut; each is counted in the import log
  (``OUT_OF_WINDOW``, one line per table and reason, with the count).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.importers.log import WINDOW_CODE as OUT_OF_WINDOW
from mrdtrack.importers.log import log_line

_FAR = pd.Timestamp("2261-12-31")


def data_cut(dates, today: pd.Timestamp, given: pd.Timestamp | None = None) -> pd.Timestamp:
    """``given``, else the latest of ``dates`` (iterable of Series/arrays) not after ``today``."""
    if given is not None and not pd.isna(given):
        return pd.Timestamp(given).normalize()
    today = pd.Timestamp(today).normalize()
    best = pd.NaT
    for d in dates:
        s = pd.to_datetime(pd.Series(np.asarray(d)), errors="coerce")
        s = s[s <= today]
        if len(s) and (pd.isna(best) or s.max() > best):
            best = s.max()
    return best


def per_patient(ids: pd.Series, values: pd.Series) -> pd.Series:
    """``ids.map(values)`` (``values``: patient_id -> value) looked up once per distinct patient, not
    once per row: a range's 500,000 facts belong to 5,000 patients."""
    codes, uniq = pd.factorize(ids)
    got = pd.Series(uniq, dtype=object).map(values).array
    return pd.Series(got.take(codes, allow_fill=True), index=ids.index)


def last_contact(contacts: pd.DataFrame, death: pd.Series, data_cut_date: pd.Timestamp | None = None) -> pd.Series:
    """Per patient, the latest contact ``date`` not after death (nor after the data cut).

    ``contacts``: patient_id, date (one row per contact of any kind); ``death``: patient_id -> date.
    """
    c = contacts.dropna(subset=["date"])
    limit = per_patient(c["patient_id"], death).fillna(_FAR)
    if data_cut_date is not None and not pd.isna(data_cut_date):
        limit = limit.clip(upper=data_cut_date)
    c = c[(c["date"] <= limit).to_numpy()]
    return c.groupby("patient_id", sort=True)["date"].max()


def out_of_window(rows: pd.DataFrame, diagnosis: pd.Series, death: pd.Series, cut: pd.Timestamp,
                  pre_days: int, date_column: str = "date", before_diagnosis: bool = True) -> pd.Series:
    """Per row, why it lies outside the contract's window (NA when inside).

    ``diagnosis`` and ``death`` map patient_id -> date. Reasons, first applying: before
    diagnosis - pre_days (when ``before_diagnosis``), after death, after the data cut.
    """
    d = rows[date_column]
    reason = pd.Series(pd.NA, index=rows.index, dtype=object)
    if not pd.isna(cut):
        reason = reason.mask(d > cut, "after the data cut")
    x = per_patient(rows["patient_id"], death)
    reason = reason.mask((d > x).fillna(False), "after death")
    if before_diagnosis:
        early = (d < per_patient(rows["patient_id"], diagnosis) - pd.Timedelta(days=pre_days)).fillna(False)
        reason = reason.mask(early, f"more than {pre_days} days before diagnosis")
    return reason


def keep_in_window(rows: pd.DataFrame, table: str, reason: pd.Series) -> tuple[pd.DataFrame, list[dict]]:
    """Rows without a reason, and one OUT_OF_WINDOW log line per reason with its count."""
    return rows[reason.isna().to_numpy()], window_lines(table, reason)


def window_lines(table: str, reason: pd.Series) -> list[dict]:
    """One OUT_OF_WINDOW log line per reason (sorted) with its count."""
    return [log_line(OUT_OF_WINDOW, "info", table, f"{table} rows {why}: kept out", int(n))
            for why, n in reason.dropna().value_counts().sort_index().items()]


def clip_periods(periods: pd.DataFrame, death: pd.Series, cut: pd.Timestamp, table: str = "drug_exposure",
                 start: str = "start_date", end: str = "end_date") -> tuple[pd.DataFrame, list[dict]]:
    """Periods clipped at death and at the data cut; periods starting after either are kept out."""
    limit = periods["patient_id"].map(death).fillna(_FAR)
    if not pd.isna(cut):
        limit = limit.clip(upper=cut)
    after = (periods[start] > limit).to_numpy()
    clipped = (periods[end] > limit).to_numpy() & ~after
    out = periods.copy()
    out.loc[clipped, end] = limit[clipped]
    lines = []
    if after.any():
        lines.append(log_line(OUT_OF_WINDOW, "info", table, f"{table} periods starting after death or the data cut: "
                              "kept out", int(after.sum())))
    if clipped.any():
        lines.append(log_line(OUT_OF_WINDOW, "info", table, f"{table} periods ending after death or the data cut: "
                              "clipped", int(clipped.sum())))
    return out[~after], lines


def event_rows(parts: list[tuple], order: list[str] | None = None) -> pd.DataFrame:
    """Contract ``events`` rows from ``(patient_ids, dates, event)`` parts (detail blank), sorted by
    patient, date, then event: by name, or by ``order`` when given (a stable sort: rows equal on
    those keep the parts' order). With every part empty, the first part's empty columns."""
    frames = [pd.DataFrame({"patient_id": ids, "date": dates, "event": event}) for ids, dates, event in parts]
    ev = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    ev["detail"] = None
    if order is None:
        return ev.sort_values(["patient_id", "date", "event"], kind="stable").reset_index(drop=True)
    rank = {e: i for i, e in enumerate(order)}
    ev = ev.assign(_o=ev["event"].map(rank)).sort_values(["patient_id", "date", "_o"], kind="stable")
    return ev.drop(columns="_o").reset_index(drop=True)

