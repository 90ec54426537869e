"""Every validation rule of docs/data-contract.md: a file that breaks it and the exact message.

The broken cohorts live in examples/broken/ (written by examples/make_broken.py from one tiny
valid cohort); the exit codes come from ``mrdtrack validate`` through typer's CliRunner.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.io.read import read_cohort, validate_tables

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "examples" / "broken"
EXAMPLE = ROOT / "examples" / "cohort"

# case -> (file, row, column, value, message) of the one expected issue (row None = file-level)
EXPECTED = {
    "missing_file": ("events.csv", None, None, None, "required table 'events' is missing"),
    "missing_column": ("mrd.csv", None, None, None,
                       "required column 'lod' is missing (found: patient_id, date, method, result)"),
    "not_a_number": ("labs.csv", 5, "value", "abc", "value 'abc' is not a number"),
    "unknown_category": ("mrd.csv", 3, "method", "PCR", "unknown value 'PCR' for method (accepted: NGF, MFC, NGS, other)"),
    "unknown_test": ("labs.csv", 7, "test", "ldh", "unknown test 'ldh' (accepted: serum_m_protein, urine_m_protein, "
                     "flc_kappa, flc_lambda, serum_ife, urine_ife, bm_plasma_cells, bm_clonality, plasmacytoma_spd, "
                     "new_lesion)"),
    "unknown_unit": ("labs.csv", 7, "unit", "mmol/L", "unknown unit 'mmol/L' for serum_m_protein (accepted: g/dL, g/L)"),
    "missing_unit": ("labs.csv", 7, "unit", None, "unit missing for serum_m_protein (accepted: g/dL, g/L)"),
    "out_of_range": ("mrd.csv", 3, "lod", "0.05", "value 0.05 is out of range for lod (must be > 0 and <= 0.01)"),
    "negative_lab": ("labs.csv", 5, "value", "-0.5", "value -0.5 is out of range for serum_m_protein (must be >= 0)"),
    "impossible_date": ("patients.csv", 3, "diagnosis_date", "2021-02-30", "date '2021-02-30' does not exist"),
    "unparseable_date": ("events.csv", 2, "date", "June 2021", "value 'June 2021' is not a date (expected YYYY-MM-DD)"),
    "orphan_patient": ("labs.csv", 8, "patient_id", "P9", "patient_id 'P9' is not in patients"),
    "detected_without_level": ("mrd.csv", 2, "level", None, "level missing: result is 'detected'"),
    "end_before_start": ("treatments.csv", 5, "end_date", "2020-02-01",
                         "end_date 2020-02-01 is before start_date 2020-03-15"),
    "after_death": ("events.csv", 4, "date", "2021-07-01", "date 2021-07-01 is after death on 2021-05-01"),
    "before_diagnosis": ("labs.csv", 8, "date", "2019-06-01",
                         "date 2019-06-01 is more than 90 days before diagnosis_date 2020-03-01"),
    "light_chain_missing": ("patients.csv", 2, "light_chain", None, "light_chain is missing but the patient has FLC results"),
    "missing_required_value": ("events.csv", 2, "event", None, "required value is missing"),
    "semicolon_delimiter": ("patients.csv", None, None, None,
                            "file uses ';' as the delimiter; expected ',' (comma-separated values)"),
    "binary_junk": ("mrd.csv", None, None, None, "file is not a text CSV file (binary content)"),
    "empty_file": ("events.csv", None, None, None, "file is empty (no header row)"),
    "not_utf8": ("patients.csv", None, None, None,
                 "file is not UTF-8 text (invalid byte 0xf4 on line 2); save it as UTF-8"),
    "ragged_line": ("labs.csv", 3, None, "P1,2020-01-20,flc_kappa,150,mg/L,extra", "line 3 has 6 fields, the header has 5"),
    "huge_field": ("events.csv", 3, "detail", "x" * 50 + "...", "value is too long (100000 characters; at most 10000)"),
}

# cases whose rule names two rows: (file, rows, column, message)
PAIRS = {
    "duplicate_patient": ("patients.csv", [2, 4], "patient_id", "duplicate patient_id 'P1' (rows 2, 4)"),
    "conflicting_lab": ("labs.csv", [5, 8], "value", "conflicting serum_m_protein results on 2020-05-01 (rows 5, 8)"),
    "two_maintenance": ("treatments.csv", [4, 7], "phase",
                        "more than one first-line maintenance row for this patient (rows 4, 7)"),
}


def _none(v):
    return None if v is None or pd.isna(v) else v


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_rule_gives_its_exact_message(case):
    res = read_cohort(BROKEN / case)
    assert res.cohort is None
    assert len(res.issues) == 1, res.issues.to_dict("records")
    got = res.issues.iloc[0]
    file, row, column, value, message = EXPECTED[case]
    assert got["severity"] == "error"
    assert (got["file"], _none(got["row"]), got["column"], got["value"], got["message"]) == \
        (file, row, column, value, message)


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_rules_on_two_rows_name_both(case):
    res = read_cohort(BROKEN / case)
    file, rows, column, message = PAIRS[case]
    assert res.cohort is None
    assert list(res.issues["row"]) == rows
    assert set(res.issues["message"]) == {message}
    assert set(res.issues["column"]) == {column} and set(res.issues["file"]) == {file}


def test_exact_duplicate_is_a_warning_counted_once():
    res = read_cohort(BROKEN / "exact_duplicate")
    assert res.cohort is not None
    assert res.issues[["severity", "row", "message"]].values.tolist() == [
        ["warning", 8, "exact duplicate row (rows 5, 8): counted once"]]
    assert res.counts["labs"] == {"rows_in": 7, "rows_used": 6, "rows_excluded": 1}
    assert len(res.cohort.labs) == 6


def test_the_example_cohort_is_valid():
    res = read_cohort(EXAMPLE)
    assert res.issues.empty
    assert res.counts["patients_used"] == res.counts["patients_in"] == 6


def test_all_problems_are_collected_in_one_run():
    raw = {n: pd.read_csv(BROKEN / "not_a_number" / f"{n}.csv", dtype=str, keep_default_na=False)
           for n in ("patients", "treatments", "labs", "mrd", "events")}
    raw["labs"].loc[0, "unit"] = "mmol/L"
    raw["mrd"].loc[1, "method"] = "PCR"
    raw["patients"].loc[1, "sex"] = "X"
    res = validate_tables(raw)
    assert sorted(res.issues["message"]) == sorted([
        "value 'abc' is not a number",
        "unknown unit 'mmol/L' for serum_m_protein (accepted: g/dL, g/L)",
        "unknown value 'PCR' for method (accepted: NGF, MFC, NGS, other)",
        "unknown value 'X' for sex (accepted: F, M, U)",
    ])


def test_exclude_invalid_drops_rows_and_lists_them():
    res = read_cohort(BROKEN / "not_a_number", exclude_invalid=True)
    assert res.cohort is not None
    assert res.issues[["severity", "row", "message"]].values.tolist() == [
        ["excluded", 5, "value 'abc' is not a number"]]
    assert res.counts["labs"] == {"rows_in": 6, "rows_used": 5, "rows_excluded": 1}
    assert 5 not in set(res.cohort.labs["row"])


def test_exclude_invalid_leaves_out_a_broken_patient_everywhere():
    res = read_cohort(BROKEN / "impossible_date", exclude_invalid=True)
    c = res.cohort
    assert c is not None
    for name in ("patients", "treatments", "labs", "mrd", "events"):
        assert "P2" not in set(c.table(name)["patient_id"]), name
    assert res.counts["patients_excluded"] == 1 and res.counts["patients_used"] == 1
    per_table = res.issues[res.issues["row"].isna()]
    assert set(per_table["table"]) == {"treatments", "labs", "mrd", "events"}
    assert set(per_table["severity"]) == {"excluded"}
    assert "patient left out (error in its patients row): 2 row(s) of labs not used" in set(per_table["message"])
    for name in ("treatments", "labs", "mrd", "events"):  # counts in = used + excluded
        k = res.counts[name]
        assert k["rows_in"] == k["rows_used"] + k["rows_excluded"]


def test_exclude_invalid_duplicate_patient_and_two_maintenance_leave_the_patient_out():
    for case in ("duplicate_patient", "two_maintenance"):
        res = read_cohort(BROKEN / case, exclude_invalid=True)
        assert list(res.cohort.patients["patient_id"]) == ["P2"], case
        assert (res.issues["severity"] == "excluded").all()


def test_file_level_errors_stop_even_with_exclude_invalid():
    res = read_cohort(BROKEN / "missing_column", exclude_invalid=True)
    assert res.cohort is None and res.has_errors


def test_data_cut_excludes_later_rows_with_the_reason():
    res = read_cohort(EXAMPLE, data_cut="2020-12-31")
    c = res.cohort
    assert c.data_cut == pd.Timestamp("2020-12-31")
    assert c.labs["date"].max() <= pd.Timestamp("2020-12-31")
    ex = res.issues[res.issues["severity"] == "excluded"]
    assert len(ex) == res.counts["labs"]["rows_excluded"] + res.counts["mrd"]["rows_excluded"] \
        + res.counts["events"]["rows_excluded"] + res.counts["imaging"]["rows_excluded"] \
        + res.counts["responses"]["rows_excluded"] + res.counts["treatments"]["rows_excluded"]
    first = ex[ex["table"] == "labs"].iloc[0]
    assert first["message"] == f"dated {first['value']}, after the data cut 2020-12-31: not used"
    # an end_date after the cut: the phase is ongoing at the cut (warning), end_reason cleared
    p06 = c.treatments[(c.treatments["patient_id"] == "P06") & (c.treatments["phase"] == "later_line")].iloc[0]
    assert pd.isna(p06["end_date"]) and p06["end_reason"] is None
    warn = res.issues[res.issues["severity"] == "warning"]
    assert list(warn["message"]) == ["end_date 2021-04-10 is after the data cut 2020-12-31: the phase is treated as "
                                     "ongoing at the data cut"]


def test_default_data_cut_is_the_latest_date():
    assert read_cohort(EXAMPLE).cohort.data_cut == pd.Timestamp("2023-06-10")


def test_diagnosis_after_the_data_cut_leaves_the_patient_out():
    res = read_cohort(EXAMPLE, data_cut="2018-12-31")
    assert "P05" not in set(res.cohort.patients["patient_id"])
    msg = res.issues[(res.issues["table"] == "patients") & (res.issues["patient_id"] == "P05")]["message"]
    assert list(msg) == ["diagnosis_date 2019-01-20 is after the data cut 2018-12-31: patient not used"]


def test_units_are_normalised():
    c = read_cohort(EXAMPLE).cohort
    labs = c.labs.set_index(["patient_id", "date", "test"])
    assert labs.loc[("P04", pd.Timestamp("2018-09-08"), "serum_m_protein"), "value_num"] == pytest.approx(4.1)
    assert labs.loc[("P03", pd.Timestamp("2019-02-10"), "flc_lambda"), "value_num"] == pytest.approx(28.0)
    assert labs.loc[("P05", pd.Timestamp("2019-04-01"), "urine_m_protein"), "value_num"] == pytest.approx(300.0)
    assert set(c.labs["unit"].dropna()) == {"g/dL", "mg/24h", "mg/L", "%", "cm2"}
    ife = c.labs[c.labs["test"] == "serum_ife"]
    assert ife["value_num"].isna().all() and set(ife["value_text"]) == {"positive", "negative"}


def test_bad_data_cut_argument_is_a_user_error():
    from mrdtrack.errors import UserError

    with pytest.raises(UserError, match="data cut '2020-13-01' is not a date"):
        read_cohort(EXAMPLE, data_cut="2020-13-01")


# --------------------------------------------------------------------------------------------- CLI
runner = CliRunner()


def test_cli_valid_cohort_exits_0():
    r = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert r.exit_code == 0, r.output
    assert "0 errors, 0 warnings, 0 excluded in 6 patients: cohort is valid" in r.output


def test_cli_errors_exit_2_with_the_problem_table():
    r = runner.invoke(app, ["validate", str(BROKEN / "unknown_unit")])
    assert r.exit_code == 2
    assert "mmol/L" in r.output and "1 error, 0 warnings" in r.output


def test_cli_warnings_alone_exit_0():
    r = runner.invoke(app, ["validate", str(BROKEN / "exact_duplicate")])
    assert r.exit_code == 0
    assert "0 errors, 1 warning" in r.output


def test_cli_csv_and_json_formats():
    r = runner.invoke(app, ["validate", str(BROKEN / "conflicting_lab"), "--format", "csv"])
    assert r.exit_code == 2
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "file,row,column,value,message,severity,code"
    assert lines[1] == ("labs.csv,5,value,0.5,\"conflicting serum_m_protein results on 2020-05-01 (rows 5, 8)\","
                        "error,LAB_CONFLICT")
    r = runner.invoke(app, ["validate", str(BROKEN / "orphan_patient"), "--format", "json"])
    doc = json.loads(r.stdout)
    assert doc["issues"][0]["row"] == 8 and doc["issues"][0]["patient_id"] == "P9"
    assert doc["issues"][0]["code"] == "ORPHAN_PATIENT_ID"
    assert r.exit_code == 2


def test_cli_argument_errors_exit_2():
    assert runner.invoke(app, ["validate", str(ROOT / "no-such-cohort")]).exit_code == 2
    assert runner.invoke(app, ["validate", str(EXAMPLE), "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["validate", str(EXAMPLE), "--data-cut", "soon"]).exit_code == 2


def test_cli_help_has_an_example():
    r = runner.invoke(app, ["validate", "--help"])
    assert r.exit_code == 0 and "Example: mrdtrack validate" in r.output


def test_data_model_doc_is_generated_from_the_contract():
    from mrdtrack.contract import data_model_markdown

    assert (ROOT / "docs" / "data-model.md").read_text(encoding="utf-8") == data_model_markdown()


def _base_raw():
    return {n: pd.read_csv(BROKEN / "exact_duplicate" / f"{n}.csv", dtype=str, keep_default_na=False)
            for n in ("patients", "treatments", "labs", "mrd", "events")}


def test_integer_and_number_type_messages():
    raw = _base_raw()
    raw["mrd"].loc[0, "cells_analyzed"] = "1.5"
    raw["patients"].loc[0, "age_at_diagnosis"] = "sixty"
    res = validate_tables(raw)
    got = res.issues[res.issues["severity"] == "error"][["file", "row", "column", "message"]].values.tolist()
    assert got == [["patients", 2, "age_at_diagnosis", "value 'sixty' is not a number"],
                   ["mrd", 2, "cells_analyzed", "value '1.5' is not a whole number"]]


def test_units_match_whatever_their_case():
    raw = _base_raw()
    raw["labs"].loc[0, ["value", "unit"]] = ["30", "G/L"]
    res = validate_tables(raw)
    assert not res.has_errors
    assert res.cohort.labs.loc[0, ["value_num", "unit"]].tolist() == [pytest.approx(3.0), "g/dL"]


def test_exclude_invalid_lists_an_orphan_row_as_excluded():
    res = read_cohort(BROKEN / "orphan_patient", exclude_invalid=True)
    assert res.issues[["severity", "row", "message"]].values.tolist() == [
        ["excluded", 8, "patient_id 'P9' is not in patients"]]
    assert "P9" not in set(res.cohort.labs["patient_id"])


@pytest.mark.parametrize("chars,reported", [(10_000, False), (10_001, True)])
def test_cell_length_counts_characters_not_bytes(tmp_path, chars, reported):
    """A cell of 10,000 two-byte characters (20,000 bytes) is within the limit; one more is not
    (the quick test on bytes decides only when no cell has more bytes than the limit)."""
    import shutil

    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLE, cohort)
    events = pd.read_csv(cohort / "events.csv", dtype=str, keep_default_na=False)
    events.loc[0, "detail"] = "é" * chars
    events.to_csv(cohort / "events.csv", index=False)
    res = read_cohort(cohort)
    long = res.issues[res.issues["code"] == "CELL_TOO_LONG"]
    assert len(long) == int(reported)
    if reported:
        assert long.iloc[0]["message"] == f"value is too long ({chars} characters; at most 10000)"
