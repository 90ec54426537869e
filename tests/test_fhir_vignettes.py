"""FHIR door, one vignette per rule (docs/fhir.md): tiny hand-written resources in, contract rows out."""

from __future__ import annotations

import pandas as pd
import pytest

from fhir_fixtures import LOINC, SNOMED, base, contact, lab, myeloma, patient, write_bulk, write_bundle
from mrdtrack.importers.fhir.convert import read_fhir

TODAY = "2030-01-01"


def read(folder, **kw):
    return read_fhir(folder, today=TODAY, **kw)


def codes(imp, code):
    return imp.log[imp.log["code"] == code]


# ------------------------------------------------------------------------------------ references
def test_patient_id_is_the_resource_id_never_an_identifier(tmp_path):
    imp = read(write_bulk(tmp_path, base("abc-1")))
    assert imp.tables["patients"]["patient_id"].tolist() == ["abc-1"]


def test_references_by_patient_id_absolute_url_and_urn_uuid(tmp_path):
    obs = [lab("o1", "33358-3", 2.0, "g/dL"),
           {**lab("o2", "33358-3", 1.5, "g/dL", date="2020-03-01"),
            "subject": {"reference": "https://ehr.example.org/fhir/Patient/p1/_history/3"}}]
    bulk = read(write_bulk(tmp_path / "bulk", base() + obs))
    bundle = read(write_bundle(tmp_path / "bundle", base() + obs))
    for imp in (bulk, bundle):
        labs = imp.tables["labs"]
        assert labs["date"].astype(str).tolist() == ["2020-02-01", "2020-03-01"]
        assert labs["value"].astype(float).tolist() == [2.0, 1.5]
    # the Bundle really used urn:uuid references
    assert b"urn:uuid:" in (tmp_path / "bundle" / "bundle.json").read_bytes()


def test_reference_to_a_missing_patient_is_listed_with_the_resource_id(tmp_path):
    imp = read(write_bulk(tmp_path, base() + [lab("o9", "33358-3", 2.0, "g/dL", pid="nobody")]))
    line = codes(imp, "FHIR_MISSING_REFERENCE")
    assert line[["table", "record"]].values.tolist() == [["Observation", "o9"]]
    assert "Patient/nobody" in line["detail"].iloc[0]
    assert imp.tables["labs"].empty


def _drug(rid, pid="p1", **kw):
    return {"resourceType": "MedicationAdministration", "id": rid, "status": "completed",
            "subject": {"reference": f"Patient/{pid}"}, **kw}


def test_medication_by_concept_contained_and_referenced(tmp_path):
    med = {"resourceType": "Medication", "id": "m-len", "code": {"coding": [{"display": "Lenalidomide 10 MG Oral Capsule"}]}}
    res = base() + [med,
                    _drug("d1", medicationCodeableConcept={"text": "Bortezomib 3.5 MG Injection"},
                          effectivePeriod={"start": "2020-01-20", "end": "2020-05-01"}),
                    _drug("d2", contained=[{"resourceType": "Medication", "id": "x",
                                            "code": {"text": "dexamethasone 40 mg"}}],
                          medicationReference={"reference": "#x"}, effectivePeriod={"start": "2020-01-20",
                                                                                    "end": "2020-05-01"}),
                    _drug("d3", medicationReference={"reference": "Medication/m-len"},
                          effectivePeriod={"start": "2020-01-20", "end": "2020-05-01"})]
    for imp in (read(write_bulk(tmp_path / "bulk", res)), read(write_bundle(tmp_path / "bundle", res))):
        tr = imp.tables["treatments"]
        assert tr[["phase", "regimen"]].values.tolist() == [["induction", "bortezomib+lenalidomide+dexamethasone"]]


def test_medication_reference_to_nothing_is_listed(tmp_path):
    imp = read(write_bulk(tmp_path, base() + [_drug("d1", medicationReference={"reference": "Medication/gone"},
                                                    effectiveDateTime="2020-02-01")]))
    line = codes(imp, "FHIR_MISSING_REFERENCE")
    assert line["record"].tolist() == ["d1"] and "Medication/gone" in line["detail"].iloc[0]


# ---------------------------------------------------------------------------------- observations
def test_observation_status_filter(tmp_path):
    obs = [lab("f", "33358-3", 2.0, "g/dL", status="final"), lab("a", "33358-3", 1.0, "g/dL", date="2020-03-01",
                                                                  status="amended"),
           lab("p", "33358-3", 9.0, "g/dL", date="2020-04-01", status="preliminary"),
           lab("e", "33358-3", 9.0, "g/dL", date="2020-05-01", status="entered-in-error")]
    imp = read(write_bulk(tmp_path, base() + obs))
    assert imp.tables["labs"]["value"].astype(float).tolist() == [2.0, 1.0]
    assert sorted(codes(imp, "FHIR_STATUS_IGNORED")["record"]) == ["e", "p"]


