"""From one FHIR R4 resource (a parsed JSON dict) to one row of the few fields mrdtrack uses.

The FHIR door (docs/fhir.md "Resources read"). Each extractor returns a tuple in the order of
its kind's columns (``COLUMNS``); nothing here judges the values (status filters, date rules and
reference resolution run later, vectorised over whole tables). This is the one per-resource
Python step of the reader, so it reads only what it needs, with plain ``dict.get``.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
#: resource types whose rows are medication uses (drug periods, docs/fhir.md "Drugs and procedures")
MEDICATION_USES = ("MedicationAdministration", "MedicationStatement", "MedicationRequest", "MedicationDispense")

COLUMNS: dict[str, tuple[str, ...]] = {
    "Patient": ("record", "id", "full_url", "gender", "birth", "deceased_at", "deceased_flag", "center"),
    "Condition": ("record", "subject", "snomed", "icd10", "verification", "date"),
    "Observation": ("record", "subject", "status", "date", "loinc", "source_values", "value_number", "operator",
                    "unit", "value_code", "value_snomed", "value_text", "range_low"),
    "MedicationUse": ("record", "subject", "rtype", "status", "intent", "start", "end", "supply_days", "names",
                      "codes", "med_ref"),
    "Medication": ("record", "id", "full_url", "names", "codes"),
    "Procedure": ("record", "subject", "status", "date", "names", "codes"),
    "Encounter": ("record", "subject", "status", "date"),
}
#: the kind each read resource type goes to
KIND_OF = {"Patient": "Patient", "Condition": "Condition", "Observation": "Observation", "Medication": "Medication",
           "Procedure": "Procedure", "Encounter": "Encounter", **{t: "MedicationUse" for t in MEDICATION_USES}}
#: days per UCUM unit of a Duration (MedicationRequest.dispenseRequest.expectedSupplyDuration)
DURATION_DAYS = {"d": 1.0, "day": 1.0, "days": 1.0, "wk": 7.0, "week": 7.0, "weeks": 7.0, "mo": 30.0, "month": 30.0,
                 "months": 30.0}


def _join(values: list) -> str | None:
    return "|".join(values) if values else None


def _concept_names(cc: dict | None, names: list, codes: list) -> None:
    """Add a CodeableConcept's coding displays and text to ``names``, its codes to ``codes``."""
    if not cc:
        return
    for c in cc.get("coding") or ():
        d, k = c.get("display"), c.get("code")
        if d:
            names.append(d)
        if k:
            codes.append(k)
    t = cc.get("text")
    if t:
        names.append(t)


def _ref(r: dict, key: str) -> str | None:
    v = r.get(key)
    return v.get("reference") if isinstance(v, dict) else None


def patient(r: dict, record: str, full_url: str | None) -> tuple:
    org = r.get("managingOrganization")
    flag = r.get("deceasedBoolean")
    return (record, r.get("id"), full_url, r.get("gender"), r.get("birthDate"), r.get("deceasedDateTime"),
            None if flag is None else bool(flag), org.get("display") if isinstance(org, dict) else None)


def condition(r: dict, record: str, full_url: str | None) -> tuple:
    snomed, icd = [], []
    for c in (r.get("code") or {}).get("coding") or ():
        s, k = c.get("system"), c.get("code")
        if k:
            if s == SNOMED:
                snomed.append(k)
            elif s in ICD10:
                icd.append(k)
    ver = [c.get("code") for c in (r.get("verificationStatus") or {}).get("coding") or () if c.get("code")]
    date = r.get("onsetDateTime") or (r.get("onsetPeriod") or {}).get("start") or r.get("recordedDate")
    return (record, _ref(r, "subject"), _join(snomed), _join(icd), _join(ver), date)


def _value_concept(cc: dict) -> tuple:
    """(LOINC answer code, SNOMED code, text) of a valueCodeableConcept."""
    answer = snomed = display = None
    for c in cc.get("coding") or ():
        s, k = c.get("system"), c.get("code")
        if s == LOINC and answer is None:
            answer = k
        elif s == SNOMED and snomed is None:
            snomed = k
        if display is None:
            display = c.get("display")
    return answer, snomed, cc.get("text") or display


