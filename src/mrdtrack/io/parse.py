"""Turn raw cells (text, or typed by Parquet/xlsx/a DataFrame) into typed columns, vectorised.

docs/data-contract.md: dates are ISO 8601 (``YYYY-MM-DD``), native xlsx date cells are dates,
blank cells are missing. Each parser returns the typed column and, per row, the reason the cell
could not be parsed (NA when it parsed or was blank), so the validator reports type errors
instead of crashing on them.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

STRING = pd.StringDtype("pyarrow")
SHOW_CHARS = 50
_ISO_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_TIME_PART = r"[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
_NO_TIME_KINDS = {"string", "floating", "integer", "mixed-integer-float", "decimal", "boolean", "empty"}


def shown(text: pd.Series) -> pd.Series:
    """Cell text as shown in a message: at most SHOW_CHARS characters."""
    t = text.astype(STRING)
    long = t.str.len() > SHOW_CHARS
    if long.any():
        t = t.where(~long, t.str.slice(0, SHOW_CHARS) + "...")
    return t


def arrow_text(s: pd.Series):
    """The Arrow array behind Arrow-backed text (pyarrow ``StringDtype``), None for any other column:
    such text is searched and transformed by Arrow's kernels, without Python string objects."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        return s.array.__arrow_array__()
    return None


def text_isin(text: pd.Series, values) -> np.ndarray:
    """``text.isin(values)`` as a bool array; Arrow-backed text is looked up by Arrow's hash set
    (pandas builds a Python list of the values and boxes them for every call)."""
    arr = arrow_text(text)
    if arr is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        vals = pa.array([v for v in pd.unique(pd.Series(values, dtype=object)) if isinstance(v, str)],
                        type=arr.type)
        return pc.is_in(arr, value_set=vals).to_numpy(zero_copy_only=False).astype(bool, copy=False)
    return text.isin(values).to_numpy(dtype=bool)


def text_positions(text: pd.Series, values: pd.Index) -> np.ndarray:
    """Position of each cell of ``text`` in ``values`` (distinct text), -1 where absent or blank;
    Arrow-backed text is looked up by Arrow (no Python string objects)."""
    arr = arrow_text(text)
    if arr is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        pos = pc.index_in(arr, value_set=pa.array(np.asarray(values, dtype=object), type=arr.type))
        return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return pd.Index(values).get_indexer(text.astype(object))


def from_distinct(codes: np.ndarray, uniques, missing=None) -> np.ndarray:
    """The cells ``pd.factorize`` gave ``codes`` and ``uniques`` for, as an object array holding one
    Python object per distinct value, ``missing`` where the code is -1 (a missing cell)."""
    return np.append(np.asarray(uniques, dtype=object), missing)[np.where(codes < 0, len(uniques), codes)]


def text_objects(text: pd.Series) -> np.ndarray:
    """Text cells as an object array of ``str`` (None for missing), one Python string per distinct
    value: 3-4x faster than converting every Arrow cell, less memory, and every later hash of the
    column reuses the strings' cached hashes."""
    return from_distinct(*pd.factorize(text, use_na_sentinel=True))


def as_text(s: pd.Series) -> pd.Series:
    """Cells as stripped text (pyarrow strings), blank -> NA. Typed columns are rendered."""
    if isinstance(s.dtype, pd.StringDtype):
        t = s
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        from mrdtrack.io.outputs import iso_dates

        t = iso_dates(s).astype(STRING)
    elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        t = s.astype(object).where(s.notna(), None).astype(STRING)
    elif pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        t = s.astype(STRING)  # text cells with None/NaN for blanks: one conversion
    else:
        mask = s.notna().to_numpy()
        vals = s[mask]
        kind = pd.api.types.infer_dtype(vals, skipna=True) if len(vals) else "empty"
        is_time = np.zeros(len(vals), dtype=bool)
        if kind not in _NO_TIME_KINDS:  # only mixed or date-like cells need a per-cell look
            is_time = vals.map(lambda v: isinstance(v, (dt.date, pd.Timestamp))).to_numpy(dtype=bool)
        text = vals.astype(str)
        if is_time.any():
            text[is_time] = text[is_time].str.replace(_TIME_PART, "", regex=True)
        t = pd.Series(pd.NA, index=s.index, dtype=STRING)
        t[mask] = text.astype(STRING).to_numpy()
    return _stripped(t)


def _stripped(t: pd.Series) -> pd.Series:
    """Text stripped of surrounding whitespace (as ``str.strip``), blank -> NA; Arrow-backed text
    in Arrow (pandas' mask copies the column through Python-level NA handling)."""
    arr = arrow_text(t)
    if arr is not None:
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pc.utf8_trim_whitespace(arr)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
        return pd.Series(text, index=t.index, name=t.name, dtype=t.dtype)
    t = t.str.strip()
    return t.mask(t == "")


