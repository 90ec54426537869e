"""Each read FHIR resource type -> the source-neutral frames (docs/fhir.md "Resources read").

Vectorised over whole tables: status and intent filters, subject references, the date rules, and
the fields each rule uses. Every resource left out gets a log line with its record and reason
(``FHIR_STATUS_IGNORED`` for statuses and intents the rules do not read, ``FHIR_MISSING_REFERENCE``,
``FHIR_PARTIAL_DATE``, ``FHIR_NO_DATE``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.importers.facts import FACT_COLUMNS
from mrdtrack.importers.fhir.resolve import (
    date_problem_log,
    fhir_dates,
    missing_patient_log,
    patient_ids,
    reference_map,
    resolve_patients,
)
from mrdtrack.importers.log import concat_logs, log_frame, log_line, log_rows
from mrdtrack.importers.mapping import SPM_ICD10, SPM_SNOMED, CohortRule

FHIR_STATUS_IGNORED = "FHIR_STATUS_IGNORED"
FHIR_DECEASED_NO_DATE = "FHIR_DECEASED_NO_DATE"
FHIR_NOT_IN_COHORT = "FHIR_NOT_IN_COHORT"
FHIR_UNRELATED_RESOURCE = "FHIR_UNRELATED_RESOURCE"

OBSERVATION_STATUSES = ("final", "amended", "corrected")
ENCOUNTER_STATUSES = ("finished", "in-progress")
PROCEDURE_STATUSES = ("completed",)
CONDITION_EXCLUDED = ("refuted", "entered-in-error")
USE_IGNORED_STATUSES = ("entered-in-error", "not-done", "not-taken", "cancelled", "intended")
REQUEST_INTENTS = ("order", "original-order", "reflex-order", "filler-order", "instance-order")
SEX = {"female": "F", "male": "M"}
#: mCODE CancerDiseaseStatus (LOINC) and its "worsened" answer (SNOMED CT)
CANCER_DISEASE_STATUS, WORSENED = "97509-4", "271299001"


def _ignored(rows: pd.DataFrame, keep: np.ndarray, why, pid=None) -> pd.DataFrame:
    """FHIR_STATUS_IGNORED lines for the rows not kept; ``why`` is a text or a function of the
    rows left out giving one text each (built for those rows only)."""
    bad = ~keep
    if not bad.any():
        return log_frame()
    left = rows[bad]
    detail = why if isinstance(why, str) else why(left)
    return log_rows(FHIR_STATUS_IGNORED, "info", left["record"],
                    [None] * len(left) if pid is None else np.asarray(pid, dtype=object)[bad], detail)


def _status_is(what: str, column: str = "status", tail: str = "not read"):
    return lambda rows: f"{what} with {column} '" + rows[column].astype(str) + f"': {tail}"


def _with_patient(rows: pd.DataFrame, refs: dict, column: str = "subject") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows whose reference names a patient of the source (with ``patient_id``), and the log."""
    pid = resolve_patients(rows[column], refs)
    ok = pid.notna().to_numpy()
    return rows.assign(patient_id=pid)[ok], missing_patient_log(rows, pid)


