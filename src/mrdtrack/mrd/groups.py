"""Per-patient reductions over rows grouped by patient (contiguous) in date order, without a loop per patient.

Rows carry an integer patient code in ``0..n_patients-1``; every function returns one value per
patient code (the MRD engine's unit of work is the whole patient, docs/mrd.md section 3).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400 * 10**9


def days(values) -> np.ndarray:
    """Dates (datetime64 array or Series) as float days since 1970-01-01; NaT becomes NaN."""
    x = datetime_ns(values)
    out = np.full(x.shape, np.nan)
    ok = ~np.isnat(x)
    out[ok] = x[ok].astype("int64") // NS_PER_DAY
    return out


def datetime_ns(values) -> np.ndarray:
    """Dates as a datetime64[ns] array: datetime64 columns directly (no parsing), anything else
    (object columns of Timestamps / NaT / None) through pandas."""
    dtype = getattr(values, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return np.asarray(values).astype("datetime64[ns]", copy=False)
    return pd.to_datetime(pd.Series(np.asarray(values) if not isinstance(values, pd.Series) else values)).to_numpy(
        dtype="datetime64[ns]")


def to_dates(day: np.ndarray) -> np.ndarray:
    """Float days since 1970-01-01 back to datetime64[ns] (NaN becomes NaT)."""
    out = np.full(np.shape(day), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(day)
    out[ok] = (day[ok].astype("int64") * NS_PER_DAY).astype("datetime64[ns]")
    return out


def count(code: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Number of rows with ``mask`` per patient."""
    return np.bincount(code[mask], minlength=n)


def any_(code: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Whether any row with ``mask`` exists per patient."""
    return count(code, mask, n) > 0


def _group_ends(code: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx = np.flatnonzero(mask)
    c = code[idx]
    starts = np.r_[True, c[1:] != c[:-1]] if len(c) else np.zeros(0, bool)
    ends = np.r_[c[1:] != c[:-1], True] if len(c) else np.zeros(0, bool)
    return idx, starts, ends


def first_row(code: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Row index of each patient's first row with ``mask`` (rows grouped by patient, in time order); -1 if none."""
    idx, starts, _ = _group_ends(code, mask)
    out = np.full(n, -1, dtype=np.int64)
    out[code[idx[starts]]] = idx[starts]
    return out


def last_row(code: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Row index of each patient's last row with ``mask`` (rows grouped by patient, in time order); -1 if none."""
    idx, _, ends = _group_ends(code, mask)
    out = np.full(n, -1, dtype=np.int64)
    out[code[idx[ends]]] = idx[ends]
    return out


def take(values, rows: np.ndarray, fill=np.nan) -> np.ndarray:
    """``values[rows]`` per patient, with ``fill`` where ``rows`` is -1 (no such row)."""
    values = np.asarray(values)
    if len(values) == 0:
        return np.full(len(rows), fill, dtype=float if isinstance(fill, float) else object)
    picked = values[np.maximum(rows, 0)]
    if picked.dtype.kind in "biu" and isinstance(fill, float):
        picked = picked.astype(float)
    return np.where(rows >= 0, picked, fill)