def test_effective_period_and_issued_dates(tmp_path):
    o1 = lab("o1", "33358-3", 2.0, "g/dL", date=None)
    del o1["effectiveDateTime"]
    o1["effectivePeriod"] = {"start": "2020-02-03T08:00:00+01:00", "end": "2020-02-04"}
    o2 = lab("o2", "33358-3", 1.0, "g/dL", date=None)
    del o2["effectiveDateTime"]
    o2["issued"] = "2020-03-05T23:59:00-05:00"
    imp = read(write_bulk(tmp_path, base() + [o1, o2]))
    # the date part as written, no time-zone conversion
    assert imp.tables["labs"]["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-02-03", "2020-03-05"]


def test_partial_and_missing_dates_are_listed_and_not_used(tmp_path):
    obs = [lab("y", "33358-3", 2.0, "g/dL", date="2020"), lab("ym", "33358-3", 2.0, "g/dL", date="2020-02"),
           {**lab("none", "33358-3", 2.0, "g/dL"), "effectiveDateTime": None}]
    imp = read(write_bulk(tmp_path, base() + obs))
    assert imp.tables["labs"].empty
    assert sorted(codes(imp, "FHIR_PARTIAL_DATE")["record"]) == ["y", "ym"]
    assert codes(imp, "FHIR_NO_DATE")["record"].tolist() == ["none"]


def test_comparator_censored_values(tmp_path):
    obs = [lab("m", "33358-3", 0.1, "g/dL", comparator="<"), lab("k", "36916-5", 3.0, "mg/L", comparator="<"),
           lab("l", "33944-0", 8.0, "mg/L")]
    imp = read(write_bulk(tmp_path, base() + obs))
    labs = imp.tables["labs"].set_index("test")
    assert float(labs.loc["serum_m_protein", "value"]) == 0  # below quantification = no measurable spike
    assert float(labs.loc["flc_kappa", "value"]) == 3.0  # FLC: the stated limit, with a warning
    assert {"LAB_CENSORED_ZERO", "LAB_CENSORED_AT_LIMIT"} <= set(imp.log["code"])


def test_unknown_unit_is_listed_with_the_resource_id(tmp_path):
    imp = read(write_bulk(tmp_path, base() + [lab("u", "33358-3", 2.0, None)]))
    assert codes(imp, "IMPORT_NO_UNIT")["record"].tolist() == ["u"]


@pytest.mark.parametrize(("value", "expected"), [
    ({"coding": [{"system": LOINC, "code": "LA6576-8"}]}, "positive"),
    ({"coding": [{"system": LOINC, "code": "LA11883-8"}]}, "negative"),
    ({"text": "Negative"}, "negative"),
    ({"coding": [{"system": "urn:local", "code": "X", "display": "Positive"}]}, "positive"),
])
def test_value_codeable_concept_answers(tmp_path, value, expected):
    o = {**lab("i", "25700-6"), "valueCodeableConcept": value}
    imp = read(write_bulk(tmp_path, base() + [o]))
    assert imp.tables["labs"][["test", "value"]].values.tolist() == [["serum_ife", expected]]


def test_value_string_and_patient_attributes(tmp_path):
    obs = [{**lab("c", "bm_clonality", system="urn:local"), "valueString": "polyclonal"},
           {**lab("h", "x", system="urn:local"), "code": {"text": "Heavy_Chain"}, "valueString": "IgA"}]
    imp = read(write_bulk(tmp_path, base() + obs))
    assert imp.tables["labs"][["test", "value"]].values.tolist() == [["bm_clonality", "polyclonal"]]
    assert imp.tables["patients"]["heavy_chain"].tolist() == ["IgA"]


