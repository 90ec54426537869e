"""The issues log: every warning, error and exclusion, with its code, file, row and reason.

Core functions return issue rows as DataFrames with ``ISSUE_COLUMNS``; the shell concatenates
them and writes ``issues.csv``. Nothing is dropped without a line here. Every line carries a
stable ``code`` registered in ``mrdtrack.issue_codes`` (docs/issues.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.issue_codes import CODES

ISSUE_COLUMNS = ["severity", "code", "table", "row", "patient_id", "column", "value", "message"]
SEVERITIES = ("error", "warning", "excluded")


def issue(severity: str, table: str, message: str, *, code: str, row=None, patient_id=None, column=None,
          value=None) -> dict:
    """One issue record (a dict with ISSUE_COLUMNS); ``code`` must be registered."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    if code not in CODES:
        raise ValueError(f"unregistered issue code {code!r} (add it to mrdtrack.issue_codes.CODES)")
    return {"severity": severity, "code": code, "table": table, "row": row, "patient_id": patient_id,
            "column": column, "value": None if value is None else str(value), "message": message}


def issues_frame(records=()) -> pd.DataFrame:
    """A DataFrame of issue records (possibly empty) with the standard columns."""
    df = pd.DataFrame(list(records), columns=ISSUE_COLUMNS)
    df["row"] = pd.array(df["row"], dtype="Int64")
    return df


def issues_from_arrays(**cols) -> pd.DataFrame:
    """Issue rows built column-wise (vectorised): each of ISSUE_COLUMNS an array or a scalar that
    is repeated; missing columns are blank. The code (a scalar, or an array of codes) must be
    registered."""
    lengths = [len(v) for v in cols.values() if v is not None and not np.isscalar(v)]
    n = max(lengths) if lengths else 0
    codes = cols.get("code")
    for code in ([codes] if codes is None or np.isscalar(codes) else set(codes)):
        if n and code not in CODES:
            raise ValueError(f"unregistered issue code {code!r} (add it to mrdtrack.issue_codes.CODES)")
    data = {c: (cols[c] if cols.get(c) is not None and not np.isscalar(cols[c])
                else np.full(n, cols.get(c), dtype=object)) for c in ISSUE_COLUMNS}
    df = pd.DataFrame(data)
    df["row"] = pd.array(pd.to_numeric(df["row"], errors="coerce"), dtype="Int64")
    return df[ISSUE_COLUMNS]
