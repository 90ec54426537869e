"""Readers (docs/data-contract.md): CSV, Parquet and xlsx give the same Cohort; row numbers are
those the user sees; typed in-memory frames (the simulator's) validate like text files."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from mrdtrack.cohort import Cohort, empty_table
from mrdtrack.io.read import FILE_ISSUE_COLUMNS, read_cohort, validate_tables
from mrdtrack.io.write import write_tables

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cohort"
BASE = ROOT / "examples" / "broken" / "exact_duplicate"  # tiny cohort: valid apart from one duplicate


def _copy(tmp_path: Path, src: Path = EXAMPLE) -> Path:
    dst = tmp_path / "cohort"
    shutil.copytree(src, dst)
    return dst


def assert_same_cohort(a: Cohort, b: Cohort) -> None:
    for name in Cohort.TABLE_NAMES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_dtype=True, obj=name)
    assert a.data_cut == b.data_cut


def test_result_shape_and_sources():
    res = read_cohort(EXAMPLE)
    assert list(res.issues.columns) == FILE_ISSUE_COLUMNS
    assert set(res.sources) == set(Cohort.TABLE_NAMES)
    sha = hashlib.sha256((EXAMPLE / "labs.csv").read_bytes()).hexdigest()
    assert res.sources["labs"] == {"path": str(EXAMPLE / "labs.csv"), "sha256": sha}
    assert res.cohort.sources == res.sources
    assert res.counts["labs"] == {"rows_in": 495, "rows_used": 495, "rows_excluded": 0}


def test_cohort_dtypes_match_the_normalised_schema():
    c = read_cohort(EXAMPLE).cohort
    for name in Cohort.TABLE_NAMES:
        want = empty_table(name).dtypes
        got = c.table(name).dtypes
        assert list(got.index) == list(want.index), name
        for col in want.index:
            if want[col] is not np.dtype(object):
                assert got[col] == want[col], (name, col)
    assert c.patients["row"].tolist() == list(range(2, 8))


def test_parquet_and_xlsx_give_the_same_cohort_as_csv(tmp_path):
    csv = read_cohort(EXAMPLE).cohort
    tables = {n: pd.read_csv(EXAMPLE / f"{n}.csv", dtype=str, keep_default_na=False) for n in Cohort.TABLE_NAMES}
    pq_dir = tmp_path / "pq"
    write_tables(tables, pq_dir, "parquet")
    pq = read_cohort(pq_dir).cohort
    # Parquet rows are 1-based, CSV rows count the header line: that is the only difference
    for name in Cohort.TABLE_NAMES:
        t = pq.table(name).copy()
        t["row"] = t["row"] + 1
        pd.testing.assert_frame_equal(t, csv.table(name), obj=name)
    assert_same_cohort(read_cohort(ROOT / "examples" / "cohort.xlsx").cohort, csv)


def test_xlsx_native_dates_text_dates_and_row_numbers(tmp_path):
    src = read_cohort(BASE)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in ("patients", "treatments", "labs", "mrd", "events"):
        df = pd.read_csv(BASE / f"{name}.csv", dtype=str, keep_default_na=False)
        ws = wb.create_sheet(name)
        ws.append(list(df.columns))
        for rec in df.itertuples(index=False):
            cells = list(rec)
            if name == "patients":  # native date cells in one table, ISO text elsewhere
                cells[1] = dt.datetime.fromisoformat(cells[1])
            ws.append([None if v == "" else v for v in cells])
    ws = wb["events"]
    ws.insert_rows(3)  # a blank row: the next row keeps its sheet row number
    path = tmp_path / "c.xlsx"
    wb.save(path)
    res = read_cohort(path)
    assert res.cohort is not None
    assert res.cohort.events["row"].tolist() == [2, 4]
    assert res.issues["file"].tolist() == ["c.xlsx:labs"]  # the duplicate warning, named by sheet
    pd.testing.assert_frame_equal(res.cohort.patients, src.cohort.patients)


def test_missing_sheet_is_named(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "patients"
    wb.active.append(["patient_id", "diagnosis_date"])
    wb.save(tmp_path / "c.xlsx")
    res = read_cohort(tmp_path / "c.xlsx")
    assert res.cohort is None
    assert "c.xlsx:events" in set(res.issues["file"])
    assert "required table 'events' is missing" in set(res.issues["message"])


def test_csv_line_numbers_with_blank_lines_bom_and_quoted_newlines(tmp_path):
    d = _copy(tmp_path, BASE)
    text = (d / "labs.csv").read_text()
    lines = text.splitlines()
    # BOM, a blank line after the header, a quoted newline in an extra column, a bad value at the end
    lines.insert(1, "")
    lines[0] = "\ufeff" + lines[0] + ",note"
    lines[2] += ',"two\nlines"'
    for i in range(3, len(lines)):
        lines[i] += ","
    lines.append("P2,2020-07-01,serum_m_protein,zero,g/dL,")
    (d / "labs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = read_cohort(d)
    bad = res.issues[res.issues["severity"] == "error"]
    # physical line of the last record: header 1, blank 2, record spanning 3-4, then 5..
    assert bad[["row", "message"]].values.tolist() == [[len(lines) + 1, "value 'zero' is not a number"]]
    ok = read_cohort(d, exclude_invalid=True).cohort
    assert ok.labs["row"].tolist()[:2] == [3, 5]
    assert ok.labs["note"].tolist()[0] == "two\nlines"  # extra columns are kept


def test_extra_columns_kept_and_reserved_names_warned(tmp_path):
    d = _copy(tmp_path, BASE)
    df = pd.read_csv(d / "mrd.csv", dtype=str, keep_default_na=False)
    df["lab_site"] = ["north", "south"]
    df["row"] = ["x", "y"]
    df.to_csv(d / "mrd.csv", index=False)
    res = read_cohort(d)
    assert res.cohort.mrd["lab_site"].tolist() == ["north", "south"]
    assert res.cohort.mrd["row"].tolist() == [2, 3]
    assert "column 'row' is a reserved name and was ignored" in set(res.issues["message"])


def test_both_csv_and_parquet_for_one_table(tmp_path):
    d = _copy(tmp_path, BASE)
    pd.read_csv(d / "mrd.csv").to_parquet(d / "mrd.parquet")
    res = read_cohort(d)
    assert res.cohort is None
    assert "both mrd.csv and mrd.parquet are present; keep one" in set(res.issues["message"])


def test_corrupt_parquet_is_reported(tmp_path):
    d = _copy(tmp_path, BASE)
    (d / "mrd.csv").unlink()
    (d / "mrd.parquet").write_bytes(b"PAR1 not really")
    res = read_cohort(d)
    assert res.issues["message"].str.startswith("not a readable Parquet file").any()
    assert res.cohort is None


def test_not_a_workbook_and_missing_path(tmp_path):
    from mrdtrack.errors import UserError

    (tmp_path / "x.xlsx").write_bytes(b"junk")
    res = read_cohort(tmp_path / "x.xlsx")
    assert res.cohort is None and res.issues["message"].iloc[0].startswith("not a readable xlsx workbook")
    with pytest.raises(UserError):
        read_cohort(tmp_path / "nope")


def test_validate_tables_accepts_typed_simulator_frames():
    """datetime64 dates, numeric columns, labs value as numbers or text (simulator output)."""
    text = {n: pd.read_csv(BASE / f"{n}.csv", dtype=str, keep_default_na=False)
            for n in ("patients", "treatments", "labs", "mrd", "events")}
    typed = {n: df.copy() for n, df in text.items()}
    for df in typed.values():
        for col in df.columns:
            if "date" in col:
                df[col] = pd.to_datetime(df[col].replace("", None))
    typed["mrd"]["lod"] = typed["mrd"]["lod"].astype(float)
    typed["mrd"]["cells_analyzed"] = typed["mrd"]["cells_analyzed"].astype("int64")
    typed["patients"]["age_at_diagnosis"] = typed["patients"]["age_at_diagnosis"].astype(int)
    typed["labs"]["value"] = typed["labs"]["value"].astype(float).astype(object)
    typed["labs"].loc[len(typed["labs"])] = ["P1", pd.Timestamp("2020-05-01"), "serum_ife", "negative", None]
    text["labs"].loc[len(text["labs"])] = ["P1", "2020-05-01", "serum_ife", "negative", ""]
    a, b = validate_tables(text), validate_tables(typed)
    assert_same_cohort(a.cohort, b.cohort)
    assert a.issues.equals(b.issues)


def test_validate_tables_flags_a_bad_typed_value():
    raw = {n: pd.read_csv(BASE / f"{n}.csv", dtype=str, keep_default_na=False)
           for n in ("patients", "treatments", "labs", "mrd", "events")}
    raw["mrd"]["lod"] = [1e-6, np.inf]
    res = validate_tables(raw)
    assert "value 'inf' is not a number" in set(res.issues["message"])


def test_a_field_larger_than_the_csv_block_uses_the_exact_reader(tmp_path):
    from mrdtrack.io.sources import _BLOCK_BYTES

    d = _copy(tmp_path, BASE)
    events = (d / "events.csv").read_text().replace("myeloma", "y" * (_BLOCK_BYTES + 10))
    (d / "events.csv").write_text(events)
    res = read_cohort(d)
    assert res.issues[["file", "row", "column", "message"]].values.tolist()[-1] == [
        "events.csv", 3, "detail", f"value is too long ({_BLOCK_BYTES + 10} characters; at most 10000)"]
    assert res.cohort is None


def test_print_problems_writes_the_table():
    from rich.console import Console

    from mrdtrack.commands.validate import print_problems

    console = Console(file=__import__("io").StringIO(), width=200)
    print_problems(read_cohort(ROOT / "examples" / "broken" / "orphan_patient").issues, console)
    assert "patient_id 'P9' is not in patients" in console.file.getvalue()
