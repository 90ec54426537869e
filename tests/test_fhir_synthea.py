"""A Synthea-style transaction Bundle (docs/fhir.md): the myeloma record sits among resources
mrdtrack does not use (claims, immunizations, other conditions, vital signs, care plans...). It is
read without error; the unrelated resources are counted in the import log."""

from __future__ import annotations

import orjson

from fhir_fixtures import LOINC, SNOMED, UCUM
from mrdtrack.importers.fhir.convert import read_fhir

PAT = "urn:uuid:2d1e3c2a-5a4b-4d2b-9d7a-1f0a3b2c4d5e"
ENC = "urn:uuid:8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"


def _entry(uuid_tail: str, resource: dict) -> dict:
    full = f"urn:uuid:00000000-0000-4000-8000-{uuid_tail:0>12}"
    return {"fullUrl": full, "resource": {"id": full.rsplit(":", 1)[1], **resource},
            "request": {"method": "POST", "url": resource["resourceType"]}}


def _obs(tail, code, display, value, unit, date, category="laboratory"):
    return _entry(tail, {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": {"reference": PAT}, "encounter": {"reference": ENC}, "effectiveDateTime": date,
        "issued": date.replace("+", ".000+"), "valueQuantity": {"value": value, "unit": unit, "system": UCUM,
                                                                  "code": unit}})