def observation(r: dict, record: str, full_url: str | None) -> tuple:
    code = r.get("code") or {}
    loinc, alts = None, []
    for c in code.get("coding") or ():
        k = c.get("code")
        if k:
            if loinc is None and c.get("system") == LOINC:
                loinc = k
            alts.append(k)
    if code.get("text"):
        alts.append(code["text"])
    date = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start") or r.get("issued")
    number = op = unit = answer = snomed = text = low = None
    q = r.get("valueQuantity")
    if q is not None:
        number, op, unit = q.get("value"), q.get("comparator"), q.get("code") or q.get("unit")
    elif "valueCodeableConcept" in r:
        answer, snomed, text = _value_concept(r["valueCodeableConcept"])
    elif "valueString" in r:
        text = r["valueString"]
    elif "valueInteger" in r:
        number = r["valueInteger"]
    rr = r.get("referenceRange")
    if rr:
        low = (rr[0].get("low") or {}).get("value")
    return (record, _ref(r, "subject"), r.get("status"), date, loinc, _join(alts), number, op, unit, answer, snomed,
            text, low)


def _medication(r: dict, names: list, codes: list) -> str | None:
    """Names and codes of the medication (inline or contained); else the reference to resolve later."""
    if "medicationCodeableConcept" in r:
        _concept_names(r["medicationCodeableConcept"], names, codes)
        return None
    ref = _ref(r, "medicationReference")
    if ref and ref.startswith("#"):
        for c in r.get("contained") or ():
            if c.get("id") == ref[1:]:
                _medication_resource_names(c, names, codes)
                return None
    return ref


def _medication_resource_names(m: dict, names: list, codes: list) -> None:
    _concept_names(m.get("code"), names, codes)
    for ing in m.get("ingredient") or ():
        _concept_names(ing.get("itemCodeableConcept"), names, codes)


def _duration_days(d: dict | None) -> float | None:
    if not d or d.get("value") is None:
        return None
    per = DURATION_DAYS.get(d.get("code") or d.get("unit") or "d")
    return None if per is None else float(d["value"]) * per


def _use_period(r: dict, rtype: str) -> tuple:
    """(start, end, supply_days) as written, by the resource type's rule (docs/fhir.md)."""
    if rtype == "MedicationRequest":
        for dose in (r.get("dosageInstruction") or ())[:1]:
            bounds = ((dose.get("timing") or {}).get("repeat") or {}).get("boundsPeriod")
            if bounds and bounds.get("start"):
                return bounds.get("start"), bounds.get("end"), None
        return r.get("authoredOn"), None, _duration_days((r.get("dispenseRequest") or {}).get("expectedSupplyDuration"))
    if rtype == "MedicationDispense":
        return r.get("whenHandedOver"), None, _duration_days(r.get("daysSupply"))
    period = r.get("effectivePeriod")
    if period:
        return period.get("start"), period.get("end"), None
    dt = r.get("effectiveDateTime")
    return dt, dt, None


def medication_use(r: dict, record: str, full_url: str | None) -> tuple:
    rtype = r["resourceType"]
    names, codes = [], []
    med_ref = _medication(r, names, codes)
    start, end, supply = _use_period(r, rtype)
    subject = _ref(r, "subject") or _ref(r, "patient")
    return (record, subject, rtype, r.get("status"), r.get("intent"), start, end, supply, _join(names), _join(codes),
            med_ref)


def medication(r: dict, record: str, full_url: str | None) -> tuple:
    names, codes = [], []
    _medication_resource_names(r, names, codes)
    return (record, r.get("id"), full_url, _join(names), _join(codes))


def procedure(r: dict, record: str, full_url: str | None) -> tuple:
    names, codes = [], []
    _concept_names(r.get("code"), names, codes)
    date = r.get("performedDateTime") or (r.get("performedPeriod") or {}).get("start")
    return (record, _ref(r, "subject"), r.get("status"), date, _join(names), _join(codes))


def encounter(r: dict, record: str, full_url: str | None) -> tuple:
    period = r.get("period") or {}
    return (record, _ref(r, "subject"), r.get("status"), period.get("end") or period.get("start"))


EXTRACTORS = {"Patient": patient, "Condition": condition, "Observation": observation, "Medication": medication,
              "Procedure": procedure, "Encounter": encounter, **{t: medication_use for t in MEDICATION_USES}}
