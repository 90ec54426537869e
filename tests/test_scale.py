"""Outputs do not depend on how the work is cut: partitioned vs in-memory, batch size, processes."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrdtrack.commands.analyze import run_analyze
from mrdtrack.config import Config
from mrdtrack.io.read import read_cohort
from mrdtrack.io.write import write_tables
from mrdtrack.scale import InvalidCohort, analyze_partitioned
from test_partition import EXAMPLE, replicated_cohort

OUTPUTS = ("assessments.csv", "mrd.csv", "patients.csv", "issues.csv", "summary.json")
BROKEN = EXAMPLE.parent / "broken"


def assert_same_outputs(a: Path, b: Path) -> None:
    different = [n for n in OUTPUTS if not filecmp.cmp(a / n, b / n, shallow=False)]
    assert not different, f"outputs differ: {different}"


def simulated_cohort(dst: Path, n: int, seed: int, fmt: str = "csv") -> Path:
    """A simulated cohort with the rows of every table shuffled (real exports are unsorted)."""
    from mrdtrack.simulate import simulate_cohort

    rng = np.random.default_rng(seed)
    tables = {name: df.iloc[rng.permutation(len(df))] for name, df in simulate_cohort(n, seed).tables.items()}
    if fmt == "parquet":  # one type per Parquet column: lab values as text
        tables["labs"] = tables["labs"].assign(value=tables["labs"]["value"].astype(str))
    write_tables(tables, dst, fmt)
    return dst


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return replicated_cohort(tmp_path_factory.mktemp("cohort"), copies=20, seed=1)


@pytest.fixture(scope="module")
def in_memory(cohort, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mem")
    run_analyze(cohort, out)
    return out


def test_partitioned_outputs_identical_to_in_memory(cohort, in_memory, tmp_path):
    run = analyze_partitioned(cohort, tmp_path / "out", Config(), buckets=5)
    assert run.patients == 120
    assert len(pd.read_csv(tmp_path / "out" / "assessments.csv")) > 1000
    assert_same_outputs(in_memory, tmp_path / "out")
    assert not list(tmp_path.glob(".mrdtrack-work-*"))  # the work folder is cleaned up


def test_partitioned_parquet_and_processes(tmp_path):
    src = replicated_cohort(tmp_path / "pq", copies=8, seed=2, fmt="parquet")
    run_analyze(src, tmp_path / "mem")
    analyze_partitioned(src, tmp_path / "part", Config(), buckets=3, jobs=2, batch_rows=50)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")


def test_batch_size_does_not_change_outputs(cohort, in_memory, tmp_path):
    run_analyze(cohort, tmp_path / "small", batch_size=40)  # 3 batches vs one batch of 120
    assert_same_outputs(in_memory, tmp_path / "small")


def test_batch_size_1000_vs_one_batch(tmp_path):
    src = simulated_cohort(tmp_path / "c", n=2100, seed=4)  # 3 batches of at most 1,000 vs one batch
    run_analyze(src, tmp_path / "b1000", batch_size=1000)
    run_analyze(src, tmp_path / "one", batch_size=10_000)
    assert_same_outputs(tmp_path / "one", tmp_path / "b1000")
    assert len(pd.read_csv(tmp_path / "one" / "patients.csv")) == 2100


def test_partitioned_identical_on_a_simulated_cohort(tmp_path):
    src = simulated_cohort(tmp_path / "c", n=300, seed=11, fmt="parquet")
    run_analyze(src, tmp_path / "mem", jobs=2, batch_size=100)
    analyze_partitioned(src, tmp_path / "part", buckets=4, jobs=2)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")


def test_jobs_2_identical(cohort, in_memory, tmp_path):
    run_analyze(cohort, tmp_path / "jobs", batch_size=25, jobs=2)
    assert_same_outputs(in_memory, tmp_path / "jobs")


def test_data_cut_and_exclusions_identical(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=12, seed=5, src=BROKEN / "two_maintenance")
    run_analyze(src, tmp_path / "mem", data_cut="2021-06-30", exclude_invalid=True)
    analyze_partitioned(src, tmp_path / "part", buckets=4, data_cut="2021-06-30", exclude_invalid=True)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")
    issues = pd.read_csv(tmp_path / "part" / "issues.csv")
    assert (issues["severity"] == "excluded").sum() > 12  # each copy's patient left out, table by table


def test_validation_errors_name_the_original_rows(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=6, seed=6, src=BROKEN / "unknown_unit")
    expected = read_cohort(src).issues
    with pytest.raises(InvalidCohort) as err:
        analyze_partitioned(src, tmp_path / "part", buckets=3)
    got = err.value.issues
    assert len(got) == len(expected) >= 6
    pd.testing.assert_frame_equal(got.reset_index(drop=True).astype(str), expected.reset_index(drop=True).astype(str))
    assert not (tmp_path / "part" / "patients.csv").exists()


def test_unreadable_file_stops_before_any_bucket(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=2)
    (src / "treatments.csv").unlink()
    with pytest.raises(InvalidCohort) as err:
        analyze_partitioned(src, tmp_path / "part", buckets=3)
    assert err.value.issues["message"].str.contains("required table 'treatments' is missing").all()
