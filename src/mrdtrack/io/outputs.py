"""Write the outputs of ``analyze`` (docs/cli.md): assessments.csv, mrd.csv, patients.csv,
summary.json, issues.csv.

Booleans are ``true``/``false``, missing is blank, dates ISO ``YYYY-MM-DD``, shares fractions.
The same analysis always gives byte-identical files (sorted keys, fixed float format).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from mrdtrack.issues import ISSUE_COLUMNS

FLOAT_FORMAT = "%.10g"


_BOOL_TEXT = {True: "true", False: "false"}


def iso_dates(s: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text, missing as ""; naive datetime64 by NumPy, each distinct day
    once (pandas' strftime formats every value), time-zone-aware ones by strftime."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.strftime("%Y-%m-%d").where(s.notna(), "")
    days = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    codes, uniques = pd.factorize(days.view(np.int64))  # dates repeat: format each distinct day once
    text = np.datetime_as_string(uniques.astype("datetime64[D]"), unit="D").astype(object)[codes]
    text[np.isnat(days)] = ""
    return pd.Series(text, index=s.index, dtype=object)


def _format_column(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return iso_dates(s)
    if pd.api.types.is_bool_dtype(s) or s.dtype == "boolean":
        return s.map(_BOOL_TEXT).astype(object).where(s.notna(), "")
    if s.dtype == object:
        kind = pd.api.types.infer_dtype(s, skipna=True)  # one pass in C over the values
        if kind == "boolean":
            return s.map(_BOOL_TEXT).astype(object).where(s.notna(), "")
        if kind in ("datetime", "datetime64", "date"):
            return _format_column(pd.to_datetime(s))
    return s


def format_table(df: pd.DataFrame) -> pd.DataFrame:
    """A new frame: ``df`` with booleans and dates rendered per the output contract (the other
    columns are shared with ``df``, not copied: the writers only read them)."""
    if not df.columns.is_unique:
        out = df.copy()
        for i in range(df.shape[1]):
            out.isetitem(i, _format_column(df.iloc[:, i]))
        return out
    return pd.DataFrame({c: _format_column(df[c]) for c in df.columns}, index=df.index, copy=False)


#: Characters that make Python's csv writer quote a field (QUOTE_MINIMAL, "\n" line ends; "\r" too,
#: as some Python versions quote it: such a table goes to ``to_csv``).
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _distinct_cells(codes: np.ndarray, texts: list[str]):
    """An Arrow text column from ``pd.factorize`` codes and each distinct value's text ("" for -1)."""
    import pyarrow as pa

    codes = np.where(codes < 0, len(texts), codes).astype(np.int32, copy=False)
    return pa.array(texts + [""], type=pa.string()).take(pa.array(codes))


def _plain_text(s: pd.Series):
    """The cells of a text column as Arrow text ("" for missing), or None when the csv writer would
    quote one of them or the column holds anything but text (each distinct value checked once)."""
    if s.dtype != object or pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        return None
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if any(_NEEDS_QUOTES.search(u) for u in uniques):
        return None
    return _distinct_cells(codes, list(uniques))


def _float_text(values: np.ndarray):
    """float64 cells as ``to_csv`` writes them with ``FLOAT_FORMAT`` (``FLOAT_FORMAT % x``; "" for
    NaN), each distinct value formatted once, as Arrow text. Hashing takes -0.0 for 0.0, which
    print differently: a column holding a negative zero is formatted cell by cell."""
    if (np.signbit(values) & (values == 0)).any():
        import pyarrow as pa

        return pa.array(["" if x != x else FLOAT_FORMAT % x for x in values.tolist()], type=pa.string())
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return _distinct_cells(codes, [FLOAT_FORMAT % x for x in uniques.tolist()])


def _plain_cells(s: pd.Series):
    """A column's cells as Arrow values written as ``to_csv`` writes them, for the columns of the
    direct path: float64 (``_float_text``), int64 (Arrow writes them as ``str`` does) and plain text
    (``_plain_text``); None for any other."""
    if s.dtype == np.float64:
        return _float_text(s.to_numpy())
    if s.dtype == np.int64:
        import pyarrow as pa

        return pa.array(s.to_numpy(), type=pa.int64())
    return _plain_text(s)


