"""Therapy phases of an OMOP source (docs/omop.md "Therapy phases").

1. Persons with Oncology-extension ``episode`` rows of concept 32531 (Treatment Regimen): one
   phase per row; ``episode_source_value`` naming a phase is that phase, else ``later_line`` when
   ``episode_number`` >= 2, else the phases-from-drugs rules on the episode's linked drugs.
2. Everyone else: phases derived from ``drug_exposure`` and ``procedure_occurrence`` by the
   phases-from-drugs rules (docs/phases-from-drugs.md, ``mrdtrack.importers.phases``), each
   decision in the import log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.contract import PHASES
from mrdtrack.importers.log import concat_logs, decision_log, log_frame, record_lines
from mrdtrack.importers.mapping import EPISODE_TREATMENT_REGIMEN
from mrdtrack.importers.omop import queries as Q
from mrdtrack.importers.omop.fact_rows import id_text
from mrdtrack.importers.window import keep_in_window, out_of_window

TREATMENT_COLUMNS = ["patient_id", "phase", "regimen", "start_date", "end_date", "end_reason"]
PHASE_FROM_EPISODE = "PHASE_FROM_EPISODE"


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c.endswith("_date") else object)
                         for c in TREATMENT_COLUMNS})


def episode_phases(episodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(treatments from named/numbered regimen episodes, episodes left for the drug rules, log)."""
    reg = episodes[episodes["episode_concept_id"] == EPISODE_TREATMENT_REGIMEN]
    name = reg["episode_source_value"].astype("string").str.strip().str.lower()
    phase = name.where(name.isin(PHASES))
    number = pd.to_numeric(reg["episode_number"], errors="coerce")
    phase = phase.fillna(pd.Series(np.where(number >= 2, "later_line", None), index=reg.index, dtype="string"))
    named = phase.notna().to_numpy()
    r = reg[named]
    t = pd.DataFrame({"patient_id": id_text(r["person_id"]).to_numpy(dtype=object),
                      "phase": phase[named].astype(object).to_numpy(), "regimen": r["object_name"].astype(object).to_numpy(),
                      "start_date": r["start_date"].to_numpy(), "end_date": r["end_date"].to_numpy(), "end_reason": None})
    log = record_lines(PHASE_FROM_EPISODE, "info", "episode", id_text(r["episode_id"]),
                       t["patient_id"], "phase " + t["phase"].astype(str) + " from episode "
                       + np.where(name[named].isin(PHASES).to_numpy(), "source value", "number >= 2"))
    return t, reg[~named], log


def _phase_log(decisions: pd.DataFrame) -> pd.DataFrame:
    """The phases module's decisions (patient_id, code, detail, record_ids) as import-log lines."""
    return decision_log(decisions, "drug_exposure")


def drug_records(drugs: pd.DataFrame, mapping, rules) -> pd.DataFrame:
    """Drug exposures -> records of one ingredient each (docs/phases-from-drugs.md "Inputs"):
    through concept_ancestor, else the mapping's [drugs] selectors, else the drug's name."""
    from mrdtrack.importers.ingredients import ingredients_in_text

    known = set(rules.known_ingredients())
    d = drugs.assign(patient_id=id_text(drugs["person_id"]),
                     record_id=id_text(drugs["drug_exposure_id"]))
    ing = d["ingredient_name"].astype("string").str.lower()
    for name, sel in mapping.drugs.items():
        hit = d["drug_concept_id"].isin(sel.concept_id) | d["drug_source_value"].astype("string").str.strip() \
            .str.lower().isin([s.lower() for s in sel.source_value]).fillna(False)
        ing = ing.mask(ing.isna() & hit, name.lower())
    by_anc = d[ing.notna().to_numpy()].assign(ingredient=ing.dropna())
    rest = d[ing.isna().to_numpy()].drop_duplicates("drug_exposure_id")
    text = rest["drug_name"].astype("string").fillna(rest["drug_source_value"].astype("string"))
    found = ingredients_in_text(text.reset_index(drop=True), rules)
    by_name = rest.reset_index(drop=True).iloc[found["index_of_text"].to_numpy()].assign(
        ingredient=found["ingredient"].to_numpy())
    rec = pd.concat([by_anc, by_name], ignore_index=True)
    rec = rec[rec["ingredient"].isin(known)].drop_duplicates(["drug_exposure_id", "ingredient"])
    return rec[["patient_id", "ingredient", "start_date", "end_date", "days_supply", "record_id"]]


