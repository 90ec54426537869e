"""An OMOP source read in ranges of persons (docs/omop.md "Large sources") gives the same contract
tables and import log as one read of the whole cohort, and analyze through the partitioned
executor gives the in-memory outputs."""

import filecmp

import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.importers.omop.read import import_omop
from mrdtrack.importers.omop.write import write_duckdb
from mrdtrack.simulate import simulate_cohort
from omop_fixtures import omop_of, with_extra_rows

runner = CliRunner()
TODAY = pd.Timestamp("2026-11-30")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """120 simulated persons as OMOP, with rows the import must log: unmapped concepts in several
    ranges, a result before diagnosis, numeric results without a unit, a death-dated future visit."""
    omop = omop_of(simulate_cohort(120, 3, "default").tables)
    m = []
    for pid in (1, 9, 10, 57, 101, 118):
        m.append({"person_id": pid, "measurement_concept_id": 3004410, "measurement_date": pd.Timestamp("2019-01-01"),
                  "value_as_number": 6.1, "measurement_source_value": "HBA1C"})
    for pid in (3, 33, 100):
        m.append({"person_id": pid, "measurement_concept_id": 0, "measurement_date": pd.Timestamp("2001-01-01"),
                  "value_as_number": 1.0, "measurement_source_value": "mrd_ngs", "unit_source_value": "%"})
    for pid in (2, 44, 99, 120):
        m.append({"person_id": pid, "measurement_concept_id": 0, "measurement_date": pd.Timestamp("2019-03-03"),
                  "value_as_number": 40.0, "measurement_source_value": "plasmacytoma_spd"})
    m.append({"person_id": 77, "measurement_concept_id": 999, "measurement_date": pd.Timestamp("2019-03-03"),
              "value_as_number": 1.0, "measurement_source_value": "OTHER"})
    omop = with_extra_rows(omop, "measurement", m)
    meas = omop["measurement"]
    for pid in (88, 115):  # an impossible value the validator flags with its row (a later range's row)
        i = meas.index[(meas["person_id"] == pid) & meas["value_as_number"].gt(1)][0]
        meas.loc[i, "value_as_number"] = -5.0
    omop = with_extra_rows(omop, "observation_period", [
        {"person_id": 5, "observation_period_start_date": pd.Timestamp("2018-06-10"),
         "observation_period_end_date": pd.Timestamp("2199-01-01"), "period_type_concept_id": 32817}])
    root = tmp_path_factory.mktemp("omop_ranges")
    return write_duckdb(omop, root / "cdm.duckdb")


def test_drugs_only_source_in_ranges_gives_the_same_phases_and_decisions(tmp_path):
    source = write_duckdb(omop_of(simulate_cohort(60, 8, "default").tables, episodes=False), tmp_path / "drugs.duckdb")
    whole = import_omop(str(source), today=TODAY)
    ranged = import_omop(str(source), today=TODAY, persons_per_range=7)
    pd.testing.assert_frame_equal(ranged.tables["treatments"], whole.tables["treatments"])
    pd.testing.assert_frame_equal(ranged.log, whole.log)
    assert (whole.log["code"] == "DRUG_PERIOD").sum() > 7


@pytest.mark.parametrize("size", [7, 50])
def test_ranges_of_persons_give_the_same_tables_and_log(source, size):
    whole = import_omop(str(source), today=TODAY)
    ranged = import_omop(str(source), today=TODAY, persons_per_range=size)
    assert ranged.data_cut == whole.data_cut
    for name, df in whole.tables.items():
        pd.testing.assert_frame_equal(ranged.tables[name], df, obj=name)
    pd.testing.assert_frame_equal(ranged.log, whole.log)
    codes = set(whole.log["code"])
    assert {"UNMAPPED_CONCEPT", "OUT_OF_WINDOW", "IMPORT_NO_UNIT", "IMPORT_ROWS_IN"} <= codes
    no_unit = whole.log[whole.log["code"] == "IMPORT_NO_UNIT"]
    assert no_unit["table"].eq("measurement").all() and no_unit["record"].notna().all()
    assert no_unit["patient_id"].tolist() == ["120", "2", "44", "99"]  # patient_id text order, as the tables


def test_streamed_import_writes_the_same_folder_and_log(source, tmp_path):
    from mrdtrack.importers.omop.stream import stream_omop
    from mrdtrack.importers.source import SourceOptions

    whole = import_omop(str(source), today=TODAY)
    res = runner.invoke(app, ["import", "omop", str(source), "--out", str(tmp_path / "one")])
    assert res.exit_code == 2 or res.exit_code == 0, res.output
    stream_omop(str(source), SourceOptions(), tmp_path / "ranged", "parquet", today=TODAY, persons_per_range=7)
    stream_omop(str(source), SourceOptions(), tmp_path / "single", "parquet", today=TODAY, persons_per_range=None)
    for f in sorted(p.name for p in (tmp_path / "single").iterdir()):
        assert filecmp.cmp(tmp_path / "single" / f, tmp_path / "ranged" / f, shallow=False), f
    log = pd.read_csv(tmp_path / "ranged" / "import_log.csv", dtype=str, keep_default_na=False)
    assert len(log) == len(whole.log)


@pytest.mark.parametrize("extra", [[], ["--exclude-invalid"]])
def test_analyze_with_partitions_equals_in_memory(source, tmp_path, extra):
    ins = runner.invoke(app, ["analyze", str(source), "--out", str(tmp_path / "mem"), "--partitions", "0", *extra])
    part = runner.invoke(app, ["analyze", str(source), "--out", str(tmp_path / "part"), "--partitions", "3", *extra])
    assert ins.exit_code == part.exit_code, (ins.output, part.output)
    if not extra:
        assert ins.exit_code == 2 and "no unit" in ins.output
        assert part.output[part.output.index("┏"):] == ins.output[ins.output.index("┏"):]  # the same problems
        return
    for name in ("patients.csv", "assessments.csv", "mrd.csv", "issues.csv", "summary.json"):
        assert filecmp.cmp(tmp_path / "mem" / name, tmp_path / "part" / name, shallow=False), name


def test_validate_with_partitions_equals_in_memory(source):
    ins = runner.invoke(app, ["validate", str(source), "--partitions", "0", "--format", "csv"])
    part = runner.invoke(app, ["validate", str(source), "--partitions", "4", "--format", "csv"])
    assert ins.exit_code == part.exit_code and ins.stdout == part.stdout and "LAB_OUT_OF_RANGE" in ins.stdout
