"""A FHIR source -> the data contract's tables and the import log (docs/fhir.md).

``read_fhir`` is the shell (find and parse the files; malformed lines stop the run unless
``exclude_invalid``); ``fhir_to_contract`` is the core: the neutral frames of every resource type
through the shared modules (``facts`` for results, ``window`` for the data cut, last contact and
windows, the phase rules for therapy), then the contract's tables. Nothing here is specific to a
patient: every step is vectorised over the whole source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.contract import TABLES
from mrdtrack.errors import UserError
from mrdtrack.importers.drug_periods import drug_periods
from mrdtrack.importers.facts import facts_to_contract
from mrdtrack.importers.fhir import medications as med
from mrdtrack.importers.fhir import resources as res
from mrdtrack.importers.fhir.extract import KIND_OF
from mrdtrack.importers.fhir.parse import Parsed, frames, parse_files
from mrdtrack.importers.fhir.settings import FhirReadSettings
from mrdtrack.importers.fhir.source import find_fhir_files
from mrdtrack.importers.log import LOG_COLUMNS, concat_logs, count_lines, decision_log, log_line, log_rows
from mrdtrack.importers.mapping import PATIENT_ATTRIBUTES, Mapping, load_mapping
from mrdtrack.importers.phases import derive_treatments
from mrdtrack.importers.window import data_cut as find_data_cut
from mrdtrack.importers.window import event_rows, keep_in_window, last_contact, out_of_window

FHIR_MALFORMED_JSON = "FHIR_MALFORMED_JSON"
#: how many malformed lines the error message quotes (all are in the log with --exclude-invalid)
SHOWN_ERRORS = 10


@dataclass
class FhirImport:
    """The contract tables (dates as datetime64), the import log (log.LOG_COLUMNS), the data cut."""

    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame
    data_cut: pd.Timestamp


def malformed(parsed: Parsed, exclude_invalid: bool) -> list[dict]:
    """Malformed lines: a UserError naming file and line (exit 2), or with ``exclude_invalid`` one
    error line each in the log (the line skipped)."""
    if parsed.errors and not exclude_invalid:
        shown = "; ".join(f"{f} line {n}: {m}" for f, n, m in parsed.errors[:SHOWN_ERRORS])
        more = len(parsed.errors) - SHOWN_ERRORS
        raise UserError(f"{len(parsed.errors)} malformed FHIR line(s): {shown}" + (f"; and {more} more" if more > 0
                        else "") + ". Fix them, or rerun with --exclude-invalid to skip them (each listed in the "
                        "import log)")
    return [log_line(FHIR_MALFORMED_JSON, "error", f, f"line {n}: {m}: skipped", record=f"line {n}")
            for f, n, m in parsed.errors]


def read_fhir(source, mapping: Mapping | str | None = None, data_cut=None, today=None, exclude_invalid: bool = False,
              settings: FhirReadSettings | None = None, pre_diagnosis_days: int = 90) -> FhirImport:
    """Read a FHIR source (folder of Bulk ndjson or Bundle files) into contract tables."""
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    files = find_fhir_files(source)
    parsed = parse_files(files, settings)
    lines = [log_line(n["code"], n["severity"], n["file"], n["message"]) for n in files.notes]
    lines += malformed(parsed, exclude_invalid)
    out = fhir_to_contract(frames(parsed), dict(parsed.counts), mapping, data_cut,
                           pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today),
                           pre_diagnosis_days)
    out.log = concat_logs([lines, out.log])[LOG_COLUMNS]  # the pieces' paths are the OMOP ranges' business
    return out


def import_fhir(source, mapping: Mapping, data_cut=None, config=None, exclude_invalid: bool = False):
    """The FHIR branch of the COHORT dispatch (``importers.source``): an ``Imported``."""
    from mrdtrack.config import Config
    from mrdtrack.importers.omop.read import Imported

    config = config or Config()
    out = read_fhir(source, mapping, data_cut, exclude_invalid=exclude_invalid,
                    pre_diagnosis_days=config.pre_diagnosis_days)
    tables = {k: v.drop(columns="record", errors="ignore") for k, v in out.tables.items()}
    return Imported(tables, out.log, out.data_cut, str(source), "fhir")


def _in_cohort(rows: pd.DataFrame, cohort: set, what: str) -> tuple[pd.DataFrame, list[dict]]:
    keep = rows["patient_id"].isin(cohort).to_numpy()
    if keep.all():  # the usual case: no copy of a table of millions of rows
        return rows, []
    n = int((~keep).sum())
    lines = [log_line(res.FHIR_NOT_IN_COHORT, "info", what, f"{n} {what} row(s) of patients outside the cohort: "
                      "not used", n)] if n else []
    return rows[keep], lines


def cohort_patients(f: dict, mapping: Mapping) -> tuple[pd.DataFrame, dict, list, pd.DataFrame]:
    """Patients with a myeloma Condition (patient_id, sex, birth_date, death_date, center,
    diagnosis_date), the reference map of every Patient, the log, and second primary malignancies
    (patient_id, date, record: onset after diagnosis)."""
    patients, refs, log_p = res.read_patients(f["Patient"])
    dx, log_c, other = res.diagnoses(f["Condition"], refs, mapping.cohort)
    spm, log_s, n_spm = res.second_primaries(f["Condition"], refs, mapping.cohort)
    out = patients.merge(dx[["patient_id", "diagnosis_date"]], on="patient_id", how="inner")
    left = patients[~patients["patient_id"].isin(dx["patient_id"])]
    after = (spm["date"] > spm["patient_id"].map(out.set_index("patient_id")["diagnosis_date"])).to_numpy()
    logs = [log_p, log_c, log_s, med.unrelated_lines({"Condition": other - n_spm + int((~after).sum())}),
            log_rows(res.FHIR_NOT_IN_COHORT, "info", left["record"], left["patient_id"],
                     "no Condition matching the cohort rule: not in the cohort")]
    return out, refs, logs, spm[after]


def _windowed(rows: pd.DataFrame, table: str, p: pd.DataFrame, cut, pre_days: int) -> tuple[pd.DataFrame, list]:
    """Rows inside the contract's windows, sorted by patient, date and test (or method, modality),
    so that the order of files and lines never changes the tables."""
    dx, death = p.set_index("patient_id")["diagnosis_date"], p.set_index("patient_id")["death_date"].dropna()
    rows, lines = keep_in_window(rows, table, out_of_window(rows, dx, death, cut, pre_days))
    keys = ["patient_id", "date"] + [c for c in ("test", "method", "modality") if c in rows]
    order = np.lexsort([pd.factorize(rows[k], sort=True)[0] for k in reversed(keys)])  # stable, on integer codes
    return rows.iloc[order].reset_index(drop=True), lines


def _age(p: pd.DataFrame) -> pd.Series:
    """Whole years from birthDate to diagnosis_date (blank without a birth date)."""
    b, d = p["birth_date"], p["diagnosis_date"]
    years = d.dt.year - b.dt.year - ((d.dt.month * 100 + d.dt.day) < (b.dt.month * 100 + b.dt.day))
    return years.astype("Int64")


def patients_table(p: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    out = p.assign(age_at_diagnosis=_age(p)).merge(attributes, on="patient_id", how="left")
    for a in PATIENT_ATTRIBUTES:
        if a not in out:
            out[a] = None
    cols = TABLES["patients"].column_names
    return out[cols].sort_values("patient_id", kind="stable").reset_index(drop=True)


def events_table(p: pd.DataFrame, progressions: pd.DataFrame, contact: pd.Series, spm: pd.DataFrame) -> pd.DataFrame:
    """progression (recorded, from mCODE), spm (second primary malignancy), death
    (deceasedDateTime), last_contact."""
    dead = p.dropna(subset=["death_date"])
    return event_rows([(progressions["patient_id"], progressions["date"], "progression"),
                       (spm["patient_id"], spm["date"], "spm"), (dead["patient_id"], dead["death_date"], "death"),
                       (contact.index.to_numpy(dtype=object), contact.to_numpy(), "last_contact")],
                      order=["progression", "spm", "death", "last_contact"])


def therapy(records: pd.DataFrame, tx: pd.DataFrame, p: pd.DataFrame, progs: pd.DataFrame, cut,
            rules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Treatments by the phases-from-drugs rules; an open end with status active runs to the cut."""
    records = records.assign(end_date=records["end_date"].where(~records["open_active"].astype(bool), cut))
    pts = p[["patient_id", "diagnosis_date", "death_date"]]
    periods, made = drug_periods(records, pts, cut, rules)
    procs = pd.DataFrame({"patient_id": tx["patient_id"], "date": tx["date"], "record_id": tx["record"]})
    treatments, decisions = derive_treatments(periods, procs, pts, progs[["patient_id", "date"]], cut, rules)
    return treatments, decision_log(pd.concat([made, decisions], ignore_index=True), "treatments")


