"""The partition pass (io/partition.py): every row in exactly one bucket, whole patients per bucket,
stable bucket assignment, the global data cut, original row numbers kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrdtrack.io.partition import (
    SOURCE_ROW,
    Partition,
    PatientRanges,
    load_bucket,
    partition_cohort,
    read_bucket_table,
)
from mrdtrack.io.read import read_cohort

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"
DATE_COLUMNS = {"patients": ["diagnosis_date"], "treatments": ["start_date", "end_date"]}


def replicated_cohort(dst: Path, copies: int, seed: int = 0, fmt: str = "csv", src: Path = EXAMPLE) -> Path:
    """``copies`` renamed copies of a small cohort folder, rows shuffled (real exports are unsorted)."""
    dst.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for f in sorted(src.glob("*.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        out = pd.concat([df.assign(patient_id=f"C{k:03d}-" + df["patient_id"]) for k in range(copies)],
                        ignore_index=True)
        out = out.iloc[rng.permutation(len(out))]
        if fmt == "csv":
            out.to_csv(dst / f.name, index=False)
        else:
            out.replace("", None).to_parquet(dst / f"{f.stem}.parquet", index=False)
    return dst


def bucket_frames(part: Partition, name: str) -> pd.DataFrame:
    frames = [read_bucket_table(part, i, name).to_pandas().assign(_bucket=i)
              for i in range(part.buckets)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return replicated_cohort(tmp_path_factory.mktemp("cohort"), copies=10)


@pytest.fixture(scope="module")
def part(cohort, tmp_path_factory) -> Partition:
    return partition_cohort(cohort, tmp_path_factory.mktemp("parts") / "b", buckets=4, batch_rows=64)


def test_every_row_lands_in_exactly_one_bucket(cohort, part):
    for f in cohort.glob("*.csv"):
        original = pd.read_csv(f, dtype=str, keep_default_na=False)
        got = bucket_frames(part, f.stem)
        assert len(got) == len(original) == part.tables[f.stem]["rows"]
        assert sorted(got[SOURCE_ROW]) == list(range(2, len(original) + 2))  # CSV lines, header = line 1


def test_a_patients_rows_share_one_bucket(cohort, part):
    rows = pd.concat([bucket_frames(part, f.stem)[["patient_id", "_bucket"]] for f in cohort.glob("*.csv")])
    per_patient = rows.groupby("patient_id")["_bucket"].nunique()
    assert (per_patient == 1).all()
    assert rows["_bucket"].nunique() == part.buckets  # 60 patients spread over every bucket


def test_buckets_are_ranges_of_sorted_patient_ids():
    ids = np.array([f"P{i:02d}" for i in range(10)], dtype=object)
    ranges = PatientRanges(ids[::-1], 3)  # sorted ids cut into ranges of ceil(10 / 3) = 4
    got = ranges.bucket_of(pd.Series(["P00", " P03 ", "P04", "P07", "P08", "P09"], dtype=object))
    assert got.tolist() == [0, 0, 1, 1, 2, 2]
    # an id missing from the patients table (an orphan row) goes to the range it sorts into
    assert ranges.bucket_of(pd.Series(["P045", "Z", "A"], dtype=object)).tolist() == [1, 2, 0]
    assert ranges.bucket_of(pd.Series([None, ""], dtype=object)).tolist() == [0, 0]
    # a numeric patient_id (typed Parquet column) lands where its text does, as the validator reads it
    numeric = PatientRanges(np.array(["1", "2", "3", "4"], dtype=object), 2)
    assert numeric.bucket_of(pd.Series([3, 1])).tolist() == [1, 0]


def test_arrow_text_is_bucketed_as_bucket_of_buckets_it():
    """``bucket_of_arrow`` (Arrow's index_in, missing positions -1) agrees with ``bucket_of``: padded,
    orphan, blank and missing ids included."""
    import pyarrow as pa

    ranges = PatientRanges(np.array([f"P{i:02d}" for i in range(40)], dtype=object), 3)
    cells = ["P00", " P13 ", "P27", "P39", "P045", "Z", "A", None, "", "  ", "P13"]
    expected = ranges.bucket_of(pd.Series(cells, dtype=object)).tolist()
    assert ranges.bucket_of_arrow(pa.array(cells, type=pa.string())).tolist() == expected
    assert ranges.bucket_of_arrow(pa.array(cells * 40, type=pa.large_string())).tolist() == expected * 40


def test_bucket_order_is_patient_order(cohort, part):
    rows = bucket_frames(part, "patients")
    ids = rows.assign(pid=rows["patient_id"].str.strip()).groupby("_bucket")["pid"].agg(["min", "max"])
    assert (ids["max"].iloc[:-1].to_numpy() < ids["min"].iloc[1:].to_numpy()).all()


def test_partition_is_deterministic_and_independent_of_batch_rows(cohort, part, tmp_path):
    again = partition_cohort(cohort, tmp_path / "again", buckets=4, batch_rows=100_000)
    for name in part.tables:
        a = bucket_frames(part, name).sort_values(SOURCE_ROW).reset_index(drop=True)
        b = bucket_frames(again, name).sort_values(SOURCE_ROW).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    assert again.data_cut == part.data_cut


def test_data_cut_is_the_latest_date_anywhere(cohort, part):
    latest = max(
        pd.to_datetime(pd.read_csv(f, dtype=str)[c], format="%Y-%m-%d").max()
        for f in cohort.glob("*.csv")
        for c in DATE_COLUMNS.get(f.stem, ["date"])
        if c in pd.read_csv(f, dtype=str, nrows=0).columns
    )
    assert part.data_cut == latest.strftime("%Y-%m-%d")
    assert pd.Timestamp(part.data_cut) == read_cohort(cohort).cohort.data_cut


def test_source_rows_point_at_the_original_line(cohort, part):
    original = pd.read_csv(cohort / "labs.csv", dtype=str, keep_default_na=False)
    got = bucket_frames(part, "labs")
    back = original.iloc[got[SOURCE_ROW].to_numpy() - 2].reset_index(drop=True)
    assert (back["patient_id"].to_numpy() == got["patient_id"].to_numpy()).all()
    assert (back["value"].to_numpy() == got["value"].fillna("").to_numpy()).all()
    raw = load_bucket(part, 0)["labs"]
    assert raw.file == "labs.csv" and SOURCE_ROW not in raw.frame.columns
    assert raw.rows.tolist() == bucket_frames(part, "labs").query("_bucket == 0")[SOURCE_ROW].tolist()


def test_blank_csv_lines_keep_later_line_numbers(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=2)
    lines = (src / "events.csv").read_text().splitlines()
    (src / "events.csv").write_text("\n".join(lines[:3] + ["", " , ,,"] + lines[3:]) + "\n")
    part = partition_cohort(src, tmp_path / "b", buckets=3)
    got = bucket_frames(part, "events")
    assert sorted(got[SOURCE_ROW]) == [2, 3] + list(range(6, len(lines) + 3))
    assert got.set_index(SOURCE_ROW).loc[6, "patient_id"] == lines[3].split(",")[0]


def test_parquet_rows_are_one_based(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=3, fmt="parquet")
    part = partition_cohort(src, tmp_path / "b", buckets=2, batch_rows=10)
    original = pd.read_parquet(src / "mrd.parquet")
    got = bucket_frames(part, "mrd")
    assert sorted(got[SOURCE_ROW]) == list(range(1, len(original) + 1))
    back = original.iloc[got[SOURCE_ROW].to_numpy() - 1]
    assert (back["lod"].to_numpy() == got["lod"].to_numpy()).all()
    assert load_bucket(part, 1)["mrd"].file == "mrd.parquet"


def test_exact_cut_ignores_rows_with_cell_errors(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=1)
    with (src / "labs.csv").open("a") as f:
        f.write("P01,2031-01-01,serum_m_protein,1.0,furlongs\n")  # latest date, unknown unit
    fast = partition_cohort(src, tmp_path / "fast", buckets=2)
    exact = partition_cohort(src, tmp_path / "exact", buckets=2, exact_cut=True)
    assert fast.data_cut == "2031-01-01"
    assert pd.Timestamp(exact.data_cut) == read_cohort(src, exclude_invalid=True).cohort.data_cut


@pytest.mark.parametrize("jobs", [1, 2])
def test_unreadable_files_are_reported_not_raised(tmp_path, jobs):
    src = replicated_cohort(tmp_path / "c", copies=1)
    (src / "mrd.csv").write_bytes(b"\x00\x01\x02binary")
    (src / "events.csv").rename(src / "events.parquet")  # CSV text under a Parquet name
    part = partition_cohort(src, tmp_path / "b", buckets=2, jobs=jobs)
    assert {i["table"] for i in part.file_issues} == {"mrd", "events"}
    assert "mrd" not in part.tables and "events" not in part.tables
    assert Partition.load(tmp_path / "b").file_issues == part.file_issues


def test_a_bad_row_holding_the_latest_date_gives_the_in_memory_cut(tmp_path):
    """The pass takes the latest date of any row; when that row has a cell error the buckets run
    again with the validator's cut: validate and analyze --exclude-invalid equal the in-memory run."""
    from mrdtrack.commands.analyze import run_analyze
    from mrdtrack.executors.partitioned import validate_partitioned

    src = replicated_cohort(tmp_path / "c", copies=2)
    with (src / "labs.csv").open("a") as f:
        f.write("P01,2031-01-01,serum_m_protein,1.0,furlongs\n")  # latest date, unknown unit
    memory = read_cohort(src)
    issues, counts = validate_partitioned(src, buckets=3, jobs=1)
    assert issues["message"].tolist() == memory.issues["message"].tolist()
    assert counts == memory.counts
    for partitions in (0, 3):
        run_analyze(src, tmp_path / f"out{partitions}", exclude_invalid=True, jobs=1, partitions=partitions)
    for name in ("assessments.csv", "mrd.csv", "patients.csv", "issues.csv", "summary.json"):
        assert (tmp_path / "out0" / name).read_bytes() == (tmp_path / "out3" / name).read_bytes(), name
    assert '"data_cut": "2031-01-01"' not in (tmp_path / "out3" / "summary.json").read_text()
