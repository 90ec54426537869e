"""The import log (``import_log.csv``, docs/omop.md "What is never silent").

One line per finding, each with a stable ``code``: rows that could not be converted (table,
record id, reason), unmapped concepts summarised with counts, rows kept out by a window, phase
decisions, and per table the counts in, used and not used (in = used + not used). Errors and
warnings (not the phase decisions, severity ``info``) also reach ``issues.csv`` with their codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOG_COLUMNS = ["code", "severity", "table", "record", "patient_id", "detail", "count"]
LOG_SEVERITIES = ("error", "warning", "info")
#: Codes of the per-table count lines.
ROWS_IN, ROWS_USED, ROWS_NOT_USED = "IMPORT_ROWS_IN", "IMPORT_ROWS_USED", "IMPORT_ROWS_NOT_USED"


def log_frame(records=()) -> pd.DataFrame:
    """A log frame (possibly empty) from dicts with LOG_COLUMNS."""
    df = pd.DataFrame(list(records), columns=LOG_COLUMNS)
    df["count"] = pd.array(df["count"].fillna(1), dtype="int64")
    return df


def _check(code: str, severity: str) -> None:
    from mrdtrack.issue_codes import CODES

    if severity not in LOG_SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    if code not in CODES:
        raise ValueError(f"unregistered issue code {code!r} (add it to mrdtrack.issue_codes.CODES)")


def log_rows(code: str, severity: str, records: pd.Series, patient_ids, detail, count=1) -> pd.DataFrame:
    """One log line per record (``'measurement:12'``, ``'Observation/abc'``): table and id split."""
    _check(code, severity)
    rec = pd.Series(np.asarray(records, dtype=object)).astype(str)
    parts = rec.str.extract(r"^([^:/]*)[:/](.*)$")
    return pd.DataFrame({"code": code, "severity": severity, "table": parts[0].fillna("").to_numpy(),
                         "record": parts[1].fillna(rec).to_numpy(), "patient_id": np.asarray(patient_ids, dtype=object),
                         "detail": np.asarray(detail, dtype=object) if not isinstance(detail, str) else detail,
                         "count": np.asarray(count, dtype="int64") if not np.isscalar(count) else count},
                        columns=LOG_COLUMNS)


def log_line(code: str, severity: str, table: str, detail: str, count: int = 1, record=None,
             patient_id=None) -> dict:
    """One summary line (a dict with LOG_COLUMNS)."""
    _check(code, severity)
    return {"code": code, "severity": severity, "table": table, "record": record, "patient_id": patient_id,
            "detail": detail, "count": int(count)}


def concat_logs(frames) -> pd.DataFrame:
    frames = [f if isinstance(f, pd.DataFrame) else log_frame(f) for f in frames]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)[LOG_COLUMNS] if frames else log_frame()


def count_lines(table: str, rows_in: int, rows_used: int) -> list[dict]:
    """The three count lines of one source table (in = used + not used)."""
    return [log_line(ROWS_IN, "info", table, "rows read", rows_in),
            log_line(ROWS_USED, "info", table, "rows used", rows_used),
            log_line(ROWS_NOT_USED, "info", table, "rows not used (see the lines above)", rows_in - rows_used)]


def issues_from_log(log: pd.DataFrame) -> pd.DataFrame:
    """The log's errors and warnings as issues (issues.ISSUE_COLUMNS + ``file``), codes kept."""
    from mrdtrack.issues import ISSUE_COLUMNS

    sel = log[log["severity"].isin(["error", "warning"])]
    rec = sel["record"].astype(object).where(sel["record"].notna(), None)
    value = np.where(sel["count"].to_numpy() > 1, sel["count"].astype(str).radd("count ").to_numpy(), None)
    out = pd.DataFrame({"severity": sel["severity"].to_numpy(), "table": sel["table"].to_numpy(), "row": None,
                        "patient_id": sel["patient_id"].to_numpy(), "column": None,
                        "value": np.where(rec.notna().to_numpy(), rec.to_numpy(dtype=object), value),
                        "message": sel["detail"].to_numpy(), "code": sel["code"].to_numpy(),
                        "file": sel["table"].to_numpy()})
    out["row"] = pd.array(out["row"], dtype="Int64")
    return out[ISSUE_COLUMNS + ["file"]]


def write_log(log: pd.DataFrame, path) -> None:
    log.to_csv(path, index=False, lineterminator="\n")
