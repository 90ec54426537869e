"""Medication resources -> drug records, Procedures -> transplants (docs/fhir.md "Drugs and procedures").

Drug records have the columns of the phase rules' ``drug_periods`` (patient_id, ingredient,
start_date, end_date, days_supply, record_id) plus ``open_active`` (an open end with status
active runs to the data cut, set once the cut is known). The ingredient is found by name
(``ingredients_in_text`` over the codings' displays and the texts, of the resource's own concept,
a contained Medication or a referenced one) or by the mapping's ``[drugs]`` source values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.importers.fhir.resolve import FHIR_MISSING_REFERENCE, fhir_dates, reference_map
from mrdtrack.importers.fhir.resources import (
    FHIR_UNRELATED_RESOURCE,
    PROCEDURE_STATUSES,
    REQUEST_INTENTS,
    USE_IGNORED_STATUSES,
    _dated,
    _ignored,
    _status_is,
    _with_patient,
)
from mrdtrack.importers.ingredients import ingredients_in_text
from mrdtrack.importers.log import concat_logs, log_line, log_rows
from mrdtrack.importers.mapping import Mapping, Selector

RECORD_COLUMNS = ["patient_id", "ingredient", "start_date", "end_date", "days_supply", "record_id", "open_active"]
FHIR_OTHER_MEDICATION = "FHIR_OTHER_MEDICATION"


def _use_filter(u: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statuses entered-in-error, not-done, not-taken, cancelled, intended and MedicationRequests
    whose intent is not an order (proposal, plan, ...) are not read (logged)."""
    bad_status = u["status"].isin(USE_IGNORED_STATUSES).to_numpy()
    request = (u["rtype"] == "MedicationRequest").to_numpy()
    bad_intent = request & ~u["intent"].isin(REQUEST_INTENTS).to_numpy() & ~bad_status
    keep = ~(bad_status | bad_intent)

    def why(left: pd.DataFrame) -> np.ndarray:
        return np.where(left["status"].isin(USE_IGNORED_STATUSES),
                        left["rtype"] + " with status '" + left["status"].astype(str) + "': not read",
                        "MedicationRequest with intent '" + left["intent"].astype(str) + "': not an order, not read")
    return u[keep], _ignored(u, keep, why)


