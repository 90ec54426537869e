"""Validation of survival input tables at the boundary of the statistics layer.

Every check raises :class:`StatsInputError` (a :class:`~mrdtrack.errors.UserError`, exit 2 at the
command line) with a message naming the column and the problem; nothing becomes a silent NaN.
Rows with a missing value in a used column are dropped, as R's ``na.action = na.omit`` does, and
counted so the caller can report them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.errors import UserError

_TRUE = {"1", "1.0", "true", "t", "yes"}
_FALSE = {"0", "0.0", "false", "f", "no"}


class StatsInputError(UserError):
    """The table given to a statistics function cannot be analysed (message names the column)."""


@dataclass(frozen=True)
class SurvivalData:
    """Clean survival columns: ``time`` (stop), ``event`` (0/1), ``start`` (entry, zeros if none)."""

    frame: pd.DataFrame
    time: np.ndarray
    event: np.ndarray
    start: np.ndarray | None
    n_dropped: int


def row_name(df: pd.DataFrame, pos: int) -> str:
    """'row N' of the caller's table: N = index label + 1 for a default integer index (data row N of
    a file, header not counted), else the label itself."""
    label = df.index[pos]
    return f"row {label + 1}" if isinstance(label, (int, np.integer)) else f"row {label!r}"


def require_columns(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsInputError(f"column(s) not in the table: {', '.join(map(str, missing))} "
                              f"(available: {', '.join(map(str, df.columns))})")


def per_distinct(s: pd.Series, test, missing: bool) -> np.ndarray:
    """``test(value)`` for every cell of ``s`` (``missing`` for missing cells), computed once per
    distinct value (a column of a few words repeated over many rows). Values of mixed types are
    judged one by one: hashing takes ``0``, ``0.0`` and ``False`` for one value."""
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        return np.array([missing if pd.isna(v) else bool(test(v)) for v in s], dtype=bool)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    answers = np.array([bool(test(v)) for v in uniques] + [missing], dtype=bool)
    return answers[np.where(codes < 0, len(uniques), codes)]


def drop_missing(df: pd.DataFrame, columns) -> tuple[pd.DataFrame, int]:
    """Rows complete in ``columns`` (R's na.omit) and how many were dropped; error if none is left."""
    cols = list(dict.fromkeys(c for c in columns if c is not None))
    require_columns(df, cols)
    keep = df[cols].notna().all(axis=1)
    for c in cols:
        if df[c].dtype == object:
            keep &= ~per_distinct(df[c], lambda v: str(v).strip() == "", False)
    out = df.loc[keep]
    if out.empty:
        raise StatsInputError(f"no rows left after dropping rows with a missing value in {', '.join(cols)}")
    return out, int(len(df) - len(out))


def numeric_column(df: pd.DataFrame, col: str) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & df[col].notna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise StatsInputError(f"column {col!r}: value {df[col].iloc[row]!r} ({row_name(df, row)}) is not a number")
    arr = values.to_numpy(dtype=float)
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise StatsInputError(f"column {col!r}: value {arr[row]!r} ({row_name(df, row)}) is not finite")
    return arr


def event_column(df: pd.DataFrame, col: str) -> np.ndarray:
    """0/1 events from 0/1 numbers, booleans or the words true/false (any case)."""
    s = df[col]
    if s.dtype == bool:
        return s.to_numpy().astype(np.int8)
    if pd.api.types.is_numeric_dtype(s):
        arr = s.to_numpy(dtype=float)
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise StatsInputError(f"column {col!r}: event value {s.iloc[row]!r} ({row_name(df, row)}) is neither 0/1 "
                                  f"nor true/false")
        return arr.astype(np.int8)
    is_true = per_distinct(s, lambda v: str(v).strip().lower() in _TRUE, False)  # missing: neither
    is_false = per_distinct(s, lambda v: str(v).strip().lower() in _FALSE, False)
    bad = ~(is_true | is_false)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise StatsInputError(f"column {col!r}: event value {s.iloc[row]!r} ({row_name(df, row)}) is neither 0/1 "
                              f"nor true/false")
    return is_true.astype(np.int8)


def survival_data(df: pd.DataFrame, time: str, event: str | None, start: str | None = None,
                  extra=()) -> SurvivalData:
    """Validate ``time`` (>= 0), ``event`` (0/1) and optional ``start`` (< time) after dropping
    incomplete rows in every used column (``extra`` lists the other used columns)."""
    if not isinstance(df, pd.DataFrame):
        raise StatsInputError("expected a table (pandas DataFrame)")
    used = [time, event, start, *extra]
    clean, dropped = drop_missing(df, used)
    t, st = time_columns(clean, time, start)
    ev = event_column(clean, event) if event is not None else np.zeros(len(t), dtype=np.int8)
    return SurvivalData(clean.reset_index(drop=True), t, ev, st, dropped)


def time_columns(clean: pd.DataFrame, time: str, start: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """``time`` (>= 0) and optional ``start`` (< time) of a table without missing values."""
    t = numeric_column(clean, time)
    if (t < 0).any():
        row = int(np.flatnonzero(t < 0)[0])
        raise StatsInputError(f"column {time!r}: negative time {t[row]:g} ({row_name(clean, row)})")
    st = None
    if start is not None:
        st = numeric_column(clean, start)
        bad = st >= t
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise StatsInputError(f"columns {start!r}/{time!r}: stop {t[row]:g} is not after start {st[row]:g} "
                                  f"({row_name(clean, row)})")
    return t, st


def level_label(value) -> str:
    """A level as R prints it: integral numbers without a decimal point, booleans TRUE/FALSE."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def sorted_levels(series: pd.Series) -> list:
    """Distinct values in R's factor order: numeric (or boolean) ascending, text in sorted order."""
    values = pd.unique(series)
    if pd.api.types.is_numeric_dtype(series) or series.dtype == bool:
        return sorted(values)
    return sorted(values, key=str)


def group_codes(df: pd.DataFrame, col: str | None) -> tuple[np.ndarray, list[str]]:
    """Integer codes 0..k-1 and labels of ``col`` (one group ``all`` when ``col`` is None)."""
    if col is None:
        return np.zeros(len(df), dtype=np.int64), ["all"]
    levels = sorted_levels(df[col])
    lookup = {v: i for i, v in enumerate(levels)}
    codes = df[col].map(lookup).to_numpy(dtype=np.int64)
    return codes, [level_label(v) for v in levels]


def cell_counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """How many (row, col) pairs fall in each cell of an ``n_rows`` x ``n_cols`` table, as float:
    ``np.add.at(table, (rows, cols), 1.0)`` by ``np.bincount`` (exact counts, several times faster)."""
    flat = np.asarray(rows, dtype=np.int64) * n_cols + np.asarray(cols, dtype=np.int64)
    return np.bincount(flat, minlength=n_rows * n_cols).reshape(n_rows, n_cols).astype(float)


def signed_sums(add_at: np.ndarray, subtract_at: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    """Per position 0..length-1 and column of ``values``, the values added at ``add_at`` and taken
    away at ``subtract_at``: ``np.add.at`` of both, in the same order (all additions, then all
    subtractions, each in row order), so the same floating-point sums, by ``np.bincount``."""
    idx = np.concatenate([add_at, subtract_at])
    out = np.empty((length, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(idx, weights=np.concatenate([values[:, j], -values[:, j]]), minlength=length)
    return out
