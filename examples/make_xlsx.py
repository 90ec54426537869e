"""Write examples/cohort.xlsx from the CSV tables of examples/cohort/ (the same data as a workbook).

One sheet per table, named by the table; dates are native Excel date cells and numbers are numbers,
as a hospital export would have them (docs/data-contract.md). Run from the repository root:

    .venv/bin/python examples/make_xlsx.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl

from mrdtrack.contract import DATE, INTEGER, NUMBER, TABLES

HERE = Path(__file__).parent


def _cell(text: str, kind: str):
    if text == "":
        return None
    if kind == DATE:
        return dt.date.fromisoformat(text)
    if kind in (NUMBER, INTEGER, "value"):
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and "e" not in text.lower() else number
    return text


def build(folder: Path = HERE / "cohort", out: Path = HERE / "cohort.xlsx") -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, spec in TABLES.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        kinds = [("value" if (name == "labs" and h == "value") else
                  spec.column(h).type if h in spec.column_names else "text") for h in header]
        ws = wb.create_sheet(name)
        ws.append(header)
        for r in body:
            ws.append([_cell(v, k) for v, k in zip(r, kinds)])
        for col, kind in enumerate(kinds, start=1):
            if kind == DATE:
                for (c,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                    c.number_format = "yyyy-mm-dd"
    # a fixed timestamp keeps the committed file identical between runs
    wb.properties.created = wb.properties.modified = dt.datetime(2024, 1, 1)
    wb.save(out)
    return out


if __name__ == "__main__":
    print(build())
