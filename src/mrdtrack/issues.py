"""The issues log: every warning, error and exclusion, with file, row and reason.

Core functions return issue rows as DataFrames with ``ISSUE_COLUMNS``; the shell concatenates
them and writes ``issues.csv``. Nothing is dropped without a line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ISSUE_COLUMNS = ["severity", "table", "row", "patient_id", "column", "value", "message"]
SEVERITIES = ("error", "warning", "excluded")


def issue(severity: str, table: str, message: str, *, row=None, patient_id=None, column=None,
          value=None) -> dict:
    """One issue record (a dict with ISSUE_COLUMNS)."""
    assert severity in SEVERITIES, severity
    return {"severity": severity, "table": table, "row": row, "patient_id": patient_id,
            "column": column, "value": None if value is None else str(value), "message": message}


def issues_frame(records=()) -> pd.DataFrame:
    """A DataFrame of issue records (possibly empty) with the standard columns."""
    df = pd.DataFrame(list(records), columns=ISSUE_COLUMNS)
    df["row"] = pd.array(df["row"], dtype="Int64")
    return df


@dataclass
class IssueLog:
    """Accumulates issue frames through the pipeline (the shell's collector)."""

    frames: list = field(default_factory=list)

    def add(self, issues: pd.DataFrame | list | dict) -> None:
        if isinstance(issues, dict):
            issues = [issues]
        if isinstance(issues, list):
            issues = issues_frame(issues)
        if len(issues):
            self.frames.append(issues[ISSUE_COLUMNS])

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return issues_frame()
        return pd.concat(self.frames, ignore_index=True)

    @property
    def has_errors(self) -> bool:
        return any((f["severity"] == "error").any() for f in self.frames)