def _medication_names(u: pd.DataFrame, meds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Names and codes of referenced Medications (``Medication/id`` or a Bundle fullUrl)."""
    ref = u["med_ref"].notna().to_numpy()
    if not ref.any():
        return u, concat_logs([])
    names, codes = reference_map(meds, "Medication", "names"), reference_map(meds, "Medication", "codes")
    found = u["med_ref"].map(lambda r: r in names).to_numpy(dtype=bool)
    u = u.assign(names=u["names"].where(~ref, u["med_ref"].map(names)),
                 codes=u["codes"].where(~ref, u["med_ref"].map(codes)))
    bad = ref & ~found
    log = log_rows(FHIR_MISSING_REFERENCE, "error", u["record"][bad], u["patient_id"][bad],
                   "medicationReference '" + u["med_ref"][bad].astype(str) + "' names no Medication: not read")
    return u[~bad], log


def _selector_hits(texts: pd.Series, selectors: dict[str, Selector]) -> pd.DataFrame:
    """(index_of_text, ingredient) where a code or name equals a ``[drugs]`` source value."""
    parts = texts.astype("string").str.lower().str.split("|").explode().str.strip().dropna()
    rows = []
    for ingredient, sel in selectors.items():
        values = {v.strip().lower() for v in sel.source_value}
        hit = parts[parts.isin(values)]
        rows.append(pd.DataFrame({"index_of_text": hit.index, "ingredient": ingredient.lower()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["index_of_text", "ingredient"])


def _ingredients(u: pd.DataFrame, mapping: Mapping, rules) -> tuple[pd.DataFrame, list]:
    """One row per (use, ingredient); uses naming no known ingredient summarised by name."""
    found = ingredients_in_text(u["names"].fillna(""), rules)
    if mapping.drugs:
        text = u["names"].fillna("") + "|" + u["codes"].fillna("")
        found = pd.concat([found, _selector_hits(text, mapping.drugs)]).drop_duplicates()
    other = u[~u.index.isin(found["index_of_text"])]
    lines = [log_line(FHIR_OTHER_MEDICATION, "info", "Medication", f"'{name}': {n} record(s) name no anti-myeloma "
                      "ingredient or partner: not read", n)
             for name, n in other["names"].fillna("(no name)").value_counts().sort_index().items()]
    rec = u.loc[found["index_of_text"]].assign(ingredient=found["ingredient"].to_numpy())
    return rec, lines


def drug_records(uses: pd.DataFrame, meds: pd.DataFrame, refs: dict, mapping: Mapping,
                 rules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drug records (RECORD_COLUMNS) from MedicationAdministration/Statement/Request/Dispense."""
    u, log_filter = _use_filter(uses)
    u, miss = _with_patient(u, refs)
    u, log_ref = _medication_names(u, meds)
    u, dated = _dated(u, "start", "medication record (start)", out="start_date")
    end, end_problem = fhir_dates(u["end"])
    rec, lines = _ingredients(u.assign(end_date=end.where(end_problem.isna())), mapping, rules)
    out = pd.DataFrame({"patient_id": rec["patient_id"].to_numpy(dtype=object),
                        "ingredient": rec["ingredient"].to_numpy(dtype=object),
                        "start_date": rec["start_date"].to_numpy(), "end_date": rec["end_date"].to_numpy(),
                        "days_supply": pd.to_numeric(rec["supply_days"], errors="coerce").to_numpy(),
                        "record_id": rec["record"].to_numpy(dtype=object),
                        "open_active": (rec["end"].isna() & (rec["status"] == "active")).to_numpy()},
                       columns=RECORD_COLUMNS)
    return out, concat_logs([log_filter, miss, log_ref, dated, lines])


def _is_transplant(p: pd.DataFrame, sel: Selector, words: tuple[str, ...]) -> np.ndarray:
    """The name holds every word of ``transplant_name_words`` ("autologous", "transplant"; any
    case), or a code or name is one of the mapping's ``[phases] transplant`` source values."""
    names = p["names"].astype("string").str.lower().fillna("")
    hit = np.ones(len(p), dtype=bool)
    for w in words:
        hit &= names.str.contains(w.lower(), regex=False).to_numpy(dtype=bool)
    if sel.source_value:
        text = (p["names"].fillna("") + "|" + p["codes"].fillna("")).astype(str)
        hit |= p.index.isin(_selector_hits(text, {"transplant": sel})["index_of_text"])
    return hit


def transplants(df: pd.DataFrame, refs: dict, mapping: Mapping, rules) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Completed transplant Procedures (patient_id, date, record), the log, and the count of
    other Procedures (unrelated)."""
    hit = _is_transplant(df, mapping.transplant, rules.transplant_name_words)
    p = df[hit]
    keep = p["status"].isin(PROCEDURE_STATUSES).to_numpy()
    log = _ignored(p, keep, _status_is("transplant Procedure"))
    p, miss = _with_patient(p[keep], refs)
    p, dated = _dated(p, "date", "transplant Procedure (performed)")
    out = p[["patient_id", "date", "record"]].reset_index(drop=True)
    return out, concat_logs([log, miss, dated]), int((~hit).sum())


def unrelated_lines(counts: dict[str, int]) -> list[dict]:
    """One count line per resource type (or group) mrdtrack does not use."""
    return [log_line(FHIR_UNRELATED_RESOURCE, "info", rtype, f"{n} {rtype} resource(s) not used by mrdtrack", n)
            for rtype, n in sorted(counts.items()) if n]
