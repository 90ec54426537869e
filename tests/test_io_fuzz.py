"""Property tests of the readers (hypothesis): random and corrupted tables and bytes.

The only outcomes allowed are a valid Cohort, or issues with at least one error; never another
exception. A valid cohort survives write_tables -> read_cohort unchanged. Example counts are kept
small so the file runs in seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mrdtrack.cohort import Cohort
from mrdtrack.io.read import read_cohort, validate_tables
from mrdtrack.io.write import write_tables

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "examples" / "broken" / "exact_duplicate"
TABLES = ("patients", "treatments", "labs", "mrd", "events")
RAW = {n: pd.read_csv(BASE / f"{n}.csv", dtype=str, keep_default_na=False) for n in TABLES}
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "P1", "P2", "2020-02-30", "2020-05-01", "1e-4", "-1", "nan", "inf", "detected",
                     "serum_m_protein", "g/L", "mg/dL", "maintenance", "death", "0", "101", "\x00", "é", '"', ",",
                     "\n"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, 10**7),
    st.none(),
)


def _check_outcome(res) -> None:
    assert set(res.issues["severity"]) <= {"error", "warning", "excluded"}
    if res.cohort is None:
        assert res.has_errors
    else:
        for name in Cohort.TABLE_NAMES:
            assert "row" in res.cohort.table(name).columns


@FAST
@given(table=st.sampled_from(TABLES), data=st.data())
def test_random_cells_give_a_cohort_or_errors(table, data):
    raw = {n: df.copy() for n, df in RAW.items()}
    df = raw[table].astype(object)
    for _ in range(data.draw(st.integers(1, 4))):
        r = data.draw(st.integers(0, len(df) - 1))
        c = data.draw(st.sampled_from(list(df.columns)))
        df.iat[r, df.columns.get_loc(c)] = data.draw(cell)
    raw[table] = df
    for exclude in (False, True):
        res = validate_tables(raw, exclude_invalid=exclude)
        _check_outcome(res)


@FAST
@given(table=st.sampled_from(TABLES), data=st.data())
def test_corrupted_bytes_give_a_cohort_or_errors(table, data):
    src = (BASE / f"{table}.csv").read_bytes()
    how = data.draw(st.sampled_from(["flip", "truncate", "insert", "replace"]))
    if how == "flip":
        pos = data.draw(st.integers(0, len(src) - 1))
        new = src[:pos] + bytes([data.draw(st.integers(0, 255))]) + src[pos + 1:]
    elif how == "truncate":
        new = src[: data.draw(st.integers(0, len(src)))]
    elif how == "insert":
        pos = data.draw(st.integers(0, len(src)))
        new = src[:pos] + data.draw(st.binary(max_size=40)) + src[pos:]
    else:
        new = data.draw(st.binary(max_size=200))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "c"
        shutil.copytree(BASE, d)
        (d / f"{table}.csv").write_bytes(new)
        for exclude in (False, True):
            _check_outcome(read_cohort(d, exclude_invalid=exclude))


@settings(max_examples=15, deadline=None)
@given(fmt=st.sampled_from(["csv", "parquet"]), seed=st.integers(0, 2**16), n=st.integers(1, 6))
def test_valid_input_survives_a_write_read_round_trip(fmt, seed, n):
    """Rows sampled from the valid base (whole patients kept) written and read back: same Cohort."""
    raw = {name: df.sample(frac=1, random_state=seed).head(max(n, 2) if name != "patients" else len(df))
           for name, df in RAW.items()}
    raw["labs"] = raw["labs"].drop_duplicates()
    first = validate_tables(raw)
    if first.cohort is None:  # e.g. only one FLC kept: still a valid outcome, nothing to round-trip
        assert first.has_errors
    assume(first.cohort is not None)
    with tempfile.TemporaryDirectory() as tmp:
        write_tables(raw, tmp, fmt)
        again = read_cohort(tmp)
    assert again.cohort is not None, again.issues
    for name in Cohort.TABLE_NAMES:
        a, b = first.cohort.table(name), again.cohort.table(name)
        if fmt == "parquet":
            b = b.assign(row=b["row"] + 1)  # Parquet rows are 1-based; validate_tables counts a header line
        pd.testing.assert_frame_equal(a, b, obj=name)
    assert first.cohort.data_cut == again.cohort.data_cut


def test_csv_parquet_xlsx_of_the_example_are_the_same_cohort(tmp_path):
    ex = ROOT / "examples" / "cohort"
    a = read_cohort(ex).cohort
    tables = {n: pd.read_csv(ex / f"{n}.csv", dtype=str, keep_default_na=False) for n in Cohort.TABLE_NAMES}
    write_tables(tables, tmp_path, "parquet")
    b = read_cohort(tmp_path).cohort
    c = read_cohort(ROOT / "examples" / "cohort.xlsx").cohort
    for name in Cohort.TABLE_NAMES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name).assign(row=b.table(name)["row"] + 1), obj=name)
        pd.testing.assert_frame_equal(a.table(name), c.table(name), obj=name)
