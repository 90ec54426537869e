"""Build small normalised Cohorts by hand for vignette tests (no files involved).

Labs rows are given as (patient_id, date, test, value[, unit]) in canonical units; numeric
values become ``value_num``, text values ``value_text``.
"""

from __future__ import annotations

import pandas as pd

from mrdtrack.cohort import Cohort, empty_table
from mrdtrack.contract import LAB_TESTS, TABLES


def _frame(name: str, rows: list) -> pd.DataFrame:
    base = empty_table(name)
    if not rows:
        return base
    if isinstance(rows[0], dict):
        df = pd.DataFrame(rows)
    else:
        cols = [c for c in base.columns if c != "row"][: len(rows[0])]
        df = pd.DataFrame(rows, columns=cols)
    for c in base.columns:
        if c not in df.columns:
            df[c] = None
    df["row"] = range(2, len(df) + 2)
    for c in TABLES[name].columns if name != "labs" else []:
        if c.type == "date":
            df[c.name] = pd.to_datetime(df[c.name])
        elif c.type in ("number", "integer"):
            df[c.name] = pd.to_numeric(df[c.name])
    return df[list(base.columns)]


def labs_frame(rows: list) -> pd.DataFrame:
    recs = []
    for i, r in enumerate(rows):
        pid, date, test, value = r[:4]
        t = LAB_TESTS[test]
        recs.append({"patient_id": pid, "date": pd.Timestamp(date), "test": test,
                     "value_num": float(value) if t.numeric else float("nan"),
                     "value_text": None if t.numeric else value,
                     "unit": t.canonical_unit, "row": i + 2})
    if not recs:
        return empty_table("labs")
    return pd.DataFrame(recs)


def make_cohort(patients, treatments=(), labs=(), mrd=(), events=(), imaging=(), responses=(),
                data_cut=None) -> Cohort:
    """A Cohort from lists of rows (tuples in contract column order, or dicts)."""
    tables = {
        "patients": _frame("patients", list(patients)),
        "treatments": _frame("treatments", list(treatments)),
        "labs": labs_frame(list(labs)),
        "mrd": _frame("mrd", list(mrd)),
        "events": _frame("events", list(events)),
        "imaging": _frame("imaging", list(imaging)),
        "responses": _frame("responses", list(responses)),
    }
    if data_cut is None:
        dates = [tables["patients"]["diagnosis_date"].max()]
        for n, cols in (("treatments", ("start_date", "end_date")), ("labs", ("date",)), ("mrd", ("date",)),
                        ("events", ("date",)), ("imaging", ("date",)), ("responses", ("date",))):
            for c in cols:
                if len(tables[n]):
                    dates.append(tables[n][c].max())
        data_cut = max(d for d in dates if pd.notna(d))
    return Cohort(**tables, data_cut=pd.Timestamp(data_cut))