def test_mrd_on_the_percent_and_the_fraction_scale(tmp_path):
    obs = [lab("pct", "93021-4", 0.02, "%", date="2020-06-01", referenceRange=[{"low": {"value": 0.001}}]),
           lab("pct0", "93021-4", 0.001, "%", date="2021-06-01", comparator="<"),
           {**lab("ngs", "mrd_ngs", 3e-5, "1", date="2020-06-02", system="urn:local"),
            "referenceRange": [{"low": {"value": 1e-6}}]}]
    imp = read(write_bulk(tmp_path, base() + obs))
    mrd = imp.tables["mrd"].sort_values("date")
    assert mrd[["method", "result"]].values.tolist() == [["MFC", "detected"], ["NGS", "detected"],
                                                         ["MFC", "not_detected"]]
    assert mrd["level"].iloc[0] == pytest.approx(2e-4) and mrd["lod"].iloc[0] == pytest.approx(1e-5)
    assert mrd["level"].iloc[1] == pytest.approx(3e-5) and mrd["lod"].iloc[1] == pytest.approx(1e-6)
    assert mrd["lod"].iloc[2] == pytest.approx(1e-5)


def _status(rid, code, date):
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOINC, "code": "97509-4"}]}, "effectiveDateTime": date,
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code}]}}


def test_mcode_progression_only_when_worsened(tmp_path):
    res = base() + [_status("s1", "268910001", "2020-06-01"), _status("s2", "271299001", "2021-02-01")]
    ev = read(write_bulk(tmp_path, res)).tables["events"]
    prog = ev[ev["event"] == "progression"]
    assert prog["date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-02-01"]


# ------------------------------------------------------------------------------- patients, cohort
def test_sex_age_death_and_deceased_without_date(tmp_path):
    res = [patient("a", gender="male", birthDate="1950-06-15", deceasedDateTime="2022-01-05T10:00:00Z"),
           myeloma("a", onset="2020-06-14"), patient("b", gender="other", deceasedBoolean=True), myeloma("b"),
           contact("b")]
    imp = read(write_bulk(tmp_path, res))
    p = imp.tables["patients"].set_index("patient_id")
    assert p.loc["a", "sex"] == "M" and p.loc["b", "sex"] == "U"
    assert p.loc["a", "age_at_diagnosis"] == 69  # one day before the 70th birthday
    ev = imp.tables["events"]
    assert ev.loc[ev["event"] == "death", ["patient_id"]].values.tolist() == [["a"]]
    assert codes(imp, "FHIR_DECEASED_NO_DATE")["patient_id"].tolist() == ["b"]


def test_cohort_from_snomed_or_icd10_earliest_date_refuted_left_out(tmp_path):
    icd = {**myeloma("b", onset=None, rid="icd"), "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm",
                                                                         "code": "C9000"}]},
           "onsetPeriod": {"start": "2019-05-01"}}
    del icd["onsetDateTime"]
    refuted = {**myeloma("a", onset="2018-01-01", rid="ref"),
               "verificationStatus": {"coding": [{"code": "refuted"}]}}
    other = {**myeloma("c", rid="dm"), "code": {"coding": [{"system": SNOMED, "code": "44054006"}]}}
    res = [patient("a"), patient("b"), patient("c"), myeloma("a", onset="2020-02-01"),
           myeloma("a", onset="2020-01-01", rid="mm2"), refuted, icd, other]
    imp = read(write_bulk(tmp_path, res))
    p = imp.tables["patients"]
    assert p[["patient_id", "diagnosis_date"]].astype(str).values.tolist() == [["a", "2020-01-01"],
                                                                               ["b", "2019-05-01"]]
    assert codes(imp, "FHIR_NOT_IN_COHORT")["patient_id"].tolist() == ["c"]
    assert codes(imp, "FHIR_STATUS_IGNORED")["record"].tolist() == ["ref"]


def test_encounter_status_and_last_contact(tmp_path):
    res = base() + [contact(date="2022-03-01", rid="planned", status="planned"), contact(date="2021-09-09")]
    imp = read(write_bulk(tmp_path, res))
    ev = imp.tables["events"]
    assert ev.loc[ev["event"] == "last_contact", "date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-09-09"]
    assert codes(imp, "FHIR_STATUS_IGNORED")["record"].tolist() == ["planned"]


