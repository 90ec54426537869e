"""Contract tables -> FHIR R4 resources, written as a Bulk Data export or as one Bundle per patient.

The other direction of the FHIR door (docs/fhir.md "Writing FHIR"), for ``mrdtrack simulate
--format fhir`` and the tests: it follows exactly the conventions the reader expects (the default
mapping's codes, UCUM units, LOINC answers, mCODE progression), so a contract folder written as
FHIR and read back gives the same analysis. Drug records and transplant procedures come from the
contract's treatments through the phase rules' inverse (``treatments_to_drug_records``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from mrdtrack.importers.fhir.extract import LOINC, SNOMED

UCUM = "http://unitsofmeasure.org"
LOCAL = "urn:mrdtrack:code"  # code system of the contract's own names (the default mapping's source values)
#: contract unit -> UCUM code
UCUM_CODES = {"g/dL": "g/dL", "g/L": "g/L", "mg/24h": "mg/(24.h)", "g/24h": "g/(24.h)", "mg/L": "mg/L",
              "mg/dL": "mg/dL", "%": "%", "cm2": "cm2"}
LAB_LOINC = {"serum_m_protein": "33358-3", "urine_m_protein": "42482-0", "flc_kappa": "36916-5",
             "flc_lambda": "33944-0", "serum_ife": "25700-6", "bm_plasma_cells": "11118-7"}
ANSWERS = {"positive": ("LA6576-8", "Positive"), "negative": ("LA6577-6", "Negative"),
           "clonal": ("LA6576-8", "Positive"), "polyclonal": ("LA6577-6", "Negative"), "yes": ("LA11882-0", "Detected")}


def coding(system: str | None, code: str, display: str | None = None) -> dict:
    """A FHIR Coding (system, code, display)."""
    out = {"system": system, "code": code} if system else {"code": code}
    if display:
        out["display"] = display
    return out


MYELOMA = coding(SNOMED, "109989006", "Multiple myeloma (disorder)")
SECOND_PRIMARY = coding(SNOMED, "363346000", "Malignant neoplastic disease (disorder)")
CANCER_STATUS = coding(LOINC, "97509-4", "Cancer disease status")
WORSENED = coding(SNOMED, "271299001", "Patient's condition worsened (finding)")
TRANSPLANT = coding(SNOMED, "709115004", "Autologous hematopoietic stem cell transplant")
AMBULATORY = coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB")
GENDER = {"F": "female", "M": "male", "U": "unknown"}
NAMESPACE = uuid.UUID("6f1c1c0e-8a4e-4c39-9d43-6a5b1f0e2f11")


def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, errors="coerce").dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def _subject(pid: str) -> dict:
    return {"reference": f"Patient/{pid}"}


def _code(coding: dict | None = None, text: str | None = None) -> dict:
    out = {}
    if coding:
        out["coding"] = [coding]
    if text:
        out["text"] = text
    return out


def _observation(rid: str, pid: str, date: str, code: dict, value: dict, category: str = "laboratory") -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": code, "subject": _subject(pid), "effectiveDateTime": date, **value}


def _quantity(value: float, unit: str, comparator: str | None = None, low: float | None = None) -> dict:
    q = {"value": float(value), "unit": unit, "system": UCUM, "code": UCUM_CODES.get(unit, unit)}
    if comparator:
        q["comparator"] = comparator
    out = {"valueQuantity": q}
    if low is not None:
        out["referenceRange"] = [{"low": {"value": float(low), "unit": unit, "system": UCUM,
                                          "code": UCUM_CODES.get(unit, unit)}}]
    return out


def _lab_code(test: str) -> dict:
    loinc = LAB_LOINC.get(test)
    return _code(coding(LOINC, loinc) if loinc else coding(LOCAL, test), test)


def _answer(word: str, style: int) -> dict:
    """A categorical result, in one of three styles the reader accepts (LOINC answer, text, string)."""
    word = str(word)
    if style == 0 and word in ANSWERS:
        code, display = ANSWERS[word]
        return {"valueCodeableConcept": {"coding": [coding(LOINC, code, display)]}}
    if style == 1:
        return {"valueCodeableConcept": {"text": word}}
    return {"valueString": word}


def lab_observations(labs: pd.DataFrame) -> list[tuple[str, dict]]:
    """One Observation per lab row: numbers as UCUM quantities, words as answers (styles vary by test)."""
    styles = {"serum_ife": 0, "urine_ife": 1, "bm_clonality": 2, "new_lesion": 0}
    out = []
    for i, (pid, date, test, value, unit) in enumerate(zip(labs["patient_id"], _dates(labs["date"]), labs["test"],
                                                           labs["value"], labs["unit"])):
        if test in styles:
            value_part = _answer(value, styles[test])
        else:
            value_part = _quantity(float(value), str(unit))
        out.append((pid, _observation(f"lab-{i + 1}", pid, date, _lab_code(test), value_part)))
    return out


def mrd_observations(mrd: pd.DataFrame) -> list[tuple[str, dict]]:
    """MRD samples: MFC on the percent scale (LOINC 93021-4), other methods as fractions (unit 1);
    not detected = ``<`` the limit of detection, detected = the level with the LOD as range low."""
    out = []
    for i, (pid, date, method, lod, result, level) in enumerate(zip(
            mrd["patient_id"], _dates(mrd["date"]), mrd["method"], mrd["lod"], mrd["result"], mrd["level"])):
        percent = method == "MFC"
        unit, factor = ("%", 100.0) if percent else ("1", 1.0)
        code = _code(coding(LOINC, "93021-4"), "MRD by flow") if percent else \
            _code(coding(LOCAL, f"mrd_{str(method).lower()}"), f"mrd_{str(method).lower()}")
        lod = float(lod) * factor
        value = _quantity(lod, unit, "<") if result == "not_detected" else \
            _quantity(float(level) * factor, unit, low=lod)
        out.append((pid, _observation(f"mrd-{i + 1}", pid, date, code, value)))
    return out


def attribute_observations(patients: pd.DataFrame) -> list[tuple[str, dict]]:
    """heavy_chain, light_chain, iss_stage, cytogenetic_risk as Observations on the diagnosis date."""
    out = []
    dates = _dates(patients["diagnosis_date"])
    for name in ("heavy_chain", "light_chain", "iss_stage", "cytogenetic_risk"):
        if name not in patients:
            continue
        for pid, date, value in zip(patients["patient_id"], dates, patients[name]):
            if isinstance(value, str) and value:
                out.append((pid, _observation(f"{name.replace('_', '-')}-{pid}", pid, date,
                                              _code(coding(LOCAL, name), name),
                                              {"valueString": value}, "exam")))
    return out


def imaging_observations(imaging: pd.DataFrame) -> list[tuple[str, dict]]:
    out = []
    for i, (pid, date, modality, result) in enumerate(zip(imaging["patient_id"], _dates(imaging["date"]),
                                                           imaging["modality"], imaging["result"])):
        key = "imaging_" + str(modality).lower().replace("-", "_")
        out.append((pid, _observation(f"imaging-{i + 1}", pid, date, _code(coding(LOCAL, key), key),
                                      _answer(result, 0), "imaging")))
    return out


def event_resources(events: pd.DataFrame) -> list[tuple[str, dict]]:
    """progression -> mCODE CancerDiseaseStatus (worsened); last_contact -> a finished Encounter;
    spm -> a Condition (another cancer, read as an unrelated condition). Death goes on the Patient."""
    out = []
    for i, (pid, date, event) in enumerate(zip(events["patient_id"], _dates(events["date"]), events["event"])):
        if event == "progression":
            out.append((pid, _observation(f"progression-{i + 1}", pid, date, _code(CANCER_STATUS),
                                          {"valueCodeableConcept": _code(WORSENED)}, "survey")))
        elif event == "last_contact":
            out.append((pid, {"resourceType": "Encounter", "id": f"contact-{i + 1}", "status": "finished",
                              "class": AMBULATORY,
                              "subject": _subject(pid), "period": {"start": date, "end": date}}))
        elif event == "spm":
            out.append((pid, {"resourceType": "Condition", "id": f"spm-{i + 1}", "code": _code(SECOND_PRIMARY),
                              "subject": _subject(pid), "onsetDateTime": date}))
    return out


def patient_resources(patients: pd.DataFrame, events: pd.DataFrame) -> list[tuple[str, dict]]:
    """Patient (gender, a birth date giving the age at diagnosis in whole years, death, centre) and
    the myeloma Condition with its onset on the diagnosis date."""
    death = events[events["event"] == "death"].groupby("patient_id")["date"].min()
    dx = pd.to_datetime(patients["diagnosis_date"])
    age = pd.to_numeric(patients.get("age_at_diagnosis"), errors="coerce")
    # half a year before the birthday of that age: whole years = the age, whatever the day count
    birth = [None if pd.isna(a) else (d - pd.DateOffset(years=int(a), months=6)).strftime("%Y-%m-%d")
             for d, a in zip(dx, age)]
    died = _dates(patients["patient_id"].map(death))
    out = []
    for pid, sex, b, d, centre, onset in zip(patients["patient_id"], patients.get("sex", [None] * len(patients)), birth,
                                             died, patients.get("center", [None] * len(patients)), _dates(dx)):
        p = {"resourceType": "Patient", "id": pid, "identifier": [{"system": "urn:mrdtrack:mrn", "value": f"MRN-{pid}"}],
             "gender": GENDER.get(sex, "unknown")}
        if b:
            p["birthDate"] = b
        if isinstance(d, str):
            p["deceasedDateTime"] = d
        if isinstance(centre, str) and centre:
            p["managingOrganization"] = {"display": centre}
        out.append((pid, p))
        out.append((pid, {"resourceType": "Condition", "id": f"myeloma-{pid}",
                          "clinicalStatus": {"coding": [coding(None, "active")]},
                          "verificationStatus": {"coding": [coding(None, "confirmed")]}, "code": _code(MYELOMA),
                          "subject": _subject(pid), "onsetDateTime": onset}))
    return out


def drug_resources(records: pd.DataFrame, procedures: pd.DataFrame) -> list[tuple[str, dict]]:
    """One Medication per ingredient (referenced); a completed MedicationAdministration per drug
    record with an end, an active MedicationStatement with an open end per ongoing one; a completed
    Procedure per transplant."""
    out = []
    for pid, ingredient in records[["patient_id", "ingredient"]].drop_duplicates().itertuples(index=False):
        out.append((pid, _medication(ingredient)))
    for i, (pid, ingredient, start, end) in enumerate(zip(records["patient_id"], records["ingredient"],
                                                          _dates(records["start_date"]), _dates(records["end_date"]))):
        r = {"resourceType": "MedicationAdministration", "id": f"drug-{i + 1}", "status": "completed",
             "medicationReference": {"reference": f"Medication/{_medication_id(ingredient)}"},
             "subject": _subject(pid), "effectivePeriod": {"start": start, "end": end}}
        if not isinstance(end, str):
            r.update(resourceType="MedicationStatement", status="active", effectivePeriod={"start": start})
        out.append((pid, r))
    for i, (pid, date) in enumerate(zip(procedures["patient_id"], _dates(procedures["date"]))):
        out.append((pid, {"resourceType": "Procedure", "id": f"transplant-{i + 1}", "status": "completed",
                          "code": _code(TRANSPLANT, "autologous stem cell transplant"), "subject": _subject(pid),
                          "performedDateTime": date}))
    return out


def _medication_id(ingredient: str) -> str:
    return "med-" + str(ingredient).lower().replace(" ", "-")


def _medication(ingredient: str) -> dict:
    return {"resourceType": "Medication", "id": _medication_id(ingredient), "code": {"text": str(ingredient)}}


def contract_to_fhir(tables: dict[str, pd.DataFrame], rules=None) -> list[tuple[str, dict]]:
    """Every resource of a cohort (contract tables as the simulator or a CSV reader gives them),
    each with its patient id, in patient order. Treatments become drug records and transplant
    procedures through ``treatments_to_drug_records`` (ongoing phases: open-ended, active)."""
    from mrdtrack.importers.drug_records import treatments_to_drug_records
    from mrdtrack.importers.phase_rules import PhaseRules

    empty = pd.DataFrame(columns=["patient_id", "date"])
    treatments = tables.get("treatments", pd.DataFrame(columns=["patient_id", "phase", "regimen", "start_date",
                                                                "end_date"]))
    treatments = treatments.assign(start_date=pd.to_datetime(treatments["start_date"]),
                                   end_date=pd.to_datetime(treatments["end_date"]))
    drugs, procedures = treatments_to_drug_records(treatments, rules or PhaseRules())
    events = tables.get("events", empty.assign(event=[]))
    out = patient_resources(tables["patients"], events)
    out += attribute_observations(tables["patients"])
    out += lab_observations(tables.get("labs", empty.assign(test=[], value=[], unit=[])))
    out += mrd_observations(tables.get("mrd", empty.assign(method=[], lod=[], result=[], level=[])))
    out += imaging_observations(tables.get("imaging", empty.assign(modality=[], result=[])))
    out += event_resources(events)
    out += drug_resources(drugs, procedures)
    order = np.argsort(np.asarray([pid for pid, _ in out], dtype=object), kind="stable")
    return [out[i] for i in order]


def write_bulk(resources: list[tuple[str, dict]], folder: str | Path, transaction_time: str) -> list[Path]:
    """``<Type>.ndjson`` per resource type (Medication once per id) and a Bulk Data manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[bytes]] = defaultdict(list)
    seen: set[str] = set()
    for _, r in resources:
        if r["resourceType"] == "Medication":
            if r["id"] in seen:
                continue
            seen.add(r["id"])
        by_type[r["resourceType"]].append(orjson.dumps(r))
    paths = []
    for rtype in sorted(by_type):
        path = folder / f"{rtype}.ndjson"
        path.write_bytes(b"\n".join(by_type[rtype]) + b"\n")
        paths.append(path)
    manifest = {"transactionTime": transaction_time, "request": "$export", "requiresAccessToken": False,
                "output": [{"type": p.stem, "url": p.name, "count": len(by_type[p.stem])} for p in paths], "error": []}
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return paths + [folder / "manifest.json"]