def transplant_procedures(procs: pd.DataFrame, mapping, rules) -> pd.DataFrame:
    """Transplant procedures: the mapping's [phases] transplant selector, or a name holding every
    word of ``rules.transplant_name_words`` (docs/phases-from-drugs.md "Transplant")."""
    sel = mapping.transplant
    name = procs["concept_name"].astype("string").fillna("") + " " + procs["procedure_source_value"].astype("string").fillna("")
    by_name = pd.Series(True, index=procs.index)
    for word in rules.transplant_name_words:
        by_name &= name.str.lower().str.contains(word.lower(), regex=False)
    hit = by_name | procs["procedure_concept_id"].isin(sel.concept_id) | procs["procedure_source_value"].astype(
        "string").str.strip().str.lower().isin([s.lower() for s in sel.source_value]).fillna(False)
    p = procs[hit.to_numpy()]
    return pd.DataFrame({"patient_id": id_text(p["person_id"]).to_numpy(dtype=object),
                         "date": p["date"].to_numpy(), "record_id": id_text(p["procedure_occurrence_id"])})


def drug_phases(conn, cte, options, patients, progressions, cut, persons_wanted) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phases of ``persons_wanted`` from drug exposures and procedures (phases-from-drugs rules)."""
    if not conn.has("drug_exposure") or not len(persons_wanted):
        return _empty(), log_frame()
    from mrdtrack.importers.drug_periods import drug_periods
    from mrdtrack.importers.omop.read import _frame, in_person_order
    from mrdtrack.importers.phases import derive_treatments

    rules = options.mapping.phase_rules()
    drugs = _frame(conn, Q.drugs(conn, cte))
    drugs = in_person_order(drugs, drugs["person_id"])
    drugs = drugs[id_text(drugs["person_id"]).isin(persons_wanted)]
    procs = _frame(conn, Q.procedures(conn, cte)) if conn.has("procedure_occurrence") else pd.DataFrame(
        columns=["procedure_occurrence_id", "person_id", "date", "procedure_concept_id", "concept_name",
                 "procedure_source_value"])
    procs = in_person_order(procs, procs["person_id"])
    records = drug_records(drugs, options.mapping, rules)
    pts = patients[patients["patient_id"].isin(persons_wanted)][["patient_id", "diagnosis_date", "death_date"]]
    periods, plog = drug_periods(records, pts, cut, rules)
    tx = transplant_procedures(procs, options.mapping, rules)
    tx = tx[tx["patient_id"].isin(persons_wanted)]
    prog = progressions[progressions["patient_id"].isin(persons_wanted)]
    treatments, decisions = derive_treatments(periods, tx, pts, prog, cut, rules)
    return treatments[TREATMENT_COLUMNS], concat_logs([_phase_log(plog), _phase_log(decisions)])


def treatments_table(conn, cte, options, patients: pd.DataFrame, episodes: pd.DataFrame | None,
                     progressions: pd.DataFrame, cut, pre_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All persons' therapy phases: from regimen episodes when a person has them, else from drugs."""
    logs = []
    if episodes is not None and len(episodes):
        from_ep, rest, log = episode_phases(episodes)
        logs.append(log)
        if len(rest):  # unnamed first-line episodes: the drug rules on the person's drugs
            logs.append(record_lines(PHASE_FROM_EPISODE, "info", "episode", id_text(rest["episode_id"]),
                                     id_text(rest["person_id"]),
                                     "episode names no phase: phases from its person's drugs"))
        with_ep = set(from_ep["patient_id"]) - set(id_text(rest["person_id"]))
    else:
        from_ep, with_ep = _empty(), set()
    wanted = patients.loc[~patients["patient_id"].isin(with_ep), "patient_id"]
    from_drugs, dlog = drug_phases(conn, cte, options, patients, progressions, cut, set(wanted))
    logs.append(dlog)
    t = pd.concat([x for x in (from_ep[~from_ep["patient_id"].isin(set(wanted))], from_drugs) if len(x)] or [_empty()],
                  ignore_index=True)
    diagnosis = patients.set_index("patient_id")["diagnosis_date"]
    death = patients.set_index("patient_id")["death_date"]
    why = out_of_window(t.rename(columns={"start_date": "date"}), diagnosis, death, pd.NaT, pre_days)
    t, lines = keep_in_window(t, "treatments", why)
    logs.append(log_frame(lines))
    t = t.sort_values(["patient_id", "start_date"], kind="stable").reset_index(drop=True)
    return t[TREATMENT_COLUMNS], concat_logs(logs)
