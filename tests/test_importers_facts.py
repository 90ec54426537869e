"""Facts -> contract rows: one small vignette per rule (docs/omop.md "Units and values", "MRD samples")."""

import pandas as pd
import pytest

from mrdtrack.importers.facts import FACT_COLUMNS, facts_to_contract
from mrdtrack.importers.mapping import DEFAULT_MAPPING, Mapping, Selector


def facts(*rows, **defaults) -> pd.DataFrame:
    base = dict(patient_id="1", date="2020-01-01", loinc=None, concept_id=None, source_concept_id=None,
                source_values=None, value_number=None, operator=None, unit=None, value_code=None,
                value_text=None, range_low=None)
    out = []
    for i, r in enumerate(rows):
        out.append({**base, **defaults, "record": f"measurement:{i + 1}", **r})
    df = pd.DataFrame(out, columns=FACT_COLUMNS)
    df["date"] = pd.to_datetime(df["date"])
    for c in ("concept_id", "source_concept_id"):
        df[c] = df[c].astype("Int64")
    for c in ("value_number", "range_low"):
        df[c] = df[c].astype("float64")
    return df


def codes(result) -> list:
    return sorted(result.log["code"])


def test_first_listed_loinc_wins_on_one_date():
    r = facts_to_contract(facts({"loinc": "51435-6", "value_number": 1.5, "unit": "g/dL"},
                                {"loinc": "33358-3", "value_number": 1.2, "unit": "g/dL"},
                                {"loinc": "51435-6", "value_number": 1.4, "unit": "g/dL", "date": "2020-02-01"}),
                          DEFAULT_MAPPING)
    assert r.labs["value"].tolist() == ["1.2", "1.4"]  # text, as a contract file holds it
    assert codes(r) == ["IMPORT_LATER_CODE_SAME_DATE"]


def test_equal_values_collapse_to_one_row():
    r = facts_to_contract(facts({"loinc": "36916-5", "value_number": 20.0, "unit": "mg/L"},
                                {"loinc": "36916-5", "value_number": 20.0, "unit": "mg/L"}), DEFAULT_MAPPING)
    assert len(r.labs) == 1


def test_concept_id_and_source_value_selectors():
    m = Mapping(labs={"flc_kappa": Selector(concept_id=(3001,)), "flc_lambda": Selector(source_value=("LAMBDA",))})
    r = facts_to_contract(facts({"source_concept_id": 3001, "value_number": 10.0, "unit": "mg/L"},
                                {"source_values": "x| lambda ", "value_number": 5.0, "unit": "mg/L"}), m)
    assert r.labs["test"].tolist() == ["flc_kappa", "flc_lambda"]


def test_ucum_units_become_contract_units():
    r = facts_to_contract(facts({"loinc": "42482-0", "value_number": 40.0, "unit": "mg/(24.h)"}), DEFAULT_MAPPING)
    assert r.labs["unit"].tolist() == ["mg/24h"]


def test_numeric_result_without_unit_is_an_error_row():
    r = facts_to_contract(facts({"loinc": "42482-0", "value_number": 40.0}), DEFAULT_MAPPING)
    assert r.labs.empty and codes(r) == ["IMPORT_NO_UNIT"]
    assert r.log["record"].tolist() == ["1"] and r.log["table"].tolist() == ["measurement"]


@pytest.mark.parametrize("loinc, op, value, code, severity", [
    ("33358-3", "<", 0.0, "LAB_CENSORED_ZERO", "warning"),         # M-protein below quantification = 0
    ("36916-5", "<=", 3.3, "LAB_CENSORED_AT_LIMIT", "warning"),  # FLC = the limit, with a warning
    ("11118-7", "<", None, "LAB_CENSORED_NOT_ALLOWED", "error"),  # other tests: error
])
def test_censored_values(loinc, op, value, code, severity):
    unit = {"33358-3": "g/dL", "36916-5": "mg/L", "11118-7": "%"}[loinc]
    r = facts_to_contract(facts({"loinc": loinc, "value_number": 3.3 if loinc != "33358-3" else 0.1,
                                 "operator": op, "unit": unit}), DEFAULT_MAPPING)
    assert r.log["code"].tolist() == [code] and r.log["severity"].tolist() == [severity]
    assert "'<" in r.log["detail"].iloc[0]  # the original kept in the log
    assert (r.labs["value"].astype(float).tolist() == [value]) if value is not None else r.labs.empty


def test_categorical_answers():
    r = facts_to_contract(facts({"loinc": "25700-6", "value_code": "LA6577-6"},
                                {"source_values": "bm_clonality", "value_text": "Detected", "date": "2020-02-01"},
                                {"source_values": "new_lesion", "value_code": "LA6577-6"},
                                {"source_values": "new_lesion", "value_code": "LA6576-8", "date": "2020-03-01"},
                                {"loinc": "25700-6", "value_text": "maybe", "date": "2020-04-01"}), DEFAULT_MAPPING)
    assert r.labs[["test", "value"]].values.tolist() == [["serum_ife", "negative"], ["bm_clonality", "clonal"],
                                                         ["new_lesion", "yes"]]
    assert codes(r) == ["IMPORT_BAD_VALUE", "NEGATIVE_LESION_LEFT_OUT"]


def test_mrd_scale_result_and_lod():
    m = Mapping(mrd={"MFC": Selector(loinc=("93021-4",)), "NGS": Selector(source_value=("NGS",), lod=1e-6)})
    r = facts_to_contract(facts(
        {"loinc": "93021-4", "value_number": 0.001, "operator": "<", "unit": "%"},           # not detected, lod 1e-5
        {"loinc": "93021-4", "value_number": 0.05, "unit": "%", "range_low": 0.001, "date": "2020-02-01"},
        {"source_values": "NGS", "value_number": 0.0, "unit": "{fraction}", "date": "2020-03-01"},
        {"source_values": "NGS", "value_number": 2e-5, "unit": "mL", "date": "2020-04-01"},  # no scale
        {"loinc": "93021-4", "value_number": 0.05, "unit": "%", "date": "2020-05-01"}),      # no lod
        m)
    got = r.mrd[["method", "result", "lod", "level"]]
    assert got["result"].tolist() == ["not_detected", "detected", "not_detected"]
    assert got["lod"].tolist() == pytest.approx([1e-5, 1e-5, 1e-6])
    assert got["level"].iloc[1] == pytest.approx(5e-4)
    assert codes(r) == ["MRD_NO_LOD", "MRD_NO_SCALE"]


def test_patient_attributes_match_contract_words():
    r = facts_to_contract(facts({"source_values": "heavy_chain", "value_text": "igA", "table": "observation"},
                                {"source_values": "iss_stage", "value_text": "IV"}), DEFAULT_MAPPING)
    assert r.attributes.to_dict("records") == [{"patient_id": "1", "heavy_chain": "IgA"}]
    assert codes(r) == ["IMPORT_BAD_VALUE"]


def test_unmapped_concepts_are_summarised_with_counts():
    r = facts_to_contract(facts({"concept_id": 77, "loinc": "1-8", "value_number": 1.0},
                                {"concept_id": 77, "loinc": "1-8", "value_number": 2.0}), DEFAULT_MAPPING)
    assert r.log[["code", "count"]].values.tolist() == [["UNMAPPED_CONCEPT", 2]]