def _full_url(rtype: str, rid: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{rtype}/{rid}')}"


def _to_urn(ref: dict) -> dict:
    rtype, rid = ref["reference"].split("/", 1)
    return {"reference": _full_url(rtype, rid)}


def write_bundles(resources: list[tuple[str, dict]], folder: str | Path, bundle_type: str = "collection") -> list[Path]:
    """One Bundle per patient (``<patient_id>.json``), references as ``urn:uuid`` fullUrls."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    per_patient: dict[str, list[dict]] = defaultdict(list)
    for pid, r in resources:
        r = dict(r)
        for key in ("subject", "medicationReference"):
            if key in r:
                r[key] = _to_urn(r[key])
        entry = {"fullUrl": _full_url(r["resourceType"], r["id"]), "resource": r}
        if bundle_type == "transaction":
            entry["request"] = {"method": "POST", "url": r["resourceType"]}
        per_patient[pid].append(entry)
    paths = []
    for pid, entries in per_patient.items():
        path = folder / f"{pid}.json"
        path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": bundle_type, "entry": entries}))
        paths.append(path)
    return paths


def latest_date(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The latest date in any table (the export's transactionTime)."""
    dates = [pd.to_datetime(df[c], errors="coerce").max() for df in tables.values() for c in df.columns
             if c == "date" or c.endswith("_date")]
    return max((d for d in dates if pd.notna(d)), default=pd.Timestamp("1970-01-01"))


def write_fhir(tables: dict[str, pd.DataFrame], folder: str | Path, bundles: bool = False, rules=None) -> list[Path]:
    """A cohort's contract tables as a Bulk Data export (or one Bundle per patient) in ``folder``.
    Recorded responses have no FHIR form here and are not written."""
    resources = contract_to_fhir(tables, rules)
    if bundles:
        return write_bundles(resources, folder)
    return write_bulk(resources, folder, latest_date(tables).strftime("%Y-%m-%dT00:00:00Z"))
