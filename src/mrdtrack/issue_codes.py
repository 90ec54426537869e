"""The stable issue codes: every line of ``issues.csv`` (and ``import_log.csv``) carries one."""

from __future__ import annotations

#: code -> one-line meaning. Grouped by area; each area keeps its own block.
CODES: dict[str, str] = {
    # ---------------------------------------------------------------- phases from drugs (docs/phases-from-drugs.md)
    "DRUG_PERIOD": "a drug period of one ingredient, made of the listed drug records (persistence merge)",
    "DRUG_RECORD_NO_START": "a drug record has no start date; it is not used",
    "DRUG_RECORD_END_BEFORE_START": "a drug record ends before it starts; it is read as a one-day record",
    "DRUG_RECORD_AFTER_END": "a drug record starts after the patient's death or the data cut; it is not used",
    "DRUG_PERIOD_CLIPPED_DEATH": "a drug period runs past the patient's death; it is cut at the death date",
    "DRUG_PERIOD_CLIPPED_DATA_CUT": "a drug period runs past the data cut; it is cut at the data cut",
    "DRUG_PERIOD_BEFORE_LINE1": "a drug period ends before diagnosis_date - line1_before_diagnosis_days; not used",
    "PHASE_CONDITIONING": "a melphalan period of at most conditioning_max_days is transplant conditioning",
    "PHASE_MOBILISATION": "a short cyclophosphamide period before the first transplant is stem-cell mobilisation",
    "TRANSPLANT_FROM_PROCEDURE": "a recorded transplant procedure dates a transplant",
    "TRANSPLANT_FROM_CONDITIONING": "a conditioning with no procedure recorded after it dates a transplant",
    "TRANSPLANT_OUT_OF_WINDOW": "a transplant lies before line 1, after a later line start, or after death/data cut",
    "LINE_START": "line 1 starts at the earliest period ending on or after diagnosis - 30 days",
    "LINE_NEW_INGREDIENT": "a new line starts: an ingredient outside the line's regimen after the regimen window",
    "LINE_AFTER_PROGRESSION": "a new line starts: the first period start after a recorded progression",
    "LINE_AFTER_GAP": "a new line starts: the first period start after a gap of at least line_gap_days",
    "PHASE_INDUCTION": "line 1's induction phase",
    "PHASE_TRANSPLANT": "a transplant phase of line 1",
    "PHASE_CONSOLIDATION": "line 1's consolidation phase (>= 2 ingredients together soon after the first transplant)",
    "PHASE_MAINTENANCE": "line 1's maintenance phase",
    "MAINTENANCE_BRIDGED": "a gap shorter than line_gap_days within maintenance is bridged",
    "PHASE_LATER_LINE": "a later line of therapy (line >= 2)",
    # ---------------------------------------------------------------- FHIR R4 source (docs/fhir.md)
    "FHIR_MALFORMED_JSON": "a line (Bulk ndjson) or file (Bundle) is not valid JSON or not a FHIR resource; skipped",
    "FHIR_MISSING_REFERENCE": "a resource's patient or medication reference names nothing in the source; not read",
    "FHIR_PARTIAL_DATE": "a date is partial (year or year-month only); the resource (or that date) is not used",
    "FHIR_NO_DATE": "a resource has no usable date (missing or unreadable); not read",
    "FHIR_DUPLICATE_RESOURCE": "a Patient is given more than once; the first one is read",
    "FHIR_STATUS_IGNORED": "a resource's status or intent is not one the rules read (e.g. preliminary, proposal)",
    "FHIR_DECEASED_NO_DATE": "deceasedBoolean true without a date: follow-up ends at the last contact",
    "FHIR_NOT_IN_COHORT": "a patient has no Condition matching the cohort rule (or a row belongs to such a patient)",
    "FHIR_UNRELATED_RESOURCE": "resources of a type (or Conditions/Procedures) mrdtrack does not use, counted",
    "FHIR_OTHER_MEDICATION": "medication records naming no anti-myeloma ingredient or partner, counted by name",
    "FHIR_MANIFEST_FILE_MISSING": "the Bulk Data manifest lists a file that is not in the folder",
}
