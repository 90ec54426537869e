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
#: Hidden column of a log built by ``concat_logs``: the path of the piece a line came from (one
#: fixed-width position per nesting level), so logs of ranges of persons merge back in order.
PART = "_part"
LOG_SEVERITIES = ("error", "warning", "info")
#: Codes of the per-table count lines.
ROWS_IN, ROWS_USED, ROWS_NOT_USED = "IMPORT_ROWS_IN", "IMPORT_ROWS_USED", "IMPORT_ROWS_NOT_USED"
WINDOW_CODE = "OUT_OF_WINDOW"  # importers.window's summary lines, one per table and reason (sorted by reason)
#: Summary lines (no patient) whose counts add up over ranges of persons.
SUMMED = (WINDOW_CODE, ROWS_IN, ROWS_USED, ROWS_NOT_USED)


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
    rec = pd.Series(np.asarray(records, dtype=object)).astype(str)
    parts = rec.str.extract(r"^([^:/]*)[:/](.*)$")
    return record_lines(code, severity, parts[0].fillna("").to_numpy(), parts[1].fillna(rec).to_numpy(), patient_ids,
                        detail, count)


def record_lines(code: str, severity: str, table, record_ids, patient_ids, detail, count=1) -> pd.DataFrame:
    """One log line per record given by its table (one name or one per record) and id: ``log_rows``
    without writing and splitting ``'table:id'`` texts, for thousands of lines."""
    _check(code, severity)
    return pd.DataFrame({"code": code, "severity": severity, "table": table,
                         "record": np.asarray(record_ids, dtype=object), "patient_id": np.asarray(patient_ids, dtype=object),
                         "detail": np.asarray(detail, dtype=object) if not isinstance(detail, str) else detail,
                         "count": np.asarray(count, dtype="int64") if not np.isscalar(count) else count},
                        columns=LOG_COLUMNS)


def log_line(code: str, severity: str, table: str, detail: str, count: int = 1, record=None,
             patient_id=None) -> dict:
    """One summary line (a dict with LOG_COLUMNS)."""
    _check(code, severity)
    return {"code": code, "severity": severity, "table": table, "record": record, "patient_id": patient_id,
            "detail": detail, "count": int(count)}


def decision_log(decisions: pd.DataFrame, table: str) -> pd.DataFrame:
    """The phase rules' decisions and drug-record exclusions (``patient_id, code, detail,
    record_ids``, docs/phases-from-drugs.md) as log lines of severity info: they are the rules'
    work, not problems of the data. ``table`` names the source table of the drug records."""
    if decisions is None or not len(decisions):
        return log_frame()
    return pd.DataFrame({"code": decisions["code"].to_numpy(dtype=object), "severity": "info", "table": table,
                         "record": decisions["record_ids"].to_numpy(dtype=object),
                         "patient_id": decisions["patient_id"].to_numpy(dtype=object),
                         "detail": decisions["detail"].to_numpy(dtype=object), "count": 1,
                         **({PART: decisions[PART].to_numpy(dtype=object)} if PART in decisions else {})},
                        columns=LOG_COLUMNS + ([PART] if PART in decisions else []))


def _tagged(frame: pd.DataFrame, i: int) -> pd.DataFrame:
    inner = frame[PART].fillna("").astype(str) if PART in frame else ""
    return frame.assign(**{PART: f"{i:03d}" + inner})


def concat_logs(frames) -> pd.DataFrame:
    """The pieces one after the other; each line keeps its piece's path in ``PART`` (``merge_logs``)."""
    frames = [f if isinstance(f, pd.DataFrame) else log_frame(f) for f in frames]
    frames = [_tagged(f, i) for i, f in enumerate(frames) if len(f)]
    return pd.concat(frames, ignore_index=True)[LOG_COLUMNS + [PART]] if frames else log_frame()


def merge_logs(logs: list[pd.DataFrame]) -> pd.DataFrame:
    """The logs of consecutive ranges of persons (each from ``concat_logs``) as the one log of all
    of them: each piece's lines range after range, and summary lines (OUT_OF_WINDOW, the counts)
    summed into one line each, in the order one range gives (docs/omop.md "Large sources")."""
    frames = [f.assign(_range=i, _pos=np.arange(len(f))) for i, f in enumerate(logs) if len(f)]
    if not frames:
        return log_frame()
    df = pd.concat(frames, ignore_index=True)
    df[PART] = df[PART].fillna("").astype(str) if PART in df else ""
    summed = (df["code"].isin(SUMMED) & df["patient_id"].isna()).to_numpy()
    key = [PART, "code", "severity", "table", "detail"]
    lines = df[summed].groupby(key, sort=False, dropna=False).agg(
        count=("count", "sum"), _range=("_range", "first"), _pos=("_pos", "first")).reset_index()
    lines["_k"] = np.where(lines["code"] == WINDOW_CODE, lines["detail"], "")
    rows = df[~summed].assign(_k="")
    out = pd.concat([rows, lines], ignore_index=True).sort_values([PART, "_k", "_range", "_pos"], kind="stable")
    out["count"] = out["count"].astype("int64")
    for c in ("record", "patient_id"):  # a summary line has none (None, as in one range's log)
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out[LOG_COLUMNS].reset_index(drop=True)


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
    log[LOG_COLUMNS].to_csv(path, index=False, lineterminator="\n")
