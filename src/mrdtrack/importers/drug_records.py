"""The other way round: a contract ``treatments`` table -> drug records and transplant procedures
that the phases-from-drugs rules (docs/phases-from-drugs.md) turn back into the same phases wherever
the contract has no gaps the drugs cannot show. Used by the OMOP and FHIR writers of the simulator
and by the round-trip test.

Regimen names are read by ``regimen_ingredients``: a name from ``REGIMEN_ABBREVIATIONS`` (any case),
else ingredient names or abbreviations joined by ``+``, ``-``, ``/`` or ``,``.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from mrdtrack.errors import UserError
from mrdtrack.importers.line_rules import regimen_name
from mrdtrack.importers.phase_rules import PhaseRules

B, C, D, K = "bortezomib", "cyclophosphamide", "dexamethasone", "carfilzomib"
R, T, P, DARA = "lenalidomide", "thalidomide", "pomalidomide", "daratumumab"

#: Regimen abbreviations (upper case) -> ingredients. The simulator writes VRD, MEL200, lenalidomide
#: and daratumumab-lenalidomide-dexamethasone; the others are the usual myeloma abbreviations.
REGIMEN_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "VRD": (B, R, D), "RVD": (B, R, D), "KRD": (K, R, D), "DRD": (DARA, R, D), "RD": (R, D),
    "DVRD": (DARA, B, R, D), "D-VRD": (DARA, B, R, D), "VTD": (B, T, D), "DVTD": (DARA, B, T, D),
    "VCD": (B, C, D), "CYBORD": (B, C, D), "VD": (B, D), "DVD": (DARA, B, D), "KD": (K, D), "DKD": (DARA, K, D),
    "PD": (P, D), "DPD": (DARA, P, D), "KPD": (K, P, D), "PVD": (P, B, D), "IRD": ("ixazomib", R, D),
    "ISAPD": ("isatuximab", P, D), "ISAKD": ("isatuximab", K, D), "ELORD": ("elotuzumab", R, D),
    "ELOPD": ("elotuzumab", P, D), "MEL200": ("melphalan",), "MEL140": ("melphalan",), "HDM": ("melphalan",),
}
DRUG_COLUMNS = ["patient_id", "ingredient", "start_date", "end_date", "record_id"]
PROCEDURE_COLUMNS = ["patient_id", "date", "record_id"]


#: A dose written after an ingredient's name in a regimen ("melphalan 200", "melphalan 140 mg/m2").
_DOSE = re.compile(r"\s+\d+(?:\.\d+)?\s*(?:mg(?:/m2)?)?$", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def regimen_ingredients(name: str, rules: PhaseRules) -> tuple[str, ...]:
    """The ingredients of a regimen name (raises ``UserError`` for a part it does not know)."""
    known = set(rules.known_ingredients())
    text = _DOSE.sub("", " ".join(str(name).split()))
    if text.upper() in REGIMEN_ABBREVIATIONS:
        return REGIMEN_ABBREVIATIONS[text.upper()]
    if text.lower() in known:
        return (text.lower(),)
    out: list[str] = []
    for part in (s.strip() for s in re.split(r"[+\-/,]", text) if s.strip()):
        part = _DOSE.sub("", part)  # "melphalan 200", "melphalan 140 mg/m2": the dose names no ingredient
        if part.lower() in known:
            out.append(part.lower())
        elif part.upper() in REGIMEN_ABBREVIATIONS:
            out += REGIMEN_ABBREVIATIONS[part.upper()]
        else:
            raise UserError(f"regimen {name!r}: {part!r} is neither an ingredient nor a known abbreviation")
    return tuple(dict.fromkeys(out))


def canonical_regimen(name, rules: PhaseRules) -> str | None:
    """A regimen name as the rules write it (non-partners alphabetically, then partners, '+')."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or not str(name).strip():
        return None
    ings = regimen_ingredients(name, rules)
    partners = set(rules.partners)
    return regimen_name([i for i in ings if i not in partners], [i for i in ings if i in partners])


def treatments_to_drug_records(treatments: pd.DataFrame, rules: PhaseRules,
                               data_cut=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drug records (``DRUG_COLUMNS``) and transplant procedures (``PROCEDURE_COLUMNS``).

    Each non-transplant phase gives one record per ingredient of its regimen, from its start to its
    end; an ongoing phase (blank end) runs to ``data_cut``, or keeps a blank end when no data cut is
    given (a FHIR writer marks it active). A transplant gives a procedure on its date and, when its
    regimen is melphalan, a one-day melphalan record conditioning_transplant_offset_days before it.
    """
    tr = treatments.reset_index(drop=True)
    cut = pd.NaT if data_cut is None else pd.Timestamp(data_cut)
    ings = [regimen_ingredients(r, rules) if isinstance(r, str) and r.strip() else () for r in tr["regimen"]]
    is_tx = (tr["phase"] == "transplant").to_numpy()
    rows = np.repeat(np.arange(len(tr)), [len(i) for i in ings])
    flat = np.array([x for i in ings for x in i], dtype=object)
    drugs = pd.DataFrame({"patient_id": tr["patient_id"].to_numpy()[rows], "ingredient": flat,
                          "start_date": tr["start_date"].to_numpy()[rows],
                          "end_date": tr["end_date"].fillna(cut).to_numpy()[rows],
                          "record_id": [f"T{r}-{k}" for r, k in zip(rows, _rank_within(rows))]})
    tx_drug = is_tx[rows]
    offset = pd.Timedelta(days=rules.conditioning_transplant_offset_days)
    drugs.loc[tx_drug, "start_date"] = drugs.loc[tx_drug, "start_date"] - offset
    drugs.loc[tx_drug, "end_date"] = drugs.loc[tx_drug, "start_date"]
    procedures = pd.DataFrame({"patient_id": tr["patient_id"].to_numpy()[is_tx],
                               "date": tr["start_date"].to_numpy()[is_tx],
                               "record_id": [f"T{r}-tx" for r in np.flatnonzero(is_tx)]}, columns=PROCEDURE_COLUMNS)
    return drugs[DRUG_COLUMNS], procedures


def _rank_within(rows: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of ``rows`` (sorted)."""
    if len(rows) == 0:
        return rows
    first = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    return np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
