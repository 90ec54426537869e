"""Hand-written FHIR R4 resources for the FHIR tests (docs/fhir.md): a minimal patient and helpers
that write resources as a Bulk Data export or as Bundles."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

import orjson

LOINC, SNOMED, UCUM = "http://loinc.org", "http://snomed.info/sct", "http://unitsofmeasure.org"


def patient(pid="p1", **extra) -> dict:
    return {"resourceType": "Patient", "id": pid, "identifier": [{"system": "urn:mrn", "value": f"MRN-{pid}"}],
            "gender": "female", "birthDate": "1960-03-01", **extra}


def myeloma(pid="p1", onset="2020-01-10", rid=None, subject=None, **extra) -> dict:
    return {"resourceType": "Condition", "id": rid or f"mm-{pid}", "subject": {"reference": subject or f"Patient/{pid}"},
            "code": {"coding": [{"system": SNOMED, "code": "109989006"}]}, "onsetDateTime": onset, **extra}


def contact(pid="p1", date="2021-06-01", rid=None, status="finished") -> dict:
    return {"resourceType": "Encounter", "id": rid or f"enc-{pid}-{date}", "status": status,
            "subject": {"reference": f"Patient/{pid}"}, "period": {"start": date, "end": date}}


def lab(rid, code, value=None, unit=None, date="2020-02-01", pid="p1", status="final", comparator=None,
        system=LOINC, **extra) -> dict:
    r = {"resourceType": "Observation", "id": rid, "status": status, "subject": {"reference": f"Patient/{pid}"},
         "code": {"coding": [{"system": system, "code": code}]}, "effectiveDateTime": date, **extra}
    if value is not None:
        q = {"value": value, "system": UCUM, "code": unit}
        if comparator:
            q["comparator"] = comparator
        r["valueQuantity"] = q
    return r


def base(pid="p1") -> list[dict]:
    """A patient in the cohort with one contact."""
    return [patient(pid), myeloma(pid), contact(pid)]


def write_bulk(folder: Path, resources: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_type = defaultdict(list)
    for r in resources:
        by_type[r["resourceType"]].append(orjson.dumps(r))
    for rtype, lines in by_type.items():
        (folder / f"{rtype}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    return folder


def write_bundle(folder: Path, resources: list[dict], name="bundle.json", bundle_type="collection",
                 urn=True) -> Path:
    """One Bundle; with ``urn`` every ``Patient/x`` reference becomes the patient's urn:uuid fullUrl."""
    folder.mkdir(parents=True, exist_ok=True)
    urls = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, r['resourceType'] + r['id'])}"
            for r in resources if "id" in r}
    entries = []
    for r in resources:
        r = dict(r)
        for key in ("subject", "patient", "medicationReference"):
            if urn and key in r and r[key]["reference"] in urls:
                r[key] = {"reference": urls[r[key]["reference"]]}
        entries.append({"fullUrl": urls.get(f"{r['resourceType']}/{r.get('id')}"), "resource": r})
    (folder / name).write_bytes(orjson.dumps({"resourceType": "Bundle", "type": bundle_type, "entry": entries}))
    return folder
