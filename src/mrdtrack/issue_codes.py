"""The stable issue codes: every line of ``issues.csv`` (and ``import_log.csv``) carries one.

A code names the rule that produced the line (UPPER_SNAKE_CASE); its English message may change
between versions, its code does not. Code that groups, filters or reacts to issues reads the code,
never the message. ``python -m mrdtrack.issue_codes`` prints docs/issues.md (``make docs``).
"""

from __future__ import annotations

#: code -> one-line meaning. Grouped by area; each area keeps its own block.
CODES: dict[str, str] = {
    # ---------------------------------------------------------------- files and tables (readers)
    "FILE_UNREADABLE": "a file or sheet cannot be read as a table (binary content, wrong delimiter, bad UTF-8, "
                       "empty, not Parquet/xlsx, bad header); the table is not read",
    "FILE_BOTH_FORMATS": "both name.csv and name.parquet are present; neither is used",
    "CSV_MALFORMED_LINE": "a CSV line cannot be parsed (an unclosed quote); the rest of the file is not read",
    "CSV_FIELD_COUNT": "a CSV line has a different number of fields than the header; the line is not read",
    "TABLE_MISSING": "a required table is missing",
    "COLUMN_MISSING": "a required column is missing; the table is not read",
    "COLUMN_RESERVED": "a column has a name the reader reserves for itself; it is ignored",
    # ---------------------------------------------------------------- cells (data contract)
    "CELL_TOO_LONG": "a cell is longer than max_cell_chars (a corrupt or misaligned file)",
    "VALUE_MISSING": "a required value is blank",
    "INVALID_DATE": "a date cell is not an ISO date (YYYY-MM-DD) or is an impossible date",
    "INVALID_NUMBER": "a number cell is not a number",
    "NOT_WHOLE_NUMBER": "an integer column holds a fraction",
    "OUT_OF_RANGE": "a number is outside the column's range",
    "UNKNOWN_CATEGORY": "a value is not among the column's accepted values",
    "LAB_UNKNOWN_TEST": "a labs row names a test the contract does not know",
    "LAB_INVALID_VALUE": "a numeric lab test has a value that is not a number",
    "LAB_MISSING_UNIT": "a numeric lab test has no unit",
    "LAB_UNKNOWN_UNIT": "a numeric lab test has a unit that is not among the test's accepted units",
    "LAB_OUT_OF_RANGE": "a lab value (in the canonical unit) is outside the test's range",
    "LAB_UNKNOWN_VALUE": "a text lab test has a value that is not among its accepted words",
    "LAB_UNIT_IGNORED": "a unit given for a text lab test is ignored",
    "LAB_CENSORED_ZERO": "a lab value written below a limit ('<0.1') of serum or urine M-protein is read as 0 "
                         "(not measurable on electrophoresis)",
    "LAB_CENSORED_AT_LIMIT": "a free light chain value written below a limit ('<0.1') is read as the limit",
    "LAB_CENSORED_NOT_ALLOWED": "a value written below a limit for a test where a limit cannot stand for a value",
    "MRD_LEVEL_MISSING": "an MRD sample with result 'detected' has no level",
    # ---------------------------------------------------------------- consistency and data cut
    "AFTER_DATA_CUT": "a row dated after the data cut is not used",
    "END_AFTER_DATA_CUT": "a phase ending after the data cut is treated as ongoing at the data cut",
    "DIAGNOSIS_AFTER_DATA_CUT": "a patient diagnosed after the data cut is not used",
    "DUPLICATE_ROW": "an exact duplicate row is counted once",
    "DUPLICATE_PATIENT": "a patient_id appears on more than one patients row",
    "ORPHAN_PATIENT_ID": "a patient_id is not in the patients table",
    "DATE_BEFORE_DIAGNOSIS": "a date is more than pre_diagnosis_days before the patient's diagnosis_date",
    "DATE_AFTER_DEATH": "a date is after the patient's death",
    "PHASE_END_BEFORE_START": "a treatment phase ends before it starts",
    "LAB_CONFLICT": "the same test on the same date has two different values",
    "MAINTENANCE_NOT_UNIQUE": "a patient has more than one first-line maintenance row",
    "LIGHT_CHAIN_MISSING": "light_chain is blank but the patient has free light chain results",
    "PATIENT_LEFT_OUT": "a patient is left out whole (--exclude-invalid or diagnosis after the data cut); "
                        "its remaining rows of the table are not used",
    # ---------------------------------------------------------------- derivations (per patient)
    "NO_FOLLOWUP_END": "no death or last_contact event: follow-up ends at the latest date of the patient's tables",
    "NOT_MEASURABLE": "no serum, urine, FLC or marrow parameter is measurable at baseline: no response derived",
    "LAB_SUPERSEDED": "a lab result is superseded by another of the same test in one assessment window",
    "PD_UNCONFIRMED": "an assessment meets progression but is not (yet) confirmed",
    "RECORDED_RESPONSE_DIFFERS": "a recorded response disagrees with the derived one (lab values given)",
    "RECORDED_RESPONSE_UNMATCHED": "a recorded response has no derived assessment within the window",
    "PROGRESSION_DISAGREES": "derived and recorded progression differ by more than progression_agreement_days, "
                             "or only one exists",
    "MRD_PATIENT_UNKNOWN": "an MRD sample belongs to a patient outside the analysed patients",
    "MRD_SLOPE_ONE_DATE": "MRD slope not estimated: all entry and on-maintenance samples share one date",
    "MRD_SLOPE_NO_MLE": "MRD slope not estimated: the censored likelihood has no maximum",
    "MRD_SLOPE_NOT_CONVERGED": "MRD slope not estimated: the censored (Tobit) fit did not converge",
    "NOT_IN_MAINTENANCE_COHORT": "a patient is left out of the maintenance cohort (endpoints and MRD figures)",
    "EVENT_BEFORE_MAINTENANCE": "an event or the end of follow-up falls before maintenance start",
    # ---------------------------------------------------------------- cohort statistics
    "TOO_FEW_GROUPS": "fewer than two groups with patients: the comparison is not estimable",
    "GROUP_WITHOUT_EVENTS": "a group has no events: its hazard ratio is not estimable",
    "LOGRANK_EMPTY_GROUP": "a log-rank test has a group without patients or events",
    "COX_NOT_CONVERGED": "a Cox model did not converge: its estimates are not shown",
    "COX_INFINITE_COEFFICIENT": "a Cox coefficient may be infinite (monotone likelihood): not estimable",
    "COX_FAILED": "a Cox model could not be fitted (singular design or no usable rows)",
    "PH_VIOLATED": "the proportional-hazards test (cox.zph) rejects at p < 0.05: interpret the hazard ratio "
                   "as an average over time",
    "TIME_VARYING_NOT_FITTED": "time-varying Cox: no events or MRD status never varies: not fitted",
    "NO_ENDPOINT_PATIENTS": "no patient has this endpoint: no curve",
    # ---------------------------------------------------------------- competing risks
    "CIF_CAUSE_ABSENT": "a competing cause (progression, death without progression, SPM) does not occur in an MRD "
                        "trend group, or at all: its cumulative incidence stays at 0",
    "GRAY_NOT_ESTIMABLE": "Gray's test cannot be computed (fewer than two groups, or a singular variance)",
    "FINEGRAY_NOT_CONVERGED": "the Fine-Gray model did not converge in crr's 10 iterations",
    "FINEGRAY_NOT_ESTIMABLE": "a Fine-Gray hazard ratio cannot be estimated (no progression in a group, a "
                              "coefficient growing without bound, or too few groups): reported as not estimable",
    "SPM_BEFORE_MAINTENANCE": "a second primary malignancy before maintenance start: the patient is left out of the "
                              "SPM cumulative incidence",
    # ---------------------------------------------------------------- OMOP / FHIR import (docs/omop.md)
    "UNMAPPED_CONCEPT": "rows of a cohort person whose concept no mapping selector picks, summarised by concept "
                        "with their count (docs/mapping.md)",
    "OUT_OF_WINDOW": "imported rows outside the contract's windows (before diagnosis - pre_diagnosis_days, after "
                     "death, after the data cut), kept out and counted; drug periods clipped",
    "IMPORT_NO_UNIT": "an imported numeric result has no unit (unit concept 0 or missing, no source unit): not used",
    "IMPORT_NO_VALUE": "an imported result of a numeric test has no numeric value: not used",
    "IMPORT_BAD_VALUE": "an imported categorical result or patient attribute is not a known answer: not used",
    "IMPORT_OPERATOR": "an imported value stated above a limit ('>', '>=') cannot be used",
    "IMPORT_LATER_CODE_SAME_DATE": "a result set aside: a code listed earlier in the same selector has a result "
                                   "on the same date",
    "NEGATIVE_LESION_LEFT_OUT": "a negative new-lesion result is no row of the contract (left out)",
    "MRD_NO_SCALE": "an MRD result whose unit is not %, {fraction} or 1 and whose selector gives no scale",
    "MRD_NO_LOD": "an MRD result states no limit of detection ('<' value, selector lod or range_low)",
    "LIGHT_CHAIN_FROM_RATIO": "light_chain set from the first kappa/lambda ratio (> 1.65 kappa, < 0.26 lambda)",
    "PHASE_FROM_EPISODE": "a therapy phase taken from an Oncology-extension treatment-regimen episode",
    "DECIMAL_ROUNDS_VALUES": "measurement.value_as_number or range_low is a DECIMAL with fewer than 6 decimals: "
                             "MRD levels are rounded in the database",
    "IMPORT_ROWS_IN": "rows of a source table read for the cohort's persons",
    "IMPORT_ROWS_USED": "rows of a source table that became contract rows",
    "IMPORT_ROWS_NOT_USED": "rows of a source table not used (in = used + not used; the reasons are on other lines)",
    # ---------------------------------------------------------------- phases from drugs
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
    # ---------------------------------------------------------------- engines (partitioned, Spark)
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


def meaning(code: str) -> str:
    """The one-line meaning of a registered code (KeyError for an unknown code)."""
    return CODES[code]


def markdown() -> str:
    """docs/issues.md: every code with its meaning."""
    lines = ["# Issue codes (generated from `src/mrdtrack/issue_codes.py`; do not edit by hand)", "",
             "Every line of `issues.csv` and `import_log.csv` carries a stable `code` naming the rule that",
             "produced it. Messages are for people and may be reworded; codes are for programs and do not",
             "change. Filter on them (`severity` says how serious a line is: `error`, `warning`, `excluded`).",
             "", "| code | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {text} |" for code, text in CODES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
