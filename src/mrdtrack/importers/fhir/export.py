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


#: Patients turned into resources and written at a time (``write_fhir_parts``): the writer's memory is
#: bounded by a chunk (about 200 resources per registry patient), not by the cohort.
FHIR_CHUNK_PATIENTS = 500
#: A row's 1-based place in its whole table, from which its resource id is made ("lab-17"): the
#: same ids whatever the chunks a cohort is written in.
ROW_NUMBER = "_n"


def _row_numbers(df: pd.DataFrame) -> np.ndarray:
    return df[ROW_NUMBER].to_numpy() if ROW_NUMBER in df.columns else np.arange(1, len(df) + 1)


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
    for i, pid, date, test, value, unit in zip(_row_numbers(labs), labs["patient_id"], _dates(labs["date"]),
                                               labs["test"], labs["value"], labs["unit"]):
        if test in styles:
            value_part = _answer(value, styles[test])
        else:
            value_part = _quantity(float(value), str(unit))
        out.append((pid, _observation(f"lab-{i}", pid, date, _lab_code(test), value_part)))
    return out


def mrd_observations(mrd: pd.DataFrame) -> list[tuple[str, dict]]:
    """MRD samples: MFC on the percent scale (LOINC 93021-4), other methods as fractions (unit 1);
    not detected = ``<`` the limit of detection, detected = the level with the LOD as range low."""
    out = []
    for i, pid, date, method, lod, result, level in zip(
            _row_numbers(mrd), mrd["patient_id"], _dates(mrd["date"]), mrd["method"], mrd["lod"], mrd["result"],
            mrd["level"]):
        percent = method == "MFC"
        unit, factor = ("%", 100.0) if percent else ("1", 1.0)
        code = _code(coding(LOINC, "93021-4"), "MRD by flow") if percent else \
            _code(coding(LOCAL, f"mrd_{str(method).lower()}"), f"mrd_{str(method).lower()}")
        lod = float(lod) * factor
        value = _quantity(lod, unit, "<") if result == "not_detected" else \
            _quantity(float(level) * factor, unit, low=lod)
        out.append((pid, _observation(f"mrd-{i}", pid, date, code, value)))
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
    for i, pid, date, modality, result in zip(_row_numbers(imaging), imaging["patient_id"], _dates(imaging["date"]),
                                               imaging["modality"], imaging["result"]):
        key = "imaging_" + str(modality).lower().replace("-", "_")
        out.append((pid, _observation(f"imaging-{i}", pid, date, _code(coding(LOCAL, key), key),
                                      _answer(result, 0), "imaging")))
    return out


