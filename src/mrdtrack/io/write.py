"""Write contract-format tables as a cohort folder (CSV or Parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMATS = ("csv", "parquet")


def _for_file(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out


def write_tables(tables: dict[str, pd.DataFrame], folder: str | Path, fmt: str = "csv") -> list[Path]:
    """Write each table as ``folder/<name>.<fmt>``; dates as ISO text; returns the paths."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in tables.items():
        path = folder / f"{name}.{fmt}"
        out = _for_file(df)
        if fmt == "csv":
            out.to_csv(path, index=False, lineterminator="\n")
        else:
            out.to_parquet(path, index=False)
        paths.append(path)
    return paths
