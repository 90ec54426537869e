"""References to patients and medications, and FHIR dates (docs/fhir.md "References", "Dates").

* ``patient_id`` = ``Patient.id`` (never an identifier value); a Patient without an id takes the
  uuid of its Bundle ``fullUrl``.
* A reference to a patient may be ``Patient/123``, an absolute URL ending in ``Patient/123``
  (optionally ``/_history/n``) or a Bundle ``fullUrl`` (``urn:uuid:...``); anything else, or a
  patient not in the source, leaves the resource without a patient (logged with its id).
* A date is the date part of a FHIR date or dateTime as written (no time-zone conversion); a
  partial date (``2015``, ``2015-03``) or an unreadable one makes the resource unusable (logged).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.importers.log import log_frame, log_rows

FHIR_MISSING_REFERENCE = "FHIR_MISSING_REFERENCE"
FHIR_PARTIAL_DATE = "FHIR_PARTIAL_DATE"
FHIR_NO_DATE = "FHIR_NO_DATE"
FHIR_DUPLICATE_RESOURCE = "FHIR_DUPLICATE_RESOURCE"
_PATIENT_URL = r"(?:^|/)Patient/([A-Za-z0-9\-\.]{1,64})(?:/_history/[^/]*)?$"


def patient_ids(patients: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients with ``patient_id`` (``id``, else the fullUrl's uuid), the first of each id kept;
    and the log of Patients without any id or given twice."""
    pid = patients["id"].astype(object).where(patients["id"].notna(),
                                              patients["full_url"].astype("string").str.replace(r"^urn:uuid:", "",
                                                                                               regex=True))
    out = patients.assign(patient_id=pid)
    no_id = out["patient_id"].isna().to_numpy()
    dup = out["patient_id"].duplicated().to_numpy() & ~no_id
    log = [log_rows(FHIR_MISSING_REFERENCE, "error", out["record"][no_id], None,
                    "Patient without an id or a fullUrl: not read"),
           log_rows(FHIR_DUPLICATE_RESOURCE, "warning", out["record"][dup], out["patient_id"][dup],
                    "Patient given more than once: the first one is read")]
    return out[~(no_id | dup)].reset_index(drop=True), pd.concat(log, ignore_index=True)


def reference_map(rows: pd.DataFrame, rtype: str, key: str) -> dict[str, str]:
    """``{reference: value of column key}`` for ``<rtype>/<id>`` and every fullUrl of the rows."""
    ids = rows["id"].astype(object)
    out = {f"{rtype}/{i}": v for i, v in zip(ids, rows[key]) if isinstance(i, str)}
    out.update({u: v for u, v in zip(rows["full_url"], rows[key]) if isinstance(u, str)})
    return out


def per_distinct(values: pd.Series, fn) -> pd.Series:
    """``fn`` (a Series of distinct values -> a Series of results, same order) applied to the
    distinct non-missing values only (a source repeats its references many times), spread back to
    every row; a missing value gives None."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    mapped = np.asarray(fn(pd.Series(uniques, dtype=object)), dtype=object) if len(uniques) else np.array([None])
    out = mapped[np.where(codes >= 0, codes, 0)]
    out[codes < 0] = None
    return pd.Series(out, index=values.index, dtype=object)


def _resolve(refs: pd.Series, known: dict[str, str]) -> pd.Series:
    out = refs.map(known)
    todo = out.isna().to_numpy()
    if todo.any():
        ids = set(known.values())
        tail = refs[todo].astype(str).str.extract(_PATIENT_URL, expand=False)
        out[todo] = tail.where(tail.isin(ids))
    return out


def resolve_patients(refs: pd.Series, known: dict[str, str]) -> pd.Series:
    """The patient id of each reference (None when it names no patient of the source)."""
    out = per_distinct(refs, lambda u: _resolve(u, known))
    return out.astype(object).where(out.notna(), None)


def missing_patient_log(rows: pd.DataFrame, pid: pd.Series) -> pd.DataFrame:
    """One error line per resource whose subject is no patient of the source (with the reference)."""
    bad = pid.isna().to_numpy()
    if not bad.any():
        return log_frame()
    ref = rows["subject"].astype("string").fillna("none")[bad]
    return log_rows(FHIR_MISSING_REFERENCE, "error", rows["record"][bad], None,
                    "the subject reference '" + ref.astype(str) + "' names no Patient of the source: not read")


def _parse_dates(u: pd.Series) -> pd.DataFrame:
    s = u.astype(str).str.strip()
    dates = pd.to_datetime(s.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    ok = dates.notna() & ((s.str.len() == 10) | s.str.slice(10, 11).isin(["T", " "]))
    partial = ~ok & s.str.fullmatch(r"\d{4}(-\d{2})?")
    problem = np.where(ok, None, np.where(partial, FHIR_PARTIAL_DATE, FHIR_NO_DATE))
    return pd.DataFrame({"date": dates.where(ok), "problem": problem})


def fhir_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(dates as datetime64, problem code per value: NA, FHIR_PARTIAL_DATE or FHIR_NO_DATE).

    ``YYYY-MM-DD`` optionally followed by a time (``T...``): its date part; ``YYYY`` or
    ``YYYY-MM``: partial; anything else or missing: no date. Parsed once per distinct text."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    parsed = _parse_dates(pd.Series(uniques, dtype=object))
    take = np.where(codes >= 0, codes, 0)
    missing = codes < 0
    dates = parsed["date"].to_numpy()[take] if len(parsed) else np.full(len(codes), np.datetime64("NaT"), "M8[ns]")
    problem = parsed["problem"].to_numpy()[take] if len(parsed) else np.full(len(codes), None, dtype=object)
    dates = np.where(missing, np.datetime64("NaT"), dates).astype("datetime64[ns]")
    problem = np.where(missing, FHIR_NO_DATE, problem)
    return pd.Series(dates, index=values.index), pd.Series(problem, index=values.index, dtype=object)


def date_problem_log(rows: pd.DataFrame, problem: pd.Series, patient_id, column: str, what: str) -> pd.DataFrame:
    """One error line per resource whose date is partial or missing (the value as written)."""
    parts = []
    pid = pd.Series(np.asarray(patient_id, dtype=object), index=rows.index)
    for code, why in ((FHIR_PARTIAL_DATE, "a partial date"), (FHIR_NO_DATE, "no usable date")):
        bad = (problem == code).to_numpy()
        if bad.any():
            written = rows[column].astype("string").fillna("none")[bad].astype(str)
            parts.append(log_rows(code, "error", rows["record"][bad], pid[bad],
                                  f"{what} has {why} ('" + written + "'): not read"))
    return pd.concat(parts, ignore_index=True) if parts else log_frame()