def event_resources(events: pd.DataFrame) -> list[tuple[str, dict]]:
    """progression -> mCODE CancerDiseaseStatus (worsened); last_contact -> a finished Encounter;
    spm -> a Condition (another cancer, read as an unrelated condition). Death goes on the Patient."""
    out = []
    for i, pid, date, event in zip(_row_numbers(events), events["patient_id"], _dates(events["date"]),
                                   events["event"]):
        if event == "progression":
            out.append((pid, _observation(f"progression-{i}", pid, date, _code(CANCER_STATUS),
                                          {"valueCodeableConcept": _code(WORSENED)}, "survey")))
        elif event == "last_contact":
            out.append((pid, {"resourceType": "Encounter", "id": f"contact-{i}", "status": "finished",
                              "class": AMBULATORY,
                              "subject": _subject(pid), "period": {"start": date, "end": date}}))
        elif event == "spm":
            out.append((pid, {"resourceType": "Condition", "id": f"spm-{i}", "code": _code(SECOND_PRIMARY),
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
    for i, pid, ingredient, start, end in zip(_row_numbers(records), records["patient_id"], records["ingredient"],
                                              _dates(records["start_date"]), _dates(records["end_date"])):
        r = {"resourceType": "MedicationAdministration", "id": f"drug-{i}", "status": "completed",
             "medicationReference": {"reference": f"Medication/{_medication_id(ingredient)}"},
             "subject": _subject(pid), "effectivePeriod": {"start": start, "end": end}}
        if not isinstance(end, str):
            r.update(resourceType="MedicationStatement", status="active", effectivePeriod={"start": start})
        out.append((pid, r))
    for i, pid, date in zip(_row_numbers(procedures), procedures["patient_id"], _dates(procedures["date"])):
        out.append((pid, {"resourceType": "Procedure", "id": f"transplant-{i}", "status": "completed",
                          "code": _code(TRANSPLANT, "autologous stem cell transplant"), "subject": _subject(pid),
                          "performedDateTime": date}))
    return out


def _medication_id(ingredient: str) -> str:
    return "med-" + str(ingredient).lower().replace(" ", "-")


def _medication(ingredient: str) -> dict:
    return {"resourceType": "Medication", "id": _medication_id(ingredient), "code": {"text": str(ingredient)}}


def fhir_inputs(tables: dict[str, pd.DataFrame], rules=None) -> dict[str, pd.DataFrame]:
    """The tables the resources are made from: patients, events, labs, mrd, imaging, and the
    treatments as drug records and transplant procedures through ``treatments_to_drug_records``
    (ongoing phases: open-ended, active)."""
    from mrdtrack.importers.drug_records import treatments_to_drug_records
    from mrdtrack.importers.phase_rules import PhaseRules

    empty = pd.DataFrame(columns=["patient_id", "date"])
    treatments = tables.get("treatments", pd.DataFrame(columns=["patient_id", "phase", "regimen", "start_date",
                                                                "end_date"]))
    treatments = treatments.assign(start_date=pd.to_datetime(treatments["start_date"]),
                                   end_date=pd.to_datetime(treatments["end_date"]))
    drugs, procedures = treatments_to_drug_records(treatments, rules or PhaseRules())
    return {"patients": tables["patients"], "events": tables.get("events", empty.assign(event=[])),
            "labs": tables.get("labs", empty.assign(test=[], value=[], unit=[])),
            "mrd": tables.get("mrd", empty.assign(method=[], lod=[], result=[], level=[])),
            "imaging": tables.get("imaging", empty.assign(modality=[], result=[])),
            "drugs": drugs, "procedures": procedures}


def _resources(inputs: dict[str, pd.DataFrame]) -> list[tuple[str, dict]]:
    """Every resource of ``fhir_inputs``, each with its patient id, in patient order."""
    out = patient_resources(inputs["patients"], inputs["events"])
    out += attribute_observations(inputs["patients"])
    out += lab_observations(inputs["labs"])
    out += mrd_observations(inputs["mrd"])
    out += imaging_observations(inputs["imaging"])
    out += event_resources(inputs["events"])
    out += drug_resources(inputs["drugs"], inputs["procedures"])
    order = np.argsort(np.asarray([pid for pid, _ in out], dtype=object), kind="stable")
    return [out[i] for i in order]


def contract_to_fhir(tables: dict[str, pd.DataFrame], rules=None) -> list[tuple[str, dict]]:
    """Every resource of a cohort (contract tables as the simulator or a CSV reader gives them),
    each with its patient id, in patient order (``fhir_inputs``)."""
    return _resources(fhir_inputs(tables, rules))


def _by_patients(inputs: dict[str, pd.DataFrame], chunk: int):
    """``inputs`` cut into parts of ``chunk`` whole patients (in patient order, each table's rows in
    their order); each row keeps its place in its table (``ROW_NUMBER``), so the resources' ids do
    not depend on the parts."""
    from mrdtrack.sorting import group_bounds

    ids = pd.Index(sorted(pd.unique(pd.concat([df["patient_id"] for df in inputs.values()], ignore_index=True))))
    n_parts = max(1, -(-len(ids) // chunk))
    if n_parts == 1:
        yield inputs
        return
    cuts = {}
    for name, df in inputs.items():
        cuts[name] = (df, *group_bounds(ids.get_indexer(df["patient_id"]) // chunk, n_parts))
    for k in range(n_parts):
        yield {name: df.iloc[order[bounds[k]:bounds[k + 1]]] for name, (df, order, bounds) in cuts.items()}


class _BulkFiles:
    """``<Type>.ndjson`` per resource type, appended to as resources come (Medication once per id),
    and the Bulk Data manifest at the end."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.files: dict = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.seen: set[str] = set()

    def add(self, resources: list[tuple[str, dict]]) -> None:
        for _, r in resources:
            rtype = r["resourceType"]
            if rtype == "Medication":
                if r["id"] in self.seen:
                    continue
                self.seen.add(r["id"])
            if rtype not in self.files:
                self.files[rtype] = (self.folder / f"{rtype}.ndjson").open("wb")
            self.files[rtype].write(orjson.dumps(r) + b"\n")
            self.counts[rtype] += 1

    def finish(self, transaction_time: str) -> list[Path]:
        for f in self.files.values():
            f.close()
        paths = [self.folder / f"{rtype}.ndjson" for rtype in sorted(self.files)]
        manifest = {"transactionTime": transaction_time, "request": "$export", "requiresAccessToken": False,
                    "output": [{"type": p.stem, "url": p.name, "count": self.counts[p.stem]} for p in paths],
                    "error": []}
        (self.folder / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        return paths + [self.folder / "manifest.json"]


def write_bulk(resources: list[tuple[str, dict]], folder: str | Path, transaction_time: str) -> list[Path]:
    """``<Type>.ndjson`` per resource type (Medication once per id) and a Bulk Data manifest."""
    files = _BulkFiles(folder)
    files.add(resources)
    return files.finish(transaction_time)


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


def write_fhir(tables: dict[str, pd.DataFrame], folder: str | Path, bundles: bool = False, rules=None,
               chunk_patients: int = FHIR_CHUNK_PATIENTS) -> list[Path]:
    """A cohort's contract tables as a Bulk Data export (or one Bundle per patient) in ``folder``,
    ``chunk_patients`` patients' resources at a time (the files do not depend on it). Recorded
    responses have no FHIR form here and are not written."""
    return write_fhir_parts([tables], folder, bundles, rules, chunk_patients)


def write_fhir_parts(parts, folder: str | Path, bundles: bool = False, rules=None,
                     chunk_patients: int = FHIR_CHUNK_PATIENTS) -> list[Path]:
    """``write_fhir`` of the cohort given as consecutive parts of whole patients, in patient order
    (``simulate_chunks``): the same files as the parts put together, one part in memory at a time."""
    offsets: dict[str, int] = defaultdict(int)
    latest = pd.Timestamp("1970-01-01")
    files = None if bundles else _BulkFiles(folder)
    paths: list[Path] = []
    for tables in parts:
        latest = max(latest, latest_date(tables))
        inputs = {}
        for name, df in fhir_inputs(tables, rules).items():  # rows numbered as in the whole cohort
            inputs[name] = df.assign(**{ROW_NUMBER: np.arange(offsets[name] + 1, offsets[name] + len(df) + 1)})
            offsets[name] += len(df)
        for chunk in _by_patients(inputs, chunk_patients):
            resources = _resources(chunk)
            if bundles:
                paths += write_bundles(resources, folder)
            else:
                files.add(resources)
    return paths if bundles else files.finish(latest.strftime("%Y-%m-%dT00:00:00Z"))
