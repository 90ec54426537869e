"""``mrdtrack simulate`` streams chunks of patients to its files (docs/simulator.md, Random
streams): the files are byte-identical whatever the chunk size, ``simulate_cohort`` is the
concatenation of the chunks, and a cohort of at most one block is the one mrdtrack 0.1 simulated."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mrdtrack.commands.simulate import write_simulated_cohort
from mrdtrack.io import write as write_module
from mrdtrack.io.read import read_cohort
from mrdtrack.simulate import simulate_cohort
from mrdtrack.simulate.cohort import BLOCK_PATIENTS, simulate_chunks

#: two blocks, the second partial: chunks of 7 straddle the block boundary (1000 = 142 * 7 + 6)
N = BLOCK_PATIENTS + 230


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_files_are_byte_identical_whatever_the_chunk_size(tmp_path, monkeypatch, fmt):
    # small row groups so that Parquet row groups straddle the chunks (rows are buffered across them)
    monkeypatch.setattr(write_module, "PARQUET_ROW_GROUP_ROWS", 5000)
    digests = {}
    for chunk in (7, 50, N):
        out = tmp_path / f"chunk-{chunk}"
        write_simulated_cohort(N, 11, out, "default", fmt, truth=True, chunk_size=chunk)
        digests[chunk] = _digests(out)
    assert digests[7] == digests[50] == digests[N]
    assert len(digests[N]) == 8  # seven tables and truth/truth.csv
    if fmt == "parquet":
        labs = pq.ParquetFile(tmp_path / f"chunk-{N}" / "labs.parquet")
        assert labs.metadata.num_row_groups > 1
        assert max(labs.metadata.row_group(i).num_rows for i in range(labs.metadata.num_row_groups)) == 5000


def test_simulate_cohort_is_the_concatenation_of_the_chunks():
    whole = simulate_cohort(N, 3, "registry")
    parts = list(simulate_chunks(N, 3, "registry", chunk_size=333))
    assert [len(p.tables["patients"]) for p in parts] == [333, 333, 333, 231]
    for name, df in whole.tables.items():
        pd.testing.assert_frame_equal(pd.concat([p.tables[name] for p in parts], ignore_index=True), df, obj=name)
    pd.testing.assert_frame_equal(pd.concat([p.truth for p in parts], ignore_index=True), whole.truth)


def test_the_first_block_does_not_depend_on_the_cohort_size():
    """Blocks have their own random streams: the first BLOCK_PATIENTS patients of a larger cohort
    are the cohort of BLOCK_PATIENTS (the cohort mrdtrack 0.1 made from the same seed)."""
    small, big = simulate_cohort(BLOCK_PATIENTS, 5), simulate_cohort(N, 5)
    last = small.tables["patients"]["patient_id"].iloc[-1]
    for name, df in small.tables.items():
        head = big.tables[name][big.tables[name]["patient_id"] <= last].reset_index(drop=True)
        pd.testing.assert_frame_equal(head, df, obj=name)


def test_the_second_block_is_not_a_copy_of_the_first():
    sim = simulate_cohort(N, 5)
    p = sim.tables["patients"]
    first = p.iloc[:230].drop(columns="patient_id").reset_index(drop=True)
    second = p.iloc[BLOCK_PATIENTS:].drop(columns="patient_id").reset_index(drop=True)
    assert not first.equals(second)


def test_parquet_written_in_chunks_reads_as_the_csv_cohort(tmp_path):
    write_simulated_cohort(300, 2, tmp_path / "csv", "registry", "csv", chunk_size=40)
    write_simulated_cohort(300, 2, tmp_path / "pq", "registry", "parquet", chunk_size=40)
    a, b = read_cohort(tmp_path / "csv").cohort, read_cohort(tmp_path / "pq").cohort
    for name in a.TABLE_NAMES:
        ta, tb = a.table(name), b.table(name)
        pd.testing.assert_frame_equal(ta.drop(columns="row"), tb.drop(columns="row"), obj=name)
