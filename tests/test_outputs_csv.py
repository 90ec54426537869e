"""The output writer's direct path for tables of plain text and numbers gives the bytes pandas' ``to_csv`` gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.io import outputs
from mrdtrack.io.outputs import FLOAT_FORMAT, _plain_csv, format_table, write_csv

# words, blanks, missing cells and every character the csv writer quotes for
_CELLS = st.one_of(st.none(), st.just(np.nan), st.sampled_from(["", " ", "CR", "sCR", "a,b", 'say "x"', "x\ny", "r\r",
                                                                "é", "SIM000001"]),
                   st.text(alphabet="ab ,\"\n\r-é", max_size=4))


def _pandas_bytes(df: pd.DataFrame, path, header: bool) -> bytes:
    format_table(df).to_csv(path, index=False, header=header, lineterminator="\n", float_format=FLOAT_FORMAT,
                            na_rep="")
    return path.read_bytes()


# numbers as the outputs hold them: months, days, slopes; missing, zeros of both signs, infinities
_FLOATS = st.one_of(st.sampled_from([np.nan, 0.0, -0.0, np.inf, -np.inf, 0.1, 1 / 3, 12.0, -2.5e-7, 1e20, 123456789012.5]),
                    st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.tuples(_CELLS, _CELLS, _CELLS, _FLOATS, st.integers(-10**12, 10**12)), max_size=12),
       names=st.sampled_from([["patient_id", "phase", "note"], ["a", "b,c", "d"], ["x", "y", 'q"']]),
       header=st.booleans(), flag=st.booleans(), numbers=st.booleans())
def test_direct_csv_is_byte_identical_to_pandas(tmp_path_factory, cells, names, header, flag, numbers):
    df = pd.DataFrame([c[:3] for c in cells], columns=names, dtype=object) if cells else pd.DataFrame(
        {n: pd.Series(dtype=object) for n in names})
    df["done"] = flag  # booleans are written as text: still the direct path
    if numbers:  # float64 and int64 columns: formatted by the direct path too
        df["months"] = pd.Series([c[3] for c in cells], dtype="float64")
        df["days"] = pd.Series([c[4] for c in cells], dtype="int64")
    d = tmp_path_factory.mktemp("csv")
    write_csv(df, d / "ours.csv", header=header)
    assert (d / "ours.csv").read_bytes() == _pandas_bytes(df, d / "pandas.csv", header)


def test_the_direct_path_is_taken_only_for_plain_text(tmp_path):
    text = pd.DataFrame({"patient_id": ["P1", None], "response": ["CR", "VGPR"], "confirmed": [True, False]})
    assert _plain_csv(format_table(text), header=True) == "patient_id,response,confirmed\nP1,CR,true\n,VGPR,false\n"
    assert _plain_csv(text.assign(note=["a,b", ""]), header=True) is None  # a cell to quote
    assert _plain_csv(format_table(text.assign(level=[0.1, np.nan], n=[3, 4])), header=True) == (
        "patient_id,response,confirmed,level,n\nP1,CR,true,0.1,3\n,VGPR,false,,4\n")  # float64, int64
    assert _plain_csv(text.assign(level=pd.Series([0.1, 2.0], dtype=object)), header=True) is None  # numbers as objects
    assert _plain_csv(text.assign(n=pd.array([1, None], dtype="Int64")), header=True) is None  # nullable integers
    assert _plain_csv(text[["patient_id"]], header=True) is None  # one column: a lone blank would be quoted
    mixed = pd.DataFrame({"a": ["x", 1], "b": ["y", "z"]}, dtype=object)
    assert _plain_csv(mixed, header=True) is None


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["SIM000001", "P-2", "", None]), _FLOATS, st.integers(-10**12, 10**12)),
                     min_size=1, max_size=12), header=st.booleans())
def test_numbers_by_the_direct_path_are_byte_identical_to_pandas(tmp_path_factory, rows, header):
    """Tables of words and numbers (patients.csv, mrd.csv) take the direct path, to the same bytes."""
    df = pd.DataFrame({"patient_id": pd.Series([r[0] for r in rows], dtype=object),
                       "months": pd.Series([r[1] for r in rows], dtype="float64"),
                       "days": pd.Series([r[2] for r in rows], dtype="int64")})
    assert _plain_csv(format_table(df), header) is not None
    d = tmp_path_factory.mktemp("csv")
    write_csv(df, d / "ours.csv", header=header)
    assert (d / "ours.csv").read_bytes() == _pandas_bytes(df, d / "pandas.csv", header)


def test_negative_zero_keeps_its_sign():
    """Hashing takes -0.0 for 0.0; the formatted cells do not (``%.10g`` writes -0)."""
    df = pd.DataFrame({"a": ["x", "y", "z"], "slope": [0.0, -0.0, np.nan]})
    assert _plain_csv(df, header=False) == "x,0\ny,-0\nz,\n"


def test_a_text_buffer_gets_the_same_text(tmp_path):
    import io

    df = pd.DataFrame({"patient_id": ["P1", "P2"], "response": ["CR", None]})
    buffer = io.StringIO()
    write_csv(df, buffer, header=False)
    write_csv(df, tmp_path / "rows.csv", header=False)
    assert buffer.getvalue() == (tmp_path / "rows.csv").read_text() == "P1,CR\nP2,\n"


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.tuples(_CELLS, _CELLS, _FLOATS), min_size=1, max_size=12), header=st.booleans(),
       chunk_cells=st.integers(1, 12))
def test_chunks_of_rows_give_the_same_bytes(tmp_path_factory, cells, header, chunk_cells):
    """Written a few rows at a time (CSV_CHUNK_CELLS), the file is the same; a cell to quote in a
    later chunk sends the whole table to ``to_csv`` (the unfinished direct file is overwritten)."""
    df = pd.DataFrame({"patient_id": pd.Series([c[0] for c in cells], dtype=object),
                       "note": pd.Series([c[1] for c in cells], dtype=object),
                       "months": pd.Series([c[2] for c in cells], dtype="float64")})
    d = tmp_path_factory.mktemp("csv")
    with pytest.MonkeyPatch.context() as mp:  # a function-scoped fixture does not reset between examples
        mp.setattr(outputs, "CSV_CHUNK_CELLS", chunk_cells)
        write_csv(df, d / "ours.csv", header=header)
    assert (d / "ours.csv").read_bytes() == _pandas_bytes(df, d / "pandas.csv", header)


def test_a_later_chunk_to_quote_falls_back_to_pandas(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "CSV_CHUNK_CELLS", 2)  # one row per chunk
    df = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "note": ["plain", "plain", "a,b"]})
    assert _plain_csv(df, header=True) is None
    write_csv(df, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == _pandas_bytes(df, tmp_path / "pandas.csv", True)
    assert (tmp_path / "ours.csv").read_text(encoding="utf-8").endswith('P3,"a,b"\n')
