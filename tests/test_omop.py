"""OMOP CDM sources (docs/omop.md): the same analysis as the contract folder they came from, and
clear errors. DuckDB file and folders of tables here; PostgreSQL in test_omop_postgres.py."""

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.importers.omop.write import write_duckdb, write_folder
from mrdtrack.simulate import simulate_cohort
from omop_fixtures import differing, example_tables, omop_of, with_extra_rows, write_contract_with_person_ids

runner = CliRunner()
#: patients.csv columns that follow the therapy phases (a drugs-only source cannot show a recorded
#: gap between phases, nor a maintenance shorter than maintenance_min_days: docs/phases-from-drugs.md)
PHASE_DEPENDENT = {"maintenance_start", "maintenance_end", "response_at_maintenance_start", "deepest_during_maintenance",
                   "mrd_entry_status", "mrd_converted", "mrd_kinetics", "mrd_trend", "months_to_mrd_negative",
                   "mrd_log10_slope_per_year", "pfs_months", "pfs_days", "pfs_event", "os_months", "os_days", "os_event",
                   "in_maintenance_cohort", "landmark_12_trend", "landmark_24_trend", "entry_date", "phase"}


def analyze(cohort, out: Path, *extra) -> Path:
    res = runner.invoke(app, ["analyze", str(cohort), "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    root = tmp_path_factory.mktemp("omop_example")
    tables = example_tables()
    contract = write_contract_with_person_ids(tables, root / "contract")
    omop = omop_of(tables)
    return {"root": root, "omop": omop, "reference": analyze(contract, root / "out_contract")}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """2,000 simulated patients: contract folder (person ids) analysed once, and the cohort as OMOP."""
    root = tmp_path_factory.mktemp("omop_sim")
    tables = simulate_cohort(2000, 11, "default").tables
    contract = write_contract_with_person_ids(tables, root / "contract")
    return {"root": root, "tables": tables, "omop": omop_of(tables),
            "reference": analyze(contract, root / "out_contract")}


@pytest.mark.parametrize("form", ["duckdb", "csv-folder", "parquet-folder"])
def test_example_cohort_as_omop_gives_identical_outputs(example, form, tmp_path):
    if form == "duckdb":
        source = write_duckdb(example["omop"], tmp_path / "cdm.duckdb")
    else:
        source = tmp_path / "omop"
        write_folder(example["omop"], source, form.split("-")[0])
    assert differing(example["reference"], analyze(source, tmp_path / "out")) == []


@pytest.mark.parametrize("form", ["duckdb", "csv-folder"])
def test_simulated_cohort_as_omop_gives_identical_outputs(simulated, form, tmp_path):
    if form == "duckdb":
        source = write_duckdb(simulated["omop"], tmp_path / "cdm.duckdb")
    else:
        source = tmp_path / "omop"
        write_folder(simulated["omop"], source, "csv")
    assert differing(simulated["reference"], analyze(source, tmp_path / "out")) == []


def test_drugs_only_source_gives_the_same_responses_mrd_and_endpoints(tmp_path):
    tables = simulate_cohort(300, 5, "default").tables
    reference = analyze(write_contract_with_person_ids(tables, tmp_path / "contract"), tmp_path / "ref")
    source = write_duckdb(omop_of(tables, episodes=False), tmp_path / "drugs.duckdb")
    out = analyze(source, tmp_path / "out")
    for name in ("patients.csv", "assessments.csv", "mrd.csv"):
        a = pd.read_csv(reference / name, dtype=str, keep_default_na=False)
        b = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        same = [c for c in a.columns if c not in PHASE_DEPENDENT]
        pd.testing.assert_frame_equal(a[same], b[same])
    imported = pd.read_csv(out / "issues.csv")
    assert not (imported["severity"] == "error").any()


def test_import_then_analyze_is_identical_to_analyze_on_the_source(example, tmp_path):
    source = write_duckdb(example["omop"], tmp_path / "cdm.duckdb")
    res = runner.invoke(app, ["import", "omop", str(source), "--out", str(tmp_path / "imported")])
    assert res.exit_code == 0, res.output
    log = pd.read_csv(tmp_path / "imported" / "import_log.csv")
    assert {"code", "table", "record", "patient_id", "detail", "count"} <= set(log.columns)
    counts = log[log["code"].str.startswith("IMPORT_ROWS_")].set_index("code")["count"]
    assert counts["IMPORT_ROWS_IN"] == counts["IMPORT_ROWS_USED"] + counts["IMPORT_ROWS_NOT_USED"]
    a = analyze(source, tmp_path / "a")
    b = analyze(tmp_path / "imported", tmp_path / "b")
    assert differing(a, b) == []


def test_report_on_an_omop_duckdb_file_names_the_source(example, tmp_path):
    source = write_duckdb(example["omop"], tmp_path / "hospital_cdm.duckdb")
    res = runner.invoke(app, ["report", str(source), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    prov = json.loads((tmp_path / "rep" / "summary.json").read_text())["provenance"]
    assert prov["inputs"]["omop"]["path"].endswith("hospital_cdm.duckdb")
    assert "hospital_cdm" in (tmp_path / "rep" / "report.html").read_text()


def test_person_source_value_never_appears_in_any_output(example, tmp_path):
    source = write_duckdb(example["omop"], tmp_path / "cdm.duckdb")
    analyze(source, tmp_path / "out")
    runner.invoke(app, ["import", "omop", str(source), "--out", str(tmp_path / "imp"), "--format", "csv"])
    mrns = set(example["omop"]["person"]["person_source_value"])
    for f in list((tmp_path / "out").glob("*")) + list((tmp_path / "imp").glob("*")):
        text = f.read_text(errors="replace") if f.is_file() else ""
        assert not any(m in text for m in mrns), f


def test_unmapped_concepts_are_summarised_and_windows_count_rows(example, tmp_path):
    omop = with_extra_rows(example["omop"], "measurement", [
        {"person_id": 1, "measurement_concept_id": 3004410, "measurement_date": pd.Timestamp("2019-01-01"),
         "value_as_number": 6.1, "measurement_source_value": "HBA1C"},
        {"person_id": 1, "measurement_concept_id": 3004410, "measurement_date": pd.Timestamp("2019-02-01"),
         "value_as_number": 6.3, "measurement_source_value": "HBA1C"},
        {"person_id": 1, "measurement_concept_id": 0, "measurement_date": pd.Timestamp("2010-01-01"),
         "value_as_number": 1.0, "measurement_source_value": "mrd_ngs", "unit_source_value": "%"}])
    source = write_duckdb(omop, tmp_path / "cdm.duckdb")
    res = runner.invoke(app, ["import", "omop", str(source), "--out", str(tmp_path / "imp")])
    assert res.exit_code == 0, res.output
    log = pd.read_csv(tmp_path / "imp" / "import_log.csv")
    unmapped = log[log["code"] == "UNMAPPED_CONCEPT"]
    assert unmapped["count"].tolist() == [2] and "HBA1C" in unmapped["detail"].iloc[0]
    window = log[log["code"] == "OUT_OF_WINDOW"]
    assert window["count"].sum() == 1 and "before diagnosis" in window["detail"].iloc[0]
    out = analyze(source, tmp_path / "out")
    issues = pd.read_csv(out / "issues.csv")
    assert "UNMAPPED_CONCEPT" in set(issues.get("code", issues["value"].astype(str)).astype(str)) or \
        issues["message"].str.contains("HBA1C").any()
    assert differing(example["reference"], out) == []  # the extra rows change nothing


def test_rows_that_cannot_be_converted_stop_the_run_unless_excluded(example, tmp_path):
    omop = with_extra_rows(example["omop"], "measurement", [
        {"person_id": 2, "measurement_concept_id": 0, "measurement_date": pd.Timestamp("2019-03-03"),
         "value_as_number": 40.0, "measurement_source_value": "plasmacytoma_spd"}])  # numeric, no unit
    source = write_duckdb(omop, tmp_path / "cdm.duckdb")
    res = runner.invoke(app, ["analyze", str(source), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2 and "IMPORT_NO_UNIT" in res.output or "no unit" in res.output
    res = runner.invoke(app, ["analyze", str(source), "--out", str(tmp_path / "o2"), "--exclude-invalid"])
    assert res.exit_code == 0, res.output
    issues = pd.read_csv(tmp_path / "o2" / "issues.csv")
    row = issues[issues["message"].str.contains("no unit", na=False)]
    assert len(row) == 1 and row["severity"].iloc[0] == "excluded" and row["table"].iloc[0] == "measurement"


def test_future_dates_never_set_the_data_cut(example, tmp_path):
    omop = with_extra_rows(example["omop"], "observation_period", [
        {"person_id": 3, "observation_period_start_date": pd.Timestamp("2018-06-10"),
         "observation_period_end_date": pd.Timestamp("2199-01-01"), "period_type_concept_id": 32817}])
    source = write_duckdb(omop, tmp_path / "cdm.duckdb")
    assert differing(example["reference"], analyze(source, tmp_path / "out")) == []


def test_cohort_id_selects_the_persons(example, tmp_path):
    omop = {**example["omop"], "cohort": pd.DataFrame({"cohort_definition_id": [7, 7], "subject_id": [1, 3],
                                                        "cohort_start_date": pd.Timestamp("2018-01-01"),
                                                        "cohort_end_date": pd.NaT})}
    source = write_duckdb(omop, tmp_path / "cdm.duckdb")
    out = analyze(source, tmp_path / "out", "--omop-cohort-id", "7")
    assert pd.read_csv(out / "patients.csv")["patient_id"].tolist() == [1, 3]


def test_mapping_file_replaces_a_key(example, tmp_path):
    omop = example["omop"]
    meas = omop["measurement"].copy()
    meas.loc[meas["measurement_source_value"] == "mrd_ngs", "measurement_source_value"] = "CLONOSEQ"
    source = write_duckdb({**omop, "measurement": meas}, tmp_path / "cdm.duckdb")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[mrd]\nNGS = { source_value = ["clonoseq"] }\n')
    assert differing(example["reference"], analyze(source, tmp_path / "out", "--mapping", str(mapping))) == []


@pytest.mark.parametrize("case", ["missing-table", "missing-schema", "not-a-database", "no-person"])
def test_bad_sources_fail_with_one_clear_line(example, tmp_path, case):
    path = tmp_path / "cdm.duckdb"
    extra = []
    if case == "missing-table":
        write_duckdb({k: v for k, v in example["omop"].items() if k != "measurement"}, path)
        words = "missing: main.measurement"
    elif case == "missing-schema":
        write_duckdb(example["omop"], path)
        extra, words = ["--omop-schema", "cdm54"], "schema 'cdm54' not found"
    elif case == "not-a-database":
        path.write_text("hello")
        words = "cannot open as a DuckDB database"
    else:
        con = duckdb.connect(str(path))
        con.execute("CREATE TABLE other (x INTEGER)")
        con.close()
        words = "no schema holds an OMOP 'person' table"
    res = runner.invoke(app, ["analyze", str(path), "--out", str(tmp_path / "o"), *extra])
    assert res.exit_code == 2
    assert words in " ".join(res.output.split()) and "Traceback" not in res.output


def test_simulate_writes_omop_files(tmp_path):
    res = runner.invoke(app, ["simulate", "--n", "30", "--seed", "1", "--out", str(tmp_path / "c.duckdb"),
                              "--format", "omop"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["simulate", "--n", "30", "--seed", "1", "--out", str(tmp_path / "f"),
                              "--format", "omop-folder", "--omop-therapy", "drugs"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "drug_exposure.parquet").exists()
    a, b = analyze(tmp_path / "c.duckdb", tmp_path / "a"), analyze(tmp_path / "f", tmp_path / "b")
    assert len(pd.read_csv(a / "patients.csv")) == len(pd.read_csv(b / "patients.csv")) == 30
    shutil.rmtree(tmp_path / "f")


def test_a_decimal_column_that_rounds_mrd_levels_gives_a_warning(example, tmp_path):
    path = write_duckdb(example["omop"], tmp_path / "cdm.duckdb")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE measurement ALTER value_as_number TYPE DECIMAL(18, 3)")
    con.close()
    res = runner.invoke(app, ["import", "omop", str(path), "--out", str(tmp_path / "imp")])
    assert res.exit_code == 0, res.output
    log = pd.read_csv(tmp_path / "imp" / "import_log.csv")
    line = log[log["code"] == "DECIMAL_ROUNDS_VALUES"]
    assert len(line) == 1 and "3 decimal" in line["detail"].iloc[0]


def test_second_primary_malignancies_by_icd10_and_snomed(example, tmp_path):
    """An spm event from condition_occurrence: an ICD-10 C code other than C90 and C77-C80, or the SNOMED
    malignant-neoplasm concept, after diagnosis (person 1 diagnosed 2018-01-15)."""
    omop = with_extra_rows(example["omop"], "condition_occurrence", [
        {"person_id": 1, "condition_concept_id": 0, "condition_start_date": pd.Timestamp("2021-03-01"),
         "condition_type_concept_id": 32817, "condition_source_value": "C34.9"},   # lung: a second primary
        {"person_id": 1, "condition_concept_id": 0, "condition_start_date": pd.Timestamp("2021-04-01"),
         "condition_type_concept_id": 32817, "condition_source_value": "C79.5"},   # a bone metastasis: not
        {"person_id": 1, "condition_concept_id": 0, "condition_start_date": pd.Timestamp("2017-06-01"),
         "condition_type_concept_id": 32817, "condition_source_value": "C50.9"},   # before diagnosis: not
    ])
    source = write_duckdb(omop, tmp_path / "cdm.duckdb")
    res = runner.invoke(app, ["import", "omop", str(source), "--out", str(tmp_path / "imp"), "--format", "csv"])
    assert res.exit_code == 0, res.output
    events = pd.read_csv(tmp_path / "imp" / "events.csv", dtype=str)
    spm = events[(events["event"] == "spm") & (events["patient_id"] == "1")]
    reference = example_tables()["events"]
    expected = {"2021-03-01"} | set(reference.loc[(reference["event"] == "spm")
                                                  & (reference["patient_id"] == "P01"), "date"].astype(str))
    assert set(spm["date"]) == expected