# ----------------------------------------------------------------------------- drugs, procedures
def _req(rid, **kw):
    return {"resourceType": "MedicationRequest", "id": rid, "status": "completed", "intent": "order",
            "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "lenalidomide"}, **kw}


def test_medication_request_intents_and_periods(tmp_path):
    res = base() + [
        _req("plan", intent="plan", authoredOn="2020-01-15"),
        _req("bounds", dosageInstruction=[{"timing": {"repeat": {"boundsPeriod": {"start": "2020-01-20",
                                                                                    "end": "2020-02-20"}}}}]),
        _req("supply", authoredOn="2020-03-01", dispenseRequest={"expectedSupplyDuration": {"value": 4, "code": "wk"}})]
    imp = read(write_bulk(tmp_path, res), data_cut="2021-01-01")
    made = imp.log[imp.log["code"] == "DRUG_PERIOD"]
    # bounds 01-20..02-20 and authoredOn 03-01 + 28 days - 1 merge (gap <= 30 days) into one period
    assert made["detail"].tolist() == ["lenalidomide 2020-01-20 to 2020-03-28"]
    assert codes(imp, "FHIR_STATUS_IGNORED")["record"].tolist() == ["plan"]


def test_active_statement_with_open_end_runs_to_the_data_cut(tmp_path):
    res = base() + [{"resourceType": "MedicationStatement", "id": "s", "status": "active",
                     "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "Lenalidomide"},
                     "effectivePeriod": {"start": "2020-01-20"}},
                    {"resourceType": "MedicationStatement", "id": "x", "status": "not-taken",
                     "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "Bortezomib"},
                     "effectiveDateTime": "2020-01-20"}]
    imp = read(write_bulk(tmp_path, res), data_cut="2021-01-01")
    tr = imp.tables["treatments"]
    assert tr[["phase", "regimen"]].values.tolist() == [["induction", "lenalidomide"]]
    assert pd.isna(tr["end_date"].iloc[0])  # ongoing at the data cut
    assert codes(imp, "FHIR_STATUS_IGNORED")["record"].tolist() == ["x"]


def test_transplant_procedure_completed_only(tmp_path):
    def proc(rid, status, date):
        return {"resourceType": "Procedure", "id": rid, "status": status, "subject": {"reference": "Patient/p1"},
                "code": {"text": "Autologous stem cell transplant"}, "performedDateTime": date}
    drugs = [_drug("v", medicationCodeableConcept={"text": "bortezomib"},
                   effectivePeriod={"start": "2020-01-20", "end": "2020-05-01"})]
    res = base() + drugs + [proc("t1", "completed", "2020-07-01"), proc("t0", "not-done", "2020-06-01"),
                            {**proc("knee", "completed", "2020-08-01"), "code": {"text": "Knee replacement"}}]
    imp = read(write_bulk(tmp_path, res), data_cut="2021-01-01")
    tr = imp.tables["treatments"]
    assert tr.loc[tr["phase"] == "transplant", "start_date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-07-01"]
    assert codes(imp, "FHIR_STATUS_IGNORED")["record"].tolist() == ["t0"]


# ----------------------------------------------------------------------------------- Bundle vs Bulk
def test_bundle_and_bulk_give_the_same_tables(tmp_path):
    res = base() + [lab("o1", "33358-3", 2.0, "g/dL"), _status("s2", "271299001", "2021-02-01"),
                    _drug("d", medicationCodeableConcept={"text": "bortezomib"},
                          effectivePeriod={"start": "2020-01-20", "end": "2020-05-01"})]
    a = read(write_bulk(tmp_path / "a", res), data_cut="2021-06-01")
    b = read(write_bundle(tmp_path / "b", res, bundle_type="transaction"), data_cut="2021-06-01")
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name].drop(columns="record", errors="ignore"),
                                      b.tables[name].drop(columns="record", errors="ignore"))


def test_several_files_per_type_and_gzip(tmp_path):
    import gzip

    write_bulk(tmp_path, base())
    (tmp_path / "Observation.000.ndjson").write_text(
        __import__("json").dumps(lab("o1", "33358-3", 2.0, "g/dL")) + "\n")
    with gzip.open(tmp_path / "Observation.001.ndjson.gz", "wt") as f:
        f.write(__import__("json").dumps(lab("o2", "33358-3", 1.0, "g/dL", date="2020-03-01")) + "\n")
    imp = read(tmp_path)
    assert imp.tables["labs"]["value"].astype(float).tolist() == [2.0, 1.0]


def test_second_primary_malignancy_after_diagnosis_is_an_spm_event(tmp_path):
    def cancer(rid, onset, coding):
        return {**myeloma(rid=rid, onset=onset), "code": {"coding": [coding]}}
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    res = base() + [cancer("prior", "2015-01-01", {"system": icd, "code": "C50.9"}),  # before diagnosis: not an SPM
                    cancer("crc", "2021-03-01", {"system": icd, "code": "C18.7"}),
                    cancer("meta", "2021-04-01", {"system": icd, "code": "C79.51"}),  # secondary site: not an SPM
                    cancer("mm2", "2021-05-01", {"system": icd, "code": "C90.00"})]  # the myeloma itself
    ev = read(write_bulk(tmp_path, res)).tables["events"]
    assert ev.loc[ev["event"] == "spm", "date"].dt.strftime("%Y-%m-%d").tolist() == ["2021-03-01"]
