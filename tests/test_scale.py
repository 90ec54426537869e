"""Outputs do not depend on how the work is cut: partitioned vs in-memory, batch size, processes."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrdtrack.commands.analyze import run_analyze
from mrdtrack.config import Config
from mrdtrack.executors.partitioned import InvalidCohort, analyze_partitioned
from mrdtrack.io.read import read_cohort
from mrdtrack.io.write import write_tables
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


# --- the analyze command: --partitions, automatic choice, pseudonyms, errors -----------------------

def _cli(args: list[str]):
    from typer.testing import CliRunner

    from mrdtrack.cli import app

    return CliRunner().invoke(app, args)


def test_cli_partitions_give_the_in_memory_files(cohort, in_memory, tmp_path):
    res = _cli(["analyze", str(cohort), "--out", str(tmp_path / "p"), "--partitions", "4", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert "4 buckets" in res.output
    assert_same_outputs(in_memory, tmp_path / "p")


def test_cli_pseudonymized_partitioned_equals_in_memory(cohort, tmp_path, monkeypatch):
    monkeypatch.setenv("MRDTRACK_PSEUDONYM_KEY", "k-123")
    for name, parts in (("mem", "0"), ("part", "3")):
        res = _cli(["analyze", str(cohort), "--out", str(tmp_path / name), "--pseudonymize", "--partitions", parts])
        assert res.exit_code == 0, res.output
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")
    text = (tmp_path / "part" / "assessments.csv").read_text() + (tmp_path / "part" / "issues.csv").read_text()
    assert "C000-" not in text and "P-" in text


def test_cli_partitioned_validation_error_exits_2_with_the_problem_table(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=3, seed=6, src=BROKEN / "unknown_unit")
    res = _cli(["analyze", str(src), "--out", str(tmp_path / "o"), "--partitions", "2"])
    assert res.exit_code == 2
    assert "validation error" in res.output and "unit" in res.output
    assert not (tmp_path / "o" / "patients.csv").exists()


def test_cli_partitions_need_a_folder(tmp_path):
    res = _cli(["analyze", str(EXAMPLE.parent / "cohort.xlsx"), "--out", str(tmp_path / "o"), "--partitions", "2"])
    assert res.exit_code == 2 and "cohort folder" in res.output


def test_automatic_choice_by_input_rows(cohort, tmp_path, monkeypatch):
    import mrdtrack.executors.partitioned as scale

    rows = scale.estimate_input_rows(cohort)
    exact = sum(len(pd.read_csv(f, dtype=str)) for f in cohort.glob("*.csv"))
    assert 0.8 * exact <= rows <= 1.25 * exact  # CSV rows estimated from the sampled line length
    assert scale.auto_buckets(cohort) == 0  # small: in memory
    assert scale.auto_buckets(EXAMPLE.parent / "cohort.xlsx") == 0
    monkeypatch.setattr(scale, "AUTO_PARTITION_MIN_ROWS", 10)
    monkeypatch.setattr(scale, "ROWS_PER_BUCKET", max(1, rows // 5))
    assert scale.auto_buckets(cohort) in (5, 6)


def test_parallel_partition_of_row_groups_keeps_rows_and_order(tmp_path):
    import pyarrow.parquet as pq

    from mrdtrack.io.partition import load_bucket, partition_cohort

    src = replicated_cohort(tmp_path / "c", copies=6, seed=9, fmt="parquet")
    labs = pq.read_table(src / "labs.parquet")
    pq.write_table(labs, src / "labs.parquet", row_group_size=max(1, labs.num_rows // 7))  # several row groups
    assert pq.ParquetFile(src / "labs.parquet").metadata.num_row_groups > 2
    one = partition_cohort(src, tmp_path / "one", buckets=3)
    two = partition_cohort(src, tmp_path / "two", buckets=3, jobs=2)
    assert two.tables["labs"]["pieces"] == 2 and two.data_cut == one.data_cut
    # every table's runs went through one pool: the tables are listed in file order, as in one process
    assert list(two.tables) == list(one.tables) and {n: t["rows"] for n, t in two.tables.items()} == \
        {n: t["rows"] for n, t in one.tables.items()}
    for name in one.tables:
        for i in range(3):
            a, b = load_bucket(one, i)[name], load_bucket(two, i)[name]
            assert list(a.rows) == list(b.rows)
            pd.testing.assert_frame_equal(a.frame, b.frame)
    for i in range(3):
        a, b = load_bucket(one, i)["labs"], load_bucket(two, i)["labs"]
        assert list(a.rows) == list(b.rows) == sorted(a.rows)
        pd.testing.assert_frame_equal(a.frame, b.frame)
    run_analyze(src, tmp_path / "mem")
    analyze_partitioned(src, tmp_path / "part", buckets=3, jobs=2)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")


@pytest.mark.parametrize("broken", ["unknown_unit", "two_maintenance", None])
def test_cli_validate_partitioned_lists_the_same_problems(broken, tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=4, seed=8, src=BROKEN / broken if broken else EXAMPLE)
    mem = _cli(["validate", str(src), "--format", "csv", "--partitions", "0"])
    part = _cli(["validate", str(src), "--format", "csv", "--partitions", "3", "--jobs", "2"])
    assert part.exit_code == mem.exit_code == (2 if broken else 0)
    assert part.output == mem.output  # the problem rows and the count line
    assert "cohort is" in part.output


@pytest.mark.parametrize("batch_size", [1, 7, 40, 1000])
def test_batches_are_the_subsets_of_their_patients(cohort, batch_size):
    c = read_cohort(cohort).cohort
    ids = c.patients["patient_id"].to_numpy()
    got = list(c.batches(batch_size))
    assert len(got) == -(-len(ids) // batch_size)
    for k, b in enumerate(got):
        ref = c.subset(ids[k * batch_size:(k + 1) * batch_size])
        for name in c.TABLE_NAMES:
            pd.testing.assert_frame_equal(b.table(name), ref.table(name))


# --- one answer whatever the path: every broken cohort, quoted newlines ---------------------------

def _same_problems(mem: pd.DataFrame, part: pd.DataFrame) -> None:
    cols = list(mem.columns)
    pd.testing.assert_frame_equal(mem.astype(str).reset_index(drop=True),
                                  part[cols].astype(str).reset_index(drop=True))


@pytest.mark.parametrize("broken", sorted(p.name for p in BROKEN.iterdir() if p.is_dir()))
def test_every_broken_cohort_gives_the_in_memory_problem_table(broken):
    from mrdtrack.executors.partitioned import validate_partitioned

    mem = read_cohort(BROKEN / broken).issues
    assert len(mem), broken
    for buckets in (1, 3):
        part, _ = validate_partitioned(BROKEN / broken, Config(), buckets=buckets)
        _same_problems(mem, part)


def _quoted_newline_cohort(dst: Path) -> Path:
    """The example cohort with quoted cells spanning lines, and errors on the lines after them."""
    import shutil

    shutil.copytree(EXAMPLE, dst)
    events = (dst / "events.csv").read_text(encoding="utf-8").splitlines()
    events[1] += '"clinical\nsecond line of the detail"'  # the record spans lines 2-3
    events.append("P01,2030-13-01,death,")  # an impossible date, on line len(events) + 1
    (dst / "events.csv").write_text("\n".join(events) + "\n", encoding="utf-8")
    patients = (dst / "patients.csv").read_text(encoding="utf-8")
    (dst / "patients.csv").write_text(patients.replace("Centre A", '"Centre\r\nA"', 1), encoding="utf-8")
    with open(dst / "patients.csv", "a", encoding="utf-8") as f:
        f.write("P77,2018-13-45,60,F,IgG,kappa,I,standard,Centre B\n")
    return dst


def test_quoted_newlines_give_the_line_numbers_a_user_sees(tmp_path):
    from mrdtrack.executors.partitioned import validate_partitioned

    src = _quoted_newline_cohort(tmp_path / "c")
    mem = read_cohort(src).issues
    lines = (src / "events.csv").read_text(encoding="utf-8").count("\n")
    bad = mem[mem["code"] == "INVALID_DATE"].set_index("table")["row"]
    assert bad["events"] == lines  # the last line of the file
    assert bad["patients"] == (src / "patients.csv").read_text(encoding="utf-8").count("\n")
    for buckets in (1, 2, 4):
        part, _ = validate_partitioned(src, Config(), buckets=buckets)
        _same_problems(mem, part)


def test_quoted_newlines_excluded_rows_identical(tmp_path):
    src = _quoted_newline_cohort(tmp_path / "c")
    run_analyze(src, tmp_path / "mem", exclude_invalid=True)
    analyze_partitioned(src, tmp_path / "part", Config(), buckets=3, exclude_invalid=True)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")


@pytest.mark.parametrize("broken", ["unknown_unit", "orphan_patient", "duplicate_patient", "before_diagnosis",
                                    "two_maintenance", "conflicting_lab", "ragged_line", "impossible_date"])
def test_broken_cohorts_with_exclude_invalid_identical(broken, tmp_path):
    run_analyze(BROKEN / broken, tmp_path / "mem", exclude_invalid=True)
    analyze_partitioned(BROKEN / broken, tmp_path / "part", Config(), buckets=2, exclude_invalid=True)
    assert_same_outputs(tmp_path / "mem", tmp_path / "part")
