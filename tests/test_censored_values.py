"""Censored lab values ('<0.1', '<= 0.1') in the contract's readers (docs/data-model.md "Censored values"):
the same rule as OMOP's operator_concept_id (tests/test_importers_facts.py)."""

import pandas as pd
import pytest

from mrdtrack.io.read import validate_tables
from omop_fixtures import example_tables


def _with_lab(value: str, test: str, unit: str):
    tables = example_tables()
    extra = pd.DataFrame([{"patient_id": "P01", "date": "2019-03-01", "test": test, "value": value, "unit": unit}])
    return {**tables, "labs": pd.concat([tables["labs"], extra], ignore_index=True)}


@pytest.mark.parametrize("value, test, unit, code, severity, read_as", [
    ("<0.1", "serum_m_protein", "g/dL", "LAB_CENSORED_ZERO", "warning", 0.0),
    ("<= 0.1", "urine_m_protein", "mg/24h", "LAB_CENSORED_ZERO", "warning", 0.0),
    ("< 3.3", "flc_kappa", "mg/L", "LAB_CENSORED_AT_LIMIT", "warning", 3.3),
    ("≤0.2", "flc_lambda", "mg/dL", "LAB_CENSORED_AT_LIMIT", "warning", 2.0),
    ("<5", "bm_plasma_cells", "%", "LAB_CENSORED_NOT_ALLOWED", "error", None),
])
def test_censored_lab_values(value, test, unit, code, severity, read_as):
    res = validate_tables(_with_lab(value, test, unit), exclude_invalid=True)
    lines = res.issues[res.issues["code"] == code]
    assert len(lines) == 1 and value in lines["message"].iloc[0]
    assert lines["severity"].iloc[0] == ("excluded" if severity == "error" else severity)
    labs = res.cohort.labs
    row = labs[(labs["patient_id"] == "P01") & (labs["date"] == pd.Timestamp("2019-03-01")) & (labs["test"] == test)]
    if read_as is None:
        assert row.empty
    else:
        assert row["value_num"].tolist() == [pytest.approx(read_as)]


def test_text_that_only_looks_censored_is_still_an_error():
    res = validate_tables(_with_lab("<abc", "serum_m_protein", "g/dL"))
    assert (res.issues["code"] == "LAB_INVALID_VALUE").any()