def _dated(rows: pd.DataFrame, column: str, what: str, out: str = "date") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with a usable ``out`` date from ``column`` (partial or missing dates logged)."""
    dates, problem = fhir_dates(rows[column])
    ok = problem.isna().to_numpy()
    return rows.assign(**{out: dates})[ok], date_problem_log(rows, problem, rows["patient_id"], column, what)


def read_patients(df: pd.DataFrame) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Patients (patient_id, sex, birth_date, death_date, center, record), the reference map and the log.

    sex from gender (female F, male M, else U); a partial birthDate or deceasedDateTime leaves the
    age or the death unknown (logged); deceasedBoolean true without a date is logged."""
    p, log = patient_ids(df)
    birth, b_problem = fhir_dates(p["birth"])
    death, d_problem = fhir_dates(p["deceased_at"])
    logs = [log,
            date_problem_log(p, b_problem.where(p["birth"].notna()), p["patient_id"], "birth",
                             "birthDate (age at diagnosis left blank)"),
            date_problem_log(p, d_problem.where(p["deceased_at"].notna()), p["patient_id"], "deceased_at",
                             "deceasedDateTime (death not read)")]
    flag = (p["deceased_flag"].astype(object) == True) & p["deceased_at"].isna()  # noqa: E712
    if flag.any():
        logs.append(log_rows(FHIR_DECEASED_NO_DATE, "warning", p["record"][flag], p["patient_id"][flag],
                             "deceasedBoolean true without a date: follow-up ends at the last contact"))
    out = pd.DataFrame({"patient_id": p["patient_id"].astype(object), "sex": p["gender"].map(SEX).fillna("U"),
                        "birth_date": birth, "death_date": death, "center": p["center"], "record": p["record"]})
    return out, reference_map(p, "Patient", "patient_id"), concat_logs(logs)


def _cohort_match(c: pd.DataFrame, rule: CohortRule) -> np.ndarray:
    """SNOMED CT code listed exactly, or ICD-10(-CM) code starting with a listed one (dot optional)."""
    snomed = c["snomed"].astype("string").str.split("|").explode()
    hit = snomed.isin(rule.snomed).groupby(level=0).any().reindex(c.index, fill_value=False).to_numpy()
    if rule.icd10:
        prefixes = tuple(p.replace(".", "").upper() for p in rule.icd10)
        icd = c["icd10"].astype("string").str.replace(".", "", regex=False).str.upper().str.split("|").explode()
        icd_hit = icd.dropna().map(lambda s: s.startswith(prefixes))
        hit |= icd_hit.groupby(level=0).any().reindex(c.index, fill_value=False).to_numpy(dtype=bool)
    return hit


def _usable_conditions(c: pd.DataFrame, refs: dict) -> tuple[pd.DataFrame, list]:
    """Matched Conditions less the refuted and entered-in-error ones, with a known patient and a
    full date; the log lines of every one left out."""
    ver = c["verification"].astype("string").str.split("|")
    refuted = ver.map(lambda v: isinstance(v, list) and any(x in CONDITION_EXCLUDED for x in v)).to_numpy(dtype=bool)
    logs = [_ignored(c, ~refuted, _status_is("Condition", "verification"))]
    c, miss = _with_patient(c[~refuted], refs)
    c, dated = _dated(c, "date", "Condition (onset, else recordedDate)")
    return c, logs + [miss, dated]


def diagnoses(df: pd.DataFrame, refs: dict, rule: CohortRule) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The cohort: per patient the earliest matching Condition date (patient_id, diagnosis_date,
    record); refuted and entered-in-error Conditions left out; the log; other Conditions counted."""
    hit = _cohort_match(df, rule)
    c, logs = _usable_conditions(df[hit], refs)
    first = c.sort_values(["patient_id", "date"], kind="stable").drop_duplicates("patient_id")
    out = first[["patient_id", "date", "record"]].rename(columns={"date": "diagnosis_date"}).reset_index(drop=True)
    return out, concat_logs(logs), int((~hit).sum())


#: a second primary malignancy (mrdtrack convention, docs/fhir.md): SNOMED CT "malignant neoplastic
#: disease", or an ICD-10(-CM) C code other than C90 (myeloma, plasma-cell neoplasms) and C77-C80
#: (secondary or unspecified sites), with an onset after the diagnosis date (mapping.SPM_SNOMED, SPM_ICD10)
def _spm_match(c: pd.DataFrame) -> np.ndarray:
    snomed = c["snomed"].astype("string").str.split("|").explode()
    hit = snomed.isin(SPM_SNOMED).groupby(level=0).any().reindex(c.index, fill_value=False).to_numpy(dtype=bool)
    icd = c["icd10"].astype("string").str.replace(".", "", regex=False).str.upper().str.split("|").explode().dropna()
    icd_hit = icd.str.match(SPM_ICD10).groupby(level=0).any().reindex(c.index, fill_value=False)
    return hit | icd_hit.to_numpy(dtype=bool)


def second_primaries(df: pd.DataFrame, refs: dict, rule: CohortRule) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Conditions that are a second primary malignancy (SPM_SNOMED, SPM_ICD10; not the cohort's own
    codes; refuted and entered-in-error left out): (patient_id, date, record), the log, their count."""
    hit = _spm_match(df) & ~_cohort_match(df, rule)
    c, logs = _usable_conditions(df[hit], refs)
    return c[["patient_id", "date", "record"]].reset_index(drop=True), concat_logs(logs), int(hit.sum())