def _used_counts(counts: dict, used: dict[str, int]) -> list[dict]:
    """In / used / not used per read resource type (in = used + not used); other types counted."""
    lines = []
    for rtype in sorted(counts):
        if rtype in KIND_OF:
            lines += count_lines(rtype, counts[rtype], min(used.get(rtype, 0), counts[rtype]))
    lines += med.unrelated_lines({t: n for t, n in counts.items() if t not in KIND_OF})
    return lines


def _drug_records_used(decisions: pd.DataFrame) -> dict[str, int]:
    """Medication resources per type that made a drug period (the DRUG_PERIOD lines' records)."""
    made = decisions.loc[decisions["code"] == "DRUG_PERIOD", "record"].astype(str)
    ids = made.str.split(";").explode().drop_duplicates()
    return ids.str.extract(r"^([A-Za-z]+)/", expand=False).value_counts().to_dict()


def _medications_used(f: dict, records: pd.DataFrame) -> int:
    """Medication resources referenced by a used medication record."""
    uses = f["MedicationUse"]
    refs = set(uses.loc[uses["record"].isin(records["record_id"]), "med_ref"].dropna())
    meds = f["Medication"]
    return int((("Medication/" + meds["id"].astype(str)).isin(refs) | meds["full_url"].isin(refs)).sum())


