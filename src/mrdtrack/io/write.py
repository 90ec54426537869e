"""Write contract-format tables as a cohort folder (CSV or Parquet), whole or chunk by chunk.

``TableWriter`` appends chunks of rows to ``folder/<name>.<fmt>``; a file is the same bytes however
its rows were split into chunks: CSV rows are formatted one by one, and Parquet files have one
schema (fixed by the first chunk: text columns as strings, no pandas metadata) and row groups of
``PARQUET_ROW_GROUP_ROWS`` rows (rows are buffered across chunks). Dates are written as ISO text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.io.outputs import iso_dates

FORMATS = ("csv", "parquet")
#: rows per Parquet row group (the last may be smaller), whatever the chunks written
PARQUET_ROW_GROUP_ROWS = 1 << 20


def _naive_datetime(s: pd.Series) -> bool:
    return isinstance(s.dtype, np.dtype) and s.dtype.kind == "M"


def _for_file(df: pd.DataFrame) -> pd.DataFrame:
    """Date columns as ``YYYY-MM-DD`` text (missing: NaN), everything else as it is."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = iso_dates(s).where(s.notna(), np.nan)
    return out


class _CsvFile:
    def __init__(self, path: Path):
        self.path = path
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.header = True

    def write(self, df: pd.DataFrame) -> None:
        if len(df) or self.header:
            _for_file(df).to_csv(self.handle, index=False, header=self.header, lineterminator="\n")
        self.header = False

    def close(self) -> None:
        self.handle.close()


class _ParquetFile:
    def __init__(self, path: Path):
        self.path, self.writer, self.schema = path, None, None
        self.pending: list = []
        self.rows = 0

    @staticmethod
    def _arrow(df: pd.DataFrame):
        import pyarrow as pa

        cols = {}
        for c in df.columns:
            s = df[c]
            if _naive_datetime(s):  # date32 cast to text in C++: ISO dates, missing stays null
                cols[c] = pa.array(s.to_numpy().astype("datetime64[D]"), type=pa.date32(),
                                   mask=s.isna().to_numpy()).cast(pa.string())
            else:
                cols[c] = _for_file(df[[c]])[c] if pd.api.types.is_datetime64_any_dtype(s) else s
                cols[c] = pa.array(cols[c].to_numpy(), from_pandas=True)
        return pa.table(cols)

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = self._arrow(df)
        if self.schema is None:
            self.schema = pa.schema([pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type)
                                     for f in table.schema])
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.pending.append(table.cast(self.schema))
        self.rows += len(table)
        self._flush(final=False)

    def _flush(self, final: bool) -> None:
        import pyarrow as pa

        if self.rows < PARQUET_ROW_GROUP_ROWS and not (final and self.pending):
            return
        buffered = pa.concat_tables(self.pending)
        start = 0
        while len(buffered) - start >= PARQUET_ROW_GROUP_ROWS or (final and start < len(buffered)):
            group = buffered.slice(start, PARQUET_ROW_GROUP_ROWS)
            self.writer.write_table(group, row_group_size=PARQUET_ROW_GROUP_ROWS)
            start += len(group)
        rest = buffered.slice(start)
        self.pending, self.rows = ([rest] if len(rest) else []), len(rest)

    def close(self) -> None:
        if self.writer is None:
            return
        if self.pending:
            self._flush(final=True)
        self.writer.close()


class TableWriter:
    """Append chunks of tables to ``folder/<name>.<fmt>`` (one file per table name); use as a
    context manager, or call ``close()``; ``paths`` lists the files in the order first written."""

    def __init__(self, folder: str | Path, fmt: str = "csv"):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.folder, self.fmt = Path(folder), fmt
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: dict = {}

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files.values()]

    def write(self, tables: dict[str, pd.DataFrame]) -> None:
        for name, df in tables.items():
            if name not in self.files:
                path = self.folder / f"{name}.{self.fmt}"
                self.files[name] = _CsvFile(path) if self.fmt == "csv" else _ParquetFile(path)
            self.files[name].write(df)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_tables(tables: dict[str, pd.DataFrame], folder: str | Path, fmt: str = "csv") -> list[Path]:
    """Write each table as ``folder/<name>.<fmt>``; dates as ISO text; returns the paths."""
    with TableWriter(folder, fmt) as writer:
        writer.write(tables)
    return writer.paths
