"""Read a cohort (folder of CSV/Parquet tables, or one xlsx workbook) into a validated Cohort.

docs/data-contract.md. ``read_cohort`` loads the files (``sources``), then ``validate`` checks
every rule and normalises units; ``validate_tables`` does the same for in-memory frames (the
simulator's output, a notebook's tables) with no files involved.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import TABLES
from mrdtrack.errors import UserError
from mrdtrack.io.sources import RawTable, load_cohort_files
from mrdtrack.io.validate import FILE_ISSUE_COLUMNS, ReadResult, check_tables

__all__ = ["FILE_ISSUE_COLUMNS", "ReadResult", "parse_data_cut", "read_cohort", "validate_tables"]


def parse_data_cut(value: str | dt.date | pd.Timestamp | None) -> pd.Timestamp | None:
    """The ``--data-cut`` argument as a Timestamp (None = latest date in the cohort)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return pd.Timestamp(value).normalize()
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(value).strip()))
    except ValueError:
        raise UserError(f"data cut '{value}' is not a date (expected YYYY-MM-DD)") from None


def read_cohort(path: str | Path, data_cut: str | dt.date | None = None, exclude_invalid: bool = False,
                config: Config | None = None) -> ReadResult:
    """Load and validate a cohort folder or workbook.

    Returns a ReadResult: ``cohort`` (None when there are errors and not ``exclude_invalid``, or
    when a table cannot be read at all), ``issues`` (issues.ISSUE_COLUMNS plus ``file``),
    ``counts`` (per table rows_in/rows_used/rows_excluded; patients_in/used/excluded) and
    ``sources`` (table -> {path, sha256}). A missing path raises UserError.
    """
    cut = parse_data_cut(data_cut)
    path = Path(path)
    loaded = load_cohort_files(path)
    if path.is_file():
        def missing(name: str) -> str:
            return f"{path.name}:{name}"
    else:
        def missing(name: str) -> str:
            return f"{name}.csv"
    return check_tables(loaded.tables, loaded.issues, loaded.sources, cut, exclude_invalid,
                        config or Config(), missing)


def validate_tables(raw: dict[str, pd.DataFrame], data_cut: str | dt.date | None = None,
                    exclude_invalid: bool = False, config: Config | None = None) -> ReadResult:
    """Validate in-memory tables (text or typed cells, as a user or the simulator writes them).

    Row numbers are those the frames would have as CSV files (first data row = 2); the ``file``
    of an issue is the table name. Keys that are not contract tables are ignored.
    """
    cut = parse_data_cut(data_cut)
    tables = {name: RawTable(name, df.reset_index(drop=True), np.arange(2, len(df) + 2, dtype="int64"), name)
              for name, df in raw.items() if name in TABLES}
    return check_tables(tables, [], {}, cut, exclude_invalid, config or Config(), lambda name: name)