def _factorized(t: pd.Series, fn) -> pd.Series:
    """Apply a vectorised parser to the distinct values only (dates and codes repeat a lot)."""
    codes, uniques = pd.factorize(t, use_na_sentinel=True)
    parsed = fn(pd.Series(np.asarray(uniques, dtype=object)))
    out = parsed.to_numpy()[np.where(codes < 0, 0, codes)] if len(parsed) else \
        np.full(len(t), np.nan).astype(parsed.dtype)
    res = pd.Series(out, index=t.index)
    return res.where(codes >= 0)


def _no_reason(s: pd.Series) -> pd.Series:
    """Per-row reasons, all None: object dtype, since setting a few cells of an Arrow column copies it."""
    return pd.Series(np.full(len(s), None, dtype=object), index=s.index, dtype=object)


def _date_reason(text: str) -> str:
    if _ISO_LIKE.match(text):
        y, m, d = (int(x) for x in text.split("-"))
        try:
            dt.date(y, m, d)
        except ValueError:
            return f"date '{text}' does not exist"
        return f"date '{text}' is outside the supported range (years 1678-2261)"
    return f"value '{text}' is not a date (expected YYYY-MM-DD)"


def parse_date(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(dates as datetime64[ns], cell text, reason the cell is not a date or NA)."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        d = s.dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
        d = d.astype("datetime64[ns]").dt.normalize()
        return d, d, _no_reason(s)  # typed dates: the "text" serves only to tell blank cells
    t = as_text(s)
    d = _factorized(t, lambda u: pd.to_datetime(u, format="%Y-%m-%d", errors="coerce"))
    d = (d if pd.api.types.is_datetime64_dtype(d.dtype) else pd.to_datetime(d)).astype("datetime64[ns]")
    reason = _no_reason(s)
    fail = (t.notna() & d.isna()).to_numpy()
    if fail.any():
        reason[fail] = shown(t[fail]).map(_date_reason).to_numpy(dtype=object)
    return d, t, reason


def parse_number(s: pd.Series, explain: np.ndarray | None = None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(float64 values, cell text, reason the cell is not a (finite) number or NA). ``explain``: the
    rows whose reason is wanted (default all; a lab value of a text test is no number, and saying so
    for every such row cost 40% of parsing a registry bucket's values)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = s.astype("float64")
        t = as_text(s)
    else:
        t = as_text(s)
        if s.dtype == object:
            # numbers keep their native value (xlsx/DataFrame cells); text that fails is retried stripped
            v = pd.to_numeric(s, errors="coerce").astype("float64")
            retry = (v.isna() & t.notna()).to_numpy()
            if retry.any():
                v[retry] = pd.to_numeric(t[retry], errors="coerce").astype("float64").to_numpy()
            v = v.where(t.notna())
        else:  # lab values repeat: parse each distinct text once
            v = _factorized(t, lambda u: pd.to_numeric(u, errors="coerce").astype("float64"))
    v = v.where(np.isfinite(v.to_numpy(dtype="float64", na_value=np.nan)))
    reason = _no_reason(s)
    fail = (t.notna() & v.isna()).to_numpy()
    if explain is not None:
        fail &= explain
    if fail.any():
        reason[fail] = ("value '" + shown(t[fail]) + "' is not a number").to_numpy(dtype=object)
    return v, t, reason


def contains_any(text: pd.Series, parts: tuple[str, ...]) -> bool:
    """Whether any cell of ``text`` holds one of ``parts`` (plain substrings); Arrow-backed text is
    searched by Arrow's substring kernel (twice as fast as a regular expression)."""
    arr = arrow_text(text)
    if arr is not None:
        import pyarrow.compute as pc

        return any(pc.any(pc.match_substring(arr, part)).as_py() for part in parts)
    return any(text.str.contains(part, regex=False, na=False).any() for part in parts)


def range_text(minimum, maximum, min_exclusive: bool) -> str:
    lo = "" if minimum is None else f"{'>' if min_exclusive else '>='} {minimum:g}"
    hi = "" if maximum is None else f"<= {maximum:g}"
    return " and ".join(x for x in (lo, hi) if x)


def out_of_range(v: pd.Series, minimum, maximum, min_exclusive: bool) -> np.ndarray:
    x = v.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.zeros(len(x), dtype=bool)
    if minimum is not None:
        bad |= (x <= minimum) if min_exclusive else (x < minimum)
    if maximum is not None:
        bad |= x > maximum
    return bad & ~np.isnan(x)