#: The direct path formats and writes this many cells at a time (about 60 MB of Arrow text): the
#: writer's memory is bounded by a chunk, not by the table (patients.csv of 1,000,000 patients).
CSV_CHUNK_CELLS = 4_000_000


def _plain_header(df: pd.DataFrame) -> bool:
    """Whether the table's shape and names allow the direct path (``_plain_chunks``)."""
    return df.shape[1] >= 2 and all(isinstance(c, str) and not _NEEDS_QUOTES.search(c) for c in df.columns)


def _plain_rows(df: pd.DataFrame):
    """The CSV rows pandas' ``to_csv`` writes for a table of text, float64 and int64 columns with
    nothing to quote, as an Arrow buffer of UTF-8 written by Arrow's CSV writer without quoting
    (the cells were checked: none needs quotes); None when a column is of another kind or a cell
    would be quoted."""
    cols = []
    for c in df.columns:
        col = _plain_cells(df[c])
        if col is None:
            return None
        cols.append(col)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(cols, names=[f"c{i}" for i in range(len(cols))]), sink,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def _plain_chunks(df: pd.DataFrame, header: bool):
    """The direct path's CSV as successive pieces (the header, then the rows by CSV_CHUNK_CELLS
    cells); a None piece means the table is not for the direct path (``to_csv`` writes it)."""
    if not _plain_header(df):
        yield None
        return
    if header:
        yield (",".join(df.columns) + "\n").encode("utf-8")
    step = max(1, CSV_CHUNK_CELLS // df.shape[1])
    for start in range(0, len(df), step):
        yield _plain_rows(df.iloc[start:start + step])


def _plain_csv(df: pd.DataFrame, header: bool) -> str | None:
    """The direct path's CSV text (``_plain_chunks``), None for a table it does not take."""
    pieces = []
    for piece in _plain_chunks(df, header):
        if piece is None:
            return None
        pieces.append(piece if isinstance(piece, bytes) else piece.to_pybytes())
    return b"".join(pieces).decode("utf-8")


def _write_plain(df: pd.DataFrame, path: Path, header: bool) -> bool:
    """The direct path's CSV written to ``path`` piece by piece; False (the file then holds an
    unfinished part) for a table it does not take."""
    with Path(path).open("wb") as f:
        for piece in _plain_chunks(df, header):
            if piece is None:
                return False
            f.write(piece)  # an Arrow buffer as it is: no copy into Python bytes
    return True


def write_csv(df: pd.DataFrame, path: Path | TextIO, header: bool = True) -> None:
    """``df`` as CSV per the output contract; ``header=False`` writes the rows only (a piece of a file).
    A table of plain text and numbers (every output but issues.csv) is written by Arrow, a chunk
    of rows at a time, to the same bytes as ``to_csv``."""
    table = format_table(df)
    if hasattr(path, "write"):  # a text buffer (the Spark workers')
        text = _plain_csv(table, header)
        if text is not None:
            path.write(text)
            return
    elif _write_plain(table, path, header):
        return
    table.to_csv(path, index=False, header=header, lineterminator="\n", float_format=FLOAT_FORMAT, na_rep="")


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, (pd.Timestamp, datetime, date)):
        return None if pd.isna(o) else o.strftime("%Y-%m-%d")
    if o is pd.NA or o is pd.NaT:
        return None
    return o


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_analysis(analysis, out_dir: str | Path, assessment_columns, mrd_columns) -> list[Path]:
    """Write the five analyze outputs into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "assessments.csv": analysis.assessments[assessment_columns],
        "mrd.csv": analysis.mrd[mrd_columns],
        "patients.csv": analysis.patients,
        "issues.csv": analysis.issues[ISSUE_COLUMNS],
    }
    written = []
    for name, df in paths.items():
        write_csv(df, out / name)
        written.append(out / name)
    write_json(analysis.summary, out / "summary.json")
    written.append(out / "summary.json")
    return written
