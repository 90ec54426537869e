"""The output writer's direct path for plain text tables gives the bytes pandas' ``to_csv`` gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from mrdtrack.io.outputs import FLOAT_FORMAT, _plain_csv, format_table, write_csv

# words, blanks, missing cells and every character the csv writer quotes for
_CELLS = st.one_of(st.none(), st.just(np.nan), st.sampled_from(["", " ", "CR", "sCR", "a,b", 'say "x"', "x\ny", "r\r",
                                                                "é", "SIM000001"]),
                   st.text(alphabet="ab ,\"\n\r-é", max_size=4))


def _pandas_bytes(df: pd.DataFrame, path, header: bool) -> bytes:
    format_table(df).to_csv(path, index=False, header=header, lineterminator="\n", float_format=FLOAT_FORMAT,
                            na_rep="")
    return path.read_bytes()


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.lists(_CELLS, min_size=3, max_size=3), max_size=12),
       names=st.sampled_from([["patient_id", "phase", "note"], ["a", "b,c", "d"], ["x", "y", 'q"']]),
       header=st.booleans(), flag=st.booleans())
def test_direct_text_csv_is_byte_identical_to_pandas(tmp_path_factory, cells, names, header, flag):
    df = pd.DataFrame(cells, columns=names, dtype=object) if cells else pd.DataFrame(
        {n: pd.Series(dtype=object) for n in names})
    df["done"] = flag  # booleans are written as text: still the direct path
    d = tmp_path_factory.mktemp("csv")
    write_csv(df, d / "ours.csv", header=header)
    assert (d / "ours.csv").read_bytes() == _pandas_bytes(df, d / "pandas.csv", header)


def test_the_direct_path_is_taken_only_for_plain_text(tmp_path):
    text = pd.DataFrame({"patient_id": ["P1", None], "response": ["CR", "VGPR"], "confirmed": [True, False]})
    assert _plain_csv(format_table(text), header=True) == "patient_id,response,confirmed\nP1,CR,true\n,VGPR,false\n"
    assert _plain_csv(text.assign(note=["a,b", ""]), header=True) is None  # a cell to quote
    assert _plain_csv(text.assign(level=[0.1, 2.0]), header=True) is None  # numbers: pandas formats them
    assert _plain_csv(text[["patient_id"]], header=True) is None  # one column: a lone blank would be quoted
    mixed = pd.DataFrame({"a": ["x", 1], "b": ["y", "z"]}, dtype=object)
    assert _plain_csv(mixed, header=True) is None


def test_a_text_buffer_gets_the_same_text(tmp_path):
    import io

    df = pd.DataFrame({"patient_id": ["P1", "P2"], "response": ["CR", None]})
    buffer = io.StringIO()
    write_csv(df, buffer, header=False)
    write_csv(df, tmp_path / "rows.csv", header=False)
    assert buffer.getvalue() == (tmp_path / "rows.csv").read_text() == "P1,CR\nP2,\n"