def _facts(o: pd.DataFrame, pid: np.ndarray, dates: np.ndarray) -> pd.DataFrame:
    n = len(o)
    return pd.DataFrame({
        "patient_id": pid, "date": dates, "loinc": o["loinc"].to_numpy(dtype=object),
        "concept_id": pd.array([pd.NA] * n, dtype="Int64"), "source_concept_id": pd.array([pd.NA] * n, dtype="Int64"),
        "source_values": o["source_values"].to_numpy(dtype=object),
        "value_number": pd.to_numeric(o["value_number"], errors="coerce").to_numpy(dtype="float64"),
        "operator": o["operator"].to_numpy(dtype=object), "unit": o["unit"].to_numpy(dtype=object),
        "value_code": o["value_code"].to_numpy(dtype=object), "value_text": o["value_text"].to_numpy(dtype=object),
        "range_low": pd.to_numeric(o["range_low"], errors="coerce").to_numpy(dtype="float64"),
        "record": o["record"].to_numpy(dtype=object)}, columns=FACT_COLUMNS)


def observations(df: pd.DataFrame, refs: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(facts with FACT_COLUMNS, recorded progressions (patient_id, date, record), log).

    Status final, amended or corrected only; date = effectiveDateTime, else effectivePeriod.start,
    else issued; mCODE CancerDiseaseStatus 'worsened' is a recorded progression. One mask over the
    whole table, the rows taken once (an export holds millions of Observations)."""
    keep = df["status"].isin(OBSERVATION_STATUSES).to_numpy()
    pid = resolve_patients(df["subject"], refs)
    dates, problem = fhir_dates(df["date"])
    has_pid = pid.notna().to_numpy()
    logs = [_ignored(df, keep, _status_is("Observation")),
            missing_patient_log(df[keep & ~has_pid], pid[keep & ~has_pid]),
            date_problem_log(df[keep & has_pid], problem[keep & has_pid], pid[keep & has_pid], "date",
                             "Observation (effective, else issued)")]
    ok = keep & has_pid & problem.isna().to_numpy()
    status = ok & (df["loinc"] == CANCER_DISEASE_STATUS).to_numpy()
    worse = status & (df["value_snomed"] == WORSENED).to_numpy()
    prog = pd.DataFrame({"patient_id": pid[worse].to_numpy(dtype=object), "date": dates[worse].to_numpy(),
                         "record": df["record"][worse].to_numpy(dtype=object)})
    if (status & ~worse).any():
        logs.append([log_line(FHIR_STATUS_IGNORED, "info", "Observation", "CancerDiseaseStatus other than worsened: "
                              "no progression", int((status & ~worse).sum()))])
    take = ok & ~status
    facts = _facts(df[take], pid[take].to_numpy(dtype=object), dates[take].to_numpy())
    return facts, prog, concat_logs(logs)


def contacts(df: pd.DataFrame, refs: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Encounters of status finished or in-progress: (patient_id, date = period.end else start, record)."""
    keep = df["status"].isin(ENCOUNTER_STATUSES).to_numpy()
    logs = [_ignored(df, keep, _status_is("Encounter", tail="not a contact"))]
    e, miss = _with_patient(df[keep], refs)
    e, dated = _dated(e, "date", "Encounter (period)")
    return e[["patient_id", "date", "record"]].reset_index(drop=True), concat_logs(logs + [miss, dated])