def fhir_to_contract(f: dict[str, pd.DataFrame], counts: dict[str, int], mapping: Mapping, given_cut, today,
                     pre_diagnosis_days: int = 90) -> FhirImport:
    """The core of the FHIR door: neutral frames -> contract tables, data cut and log."""
    rules = mapping.phase_rules()
    p, refs, logs, spm = cohort_patients(f, mapping)
    cohort = set(p["patient_id"])
    facts, progs, log_o = res.observations(f["Observation"], refs)
    contacts, log_e = res.contacts(f["Encounter"], refs)
    records, log_m = med.drug_records(f["MedicationUse"], f["Medication"], refs, mapping, rules)
    tx, log_t, other_procedures = med.transplants(f["Procedure"], refs, mapping, rules)
    logs += [log_o, log_e, log_m, log_t, med.unrelated_lines({"Procedure": other_procedures})]
    facts, l1 = _in_cohort(facts, cohort, "Observation")
    progs, l2 = _in_cohort(progs, cohort, "progression")
    contacts, l3 = _in_cohort(contacts, cohort, "Encounter")
    records, l4 = _in_cohort(records, cohort, "medication")
    tx, l5 = _in_cohort(tx, cohort, "Procedure")
    fr = facts_to_contract(facts, mapping, table="Observation")
    cut = find_data_cut([fr.labs["date"], fr.mrd["date"], fr.imaging["date"], p["death_date"], contacts["date"],
                         progs["date"]], today, given_cut)
    labs, w1 = _windowed(fr.labs, "labs", p, cut, pre_diagnosis_days)
    mrd, w2 = _windowed(fr.mrd, "mrd", p, cut, pre_diagnosis_days)
    imaging, w3 = _windowed(fr.imaging, "imaging", p, cut, pre_diagnosis_days)
    progs, w4 = _windowed(progs, "progression", p, cut, pre_diagnosis_days)
    spm, w5 = _windowed(spm.drop_duplicates(["patient_id", "date"]), "spm", p, cut, pre_diagnosis_days)
    seen = pd.concat([x[["patient_id", "date"]] for x in (contacts, labs, mrd, imaging)], ignore_index=True)
    contact = last_contact(seen, p.set_index("patient_id")["death_date"].dropna(), cut)
    treatments, decisions = therapy(records, tx, p, progs, cut, rules)
    tables = {"patients": patients_table(p, fr.attributes), "treatments": treatments, "labs": labs, "mrd": mrd,
              "events": events_table(p, progs, contact, spm), "imaging": imaging}
    used = {**_drug_records_used(decisions), "Patient": len(p), "Condition": len(p) + len(spm), "Encounter": len(contacts),
            "Procedure": len(tx), "Medication": _medications_used(f, records),
            "Observation": len(labs) + len(mrd) + len(imaging) + len(progs) + fr.used.get("patients", 0)}
    log = concat_logs(logs + [l1, l2, l3, l4, l5, fr.log, w1, w2, w3, w4, w5, decisions, _used_counts(counts, used)])
    return FhirImport(tables, log, cut)