def synthea_bundle() -> dict:
    patient = {"fullUrl": PAT, "request": {"method": "POST", "url": "Patient"}, "resource": {
        "resourceType": "Patient", "id": PAT.rsplit(":", 1)[1],
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                       "valueAddress": {"city": "Boston", "state": "MA", "country": "US"}}],
        "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": "2d1e3c2a"},
                       {"type": {"coding": [{"code": "MR"}]}, "system": "http://hospital.smarthealthit.org",
                        "value": "MRN-998877"}],
        "name": [{"use": "official", "family": "Kuhn96", "given": ["Ana972"]}], "gender": "female",
        "birthDate": "1958-09-14", "address": [{"city": "Boston"}], "maritalStatus": {"text": "M"}}}
    encounter = {"fullUrl": ENC, "request": {"method": "POST", "url": "Encounter"}, "resource": {
        "resourceType": "Encounter", "id": ENC.rsplit(":", 1)[1], "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": SNOMED, "code": "185349003"}], "text": "Encounter for check up"}],
        "subject": {"reference": PAT}, "period": {"start": "2021-03-02T09:00:00-05:00", "end": "2021-03-02T09:30:00-05:00"}}}
    entries = [patient, encounter,
               _entry("1", {"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": "active"}]},
                            "verificationStatus": {"coding": [{"code": "confirmed"}]},
                            "code": {"coding": [{"system": SNOMED, "code": "109989006",
                                                 "display": "Multiple myeloma (disorder)"}]},
                            "subject": {"reference": PAT}, "onsetDateTime": "2020-05-04T10:12:00-05:00",
                            "recordedDate": "2020-05-06T10:12:00-05:00"}),
               _entry("2", {"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "44054006",
                                                                               "display": "Diabetes"}]},
                            "subject": {"reference": PAT}, "onsetDateTime": "2001-02-01T10:12:00-05:00"}),
               _entry("3", {"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "195662009"}],
                                                                  "text": "Acute viral pharyngitis"},
                            "subject": {"reference": PAT}, "onsetDateTime": "2019-02-01"}),
               _obs("4", "8302-2", "Body Height", 164.2, "cm", "2021-03-02T09:00:00-05:00", "vital-signs"),
               _obs("5", "29463-7", "Body Weight", 71.5, "kg", "2021-03-02T09:00:00-05:00", "vital-signs"),
               _obs("6", "33358-3", "Protein.monoclonal [Mass/volume] in Serum", 2.1, "g/dL",
                    "2020-05-05T08:00:00-05:00"),
               _obs("7", "33358-3", "Protein.monoclonal [Mass/volume] in Serum", 0.4, "g/dL",
                    "2020-11-05T08:00:00-05:00"),
               _entry("8", {"resourceType": "Observation", "status": "final",
                            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure"}]},
                            "subject": {"reference": PAT}, "effectiveDateTime": "2021-03-02T09:00:00-05:00",
                            "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                                           "valueQuantity": {"value": 120, "unit": "mm[Hg]"}}]}),
               _entry("9", {"resourceType": "Observation", "status": "final",
                            "code": {"coding": [{"system": LOINC, "code": "72166-2", "display": "Tobacco status"}]},
                            "subject": {"reference": PAT}, "effectiveDateTime": "2021-03-02T09:00:00-05:00",
                            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "266919005",
                                                                 "display": "Never smoker"}]}}),
               _entry("10", {"resourceType": "MedicationRequest", "status": "stopped", "intent": "order",
                             "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                                       "code": "616452", "display": "lenalidomide 10 MG Oral Capsule"}],
                                                           "text": "lenalidomide 10 MG Oral Capsule"},
                             "subject": {"reference": PAT}, "encounter": {"reference": ENC},
                             "authoredOn": "2020-05-20T10:00:00-05:00",
                             "dispenseRequest": {"expectedSupplyDuration": {"value": 120, "unit": "days",
                                                                            "system": UCUM, "code": "d"}}}),
               _entry("11", {"resourceType": "MedicationRequest", "status": "stopped", "intent": "order",
                             "medicationCodeableConcept": {"coding": [{"display": "Acetaminophen 325 MG Oral Tablet"}]},
                             "subject": {"reference": PAT}, "authoredOn": "2019-02-01"}),
               _entry("12", {"resourceType": "Immunization", "status": "completed",
                             "vaccineCode": {"coding": [{"code": "140", "display": "Influenza"}]},
                             "patient": {"reference": PAT}, "occurrenceDateTime": "2020-10-01"}),
               _entry("13", {"resourceType": "Immunization", "status": "completed", "patient": {"reference": PAT},
                             "vaccineCode": {"text": "Td"}, "occurrenceDateTime": "2019-10-01"}),
               _entry("14", {"resourceType": "Claim", "status": "active", "use": "claim",
                             "patient": {"reference": PAT}, "billablePeriod": {"start": "2021-03-02"},
                             "total": {"value": 129.16, "currency": "USD"}}),
               _entry("15", {"resourceType": "ExplanationOfBenefit", "status": "active", "patient": {"reference": PAT},
                             "outcome": "complete"}),
               _entry("16", {"resourceType": "Procedure", "status": "completed", "subject": {"reference": PAT},
                             "code": {"coding": [{"system": SNOMED, "code": "430193006",
                                                  "display": "Medication Reconciliation"}]},
                             "performedPeriod": {"start": "2021-03-02T09:00:00-05:00"}}),
               _entry("17", {"resourceType": "CarePlan", "status": "active", "intent": "plan",
                             "subject": {"reference": PAT}}),
               _entry("18", {"resourceType": "DiagnosticReport", "status": "final", "subject": {"reference": PAT},
                             "code": {"coding": [{"system": LOINC, "code": "51969-4"}]}}),
               _entry("19", {"resourceType": "Provenance", "target": [{"reference": PAT}],
                             "recorded": "2021-03-02T09:30:00-05:00"})]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_synthea_style_bundle_is_read_and_unrelated_resources_counted(tmp_path):
    (tmp_path / "Ana972_Kuhn96.json").write_bytes(orjson.dumps(synthea_bundle(), option=orjson.OPT_INDENT_2))
    imp = read_fhir(tmp_path, today="2030-01-01")
    log = imp.log
    assert (log["severity"] == "error").sum() == 0, log[log["severity"] == "error"]
    p = imp.tables["patients"]
    assert p[["patient_id", "diagnosis_date", "sex", "age_at_diagnosis"]].astype(str).values.tolist() == [
        ["2d1e3c2a-5a4b-4d2b-9d7a-1f0a3b2c4d5e", "2020-05-04", "F", "61"]]
    assert imp.tables["labs"]["value"].astype(float).tolist() == [2.1, 0.4]
    assert imp.tables["treatments"][["phase", "regimen"]].values.tolist() == [["induction", "lenalidomide"]]
    unrelated = log[log["code"] == "FHIR_UNRELATED_RESOURCE"].set_index("table")["count"].to_dict()
    assert unrelated == {"CarePlan": 1, "Claim": 1, "Condition": 2, "DiagnosticReport": 1, "ExplanationOfBenefit": 1,
                         "Immunization": 2, "Procedure": 1, "Provenance": 1}
    unmapped = log[log["code"] == "UNMAPPED_CONCEPT"]
    assert sorted(unmapped["count"]) == [1, 1, 1, 1]  # height, weight, blood pressure, tobacco status
    other = log[log["code"] == "FHIR_OTHER_MEDICATION"]
    assert other["count"].tolist() == [1] and "Acetaminophen" in other["detail"].iloc[0]
    counts = log[log["code"].str.startswith("IMPORT_ROWS")].pivot(index="table", columns="code", values="count")
    assert (counts["IMPORT_ROWS_IN"] == counts["IMPORT_ROWS_USED"] + counts["IMPORT_ROWS_NOT_USED"]).all()
