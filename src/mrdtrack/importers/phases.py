"""Drug periods and transplant procedures -> the contract's ``treatments`` table (phases-from-drugs
rules, docs/phases-from-drugs.md), shared by the OMOP and the FHIR sources.

Composed of small named steps. Vectorised over all patients: conditioning, transplant dating,
line 1 start, the first transplant, mobilisation and the gaps between periods. The lines of therapy
and the phases of line 1 are inherently sequential (a line's start decides its regimen, which
decides where the next line starts): they run per patient over plain tuples (``patient_phases``).
Measured: 100,000 simulated patients (6.7 drug periods each, 669,628 periods) in 20.1 s of CPU time
(``drug_periods`` 4.6 s more) on a shared 2-core machine; method in docs/phases-from-drugs.md.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd

from mrdtrack.importers.drug_periods import LOG_COLUMNS, iso_dates, join_ids, log_frame
from mrdtrack.importers.line_rules import CONDITIONING, DRUG, MOBILISATION, PARTNER, Patient, Period
from mrdtrack.importers.patient_phases import derive_patient
from mrdtrack.importers.phase_rules import PhaseRules

TREATMENT_COLUMNS = ["patient_id", "phase", "regimen", "start_date", "end_date", "end_reason"]
PHASE_ORDER = {"induction": 0, "transplant": 1, "consolidation": 2, "maintenance": 3, "later_line": 4}
_EPOCH = np.datetime64("1970-01-01", "D")


def to_days(dates) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (float, NaN for missing)."""
    d = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[D]")
    out = (d - _EPOCH).astype("int64").astype(float)
    out[np.isnat(d)] = np.nan
    return out


def from_days(days) -> pd.Series:
    days = np.asarray(days, dtype=float)
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = np.isfinite(days)
    out[ok] = (_EPOCH + days[ok].astype("int64")).astype("datetime64[ns]")
    return pd.Series(out)


def patient_codes(ids) -> np.ndarray:
    """Sort keys of patient ids in their natural order (numbers as numbers, text as text)."""
    return pd.factorize(pd.Series(ids, dtype=object), sort=True)[0]


def _iso(days) -> np.ndarray:
    return iso_dates(from_days(days))


def period_kinds(p: pd.DataFrame, rules: PhaseRules) -> np.ndarray:
    """Partner, conditioning (a conditioning-ingredient period of at most conditioning_max_days) or
    drug; mobilisation is marked later, once the first transplant is known."""
    length = p["end"] - p["start"] + 1
    kind = np.where(p["ingredient"].isin([s.lower() for s in rules.partners]), PARTNER, DRUG).astype(object)
    short = (p["ingredient"] == rules.conditioning_ingredient) & (length <= rules.conditioning_max_days)
    kind[short.to_numpy()] = CONDITIONING
    return kind


def conditioning_transplants(p: pd.DataFrame, procs: pd.DataFrame, rules: PhaseRules) -> pd.DataFrame:
    """Transplants: each recorded procedure (its conditioning joined when one ended 0-conditioning_procedure_days
    before it), and one dated conditioning_transplant_offset_days after each conditioning without such a
    procedure. Columns patient_id, day, regimen, record_ids, code."""
    cond = p[p["kind"] == CONDITIONING].sort_values("end")
    procs = procs.sort_values("day")
    linked = pd.merge_asof(cond, procs[["patient_id", "day", "proc_ids"]], left_on="end", right_on="day",
                           by="patient_id",
                           direction="forward", tolerance=float(rules.conditioning_procedure_days))
    has = linked["day"].notna().to_numpy()
    lk = linked[has].sort_values(["patient_id", "day"], kind="stable")
    keys, ids = join_ids(lk["record_ids"], lk.groupby(["patient_id", "day"], sort=False).ngroup().to_numpy())
    first = lk.drop_duplicates(["patient_id", "day"])
    by_proc = pd.Series(ids, index=pd.MultiIndex.from_arrays([first["patient_id"], first["day"]]), dtype=object)
    pr = procs.set_index(["patient_id", "day"])
    melph = by_proc.reindex(pr.index).to_numpy(dtype=object)
    linked_ids = [f"{a};{b}" if isinstance(b, str) else a for a, b in zip(pr["proc_ids"].tolist(), melph)]
    from_proc = pd.DataFrame({"patient_id": pr.index.get_level_values(0), "day": pr.index.get_level_values(1),
                              "regimen": [rules.conditioning_ingredient if isinstance(b, str) else None for b in melph],
                              "record_ids": linked_ids, "code": "TRANSPLANT_FROM_PROCEDURE"})
    alone = linked[~has]
    derived = pd.DataFrame({"patient_id": alone["patient_id"].to_numpy(),
                            "day": alone["end"].to_numpy() + rules.conditioning_transplant_offset_days,
                            "regimen": rules.conditioning_ingredient, "record_ids": alone["record_ids"].to_numpy(),
                            "code": "TRANSPLANT_FROM_CONDITIONING"})
    out = pd.concat([from_proc, derived], ignore_index=True).sort_values(["patient_id", "day"], kind="stable")
    return out.drop_duplicates(["patient_id", "day"])  # a derived date equal to a procedure's is that procedure


def procedure_days(procs: pd.DataFrame) -> pd.DataFrame:
    """Recorded transplant procedures, one per patient and date (record ids joined)."""
    d = pd.DataFrame({"patient_id": procs["patient_id"].to_numpy(dtype=object), "day": to_days(procs["date"]),
                      "record_id": procs["record_id"].astype(str).to_numpy()})
    d = d[np.isfinite(d["day"])].sort_values(["patient_id", "day"], kind="stable")
    key = d.groupby(["patient_id", "day"], sort=False).ngroup().to_numpy()
    first = d.drop_duplicates(["patient_id", "day"])
    return pd.DataFrame({"patient_id": first["patient_id"].to_numpy(), "day": first["day"].to_numpy(),
                         "proc_ids": join_ids(d["record_id"], key)[1]}, columns=["patient_id", "day", "proc_ids"])


def line1_floor(patients: pd.DataFrame, rules: PhaseRules) -> pd.Series:
    """Per patient: diagnosis_date - line1_before_diagnosis_days (as days)."""
    p = patients.drop_duplicates("patient_id")
    return pd.Series(to_days(p["diagnosis_date"]) - rules.line1_before_diagnosis_days, index=p["patient_id"].to_numpy())


def mark_mobilisation(p: pd.DataFrame, first_tx: pd.Series, rules: PhaseRules) -> np.ndarray:
    """A mobilisation-ingredient period of at most mobilisation_max_days ending
    0-mobilisation_before_transplant_days before the first transplant is mobilisation."""
    t = first_tx.reindex(p["patient_id"]).to_numpy()
    before = t - p["end"].to_numpy()
    return ((p["ingredient"] == rules.mobilisation_ingredient).to_numpy() & (p["kind"] == DRUG).to_numpy()
            & ((p["end"] - p["start"] + 1) <= rules.mobilisation_max_days).to_numpy()
            & (before >= 0) & (before <= rules.mobilisation_before_transplant_days))


def gaps_before(p: pd.DataFrame) -> np.ndarray:
    """Per non-partner period (p sorted by patient and start): days since the latest end of the
    patient's earlier non-partner periods, minus one (inf for the first)."""
    gap = np.full(len(p), np.inf)
    np_mask = (p["kind"] != PARTNER).to_numpy()
    q = p[np_mask]
    prev = q.groupby("patient_id", sort=False)["end"].cummax().groupby(q["patient_id"].to_numpy(), sort=False).shift()
    gap[np_mask] = (q["start"] - prev - 1).fillna(np.inf).to_numpy()
    return gap


def _windowed(p: pd.DataFrame, tx: pd.DataFrame, floor: pd.Series, limit: pd.Series) -> tuple:
    """Leave out periods ending before line 1 may begin and transplants before it or after death/the
    data cut, each with a log line."""
    early = p["end"].to_numpy() < floor.reindex(p["patient_id"]).to_numpy()
    f_tx, l_tx = floor.reindex(tx["patient_id"]).to_numpy(), limit.reindex(tx["patient_id"]).to_numpy()
    bad_tx = (tx["day"].to_numpy() < f_tx) | (tx["day"].to_numpy() > l_tx)
    e, b = p[early], tx[bad_tx]
    logs = [log_frame(e["patient_id"], "DRUG_PERIOD_BEFORE_LINE1", e["ingredient"] + " period " + _iso(e["start"])
                      + " to " + _iso(e["end"]) + " ends before line 1 may begin", e["record_ids"]),
            log_frame(b["patient_id"], "TRANSPLANT_OUT_OF_WINDOW", "transplant " + _iso(b["day"])
                      + " lies before line 1 may begin or after death or the data cut", b["record_ids"])]
    return p[~early], tx[~bad_tx], logs


def _limits(patients: pd.DataFrame, cut: float) -> pd.Series:
    p = patients.drop_duplicates("patient_id")
    death = to_days(p["death_date"]) if "death_date" in p else np.full(len(p), np.nan)
    return pd.Series(np.fmin(death, cut), index=p["patient_id"].to_numpy())


def _grouped(frame: pd.DataFrame, items: list) -> dict:
    return {pid: [items[i] for i in idx] for pid, idx in frame.groupby("patient_id", sort=False).indices.items()}


def _patients(p: pd.DataFrame, tx: pd.DataFrame, progs: pd.DataFrame, cut: float):
    """Per patient with a line 1: the ``Patient`` tuple of the sequential rules."""
    periods = list(map(Period._make, zip(p["start"].astype(np.int64).tolist(), p["end"].astype(np.int64).tolist(),
                                         p["ingredient"].tolist(), p["kind"].tolist(), p["record_ids"].tolist(),
                                         p["gap"].tolist())))
    by_p = _grouped(p, periods)
    by_t = _grouped(tx, list(zip(tx["day"].astype(np.int64).tolist(), tx["regimen"].tolist(),
                                 tx["record_ids"].tolist())))
    by_g = _grouped(progs, progs["day"].astype(np.int64).tolist())
    firsts = pd.concat([p.loc[p["kind"] != PARTNER, ["patient_id", "start"]],
                        tx[["patient_id", "day"]].rename(columns={"day": "start"})])
    starts = firsts.groupby("patient_id")["start"].min()
    for pid, l1 in zip(starts.index.tolist(), starts.astype(np.int64).tolist()):
        yield Patient(pid, by_p.get(pid, []), by_t.get(pid, []), by_g.get(pid, []), l1, int(cut))


def _prepared(periods, procedures, patients, progressions, cut, rules):
    """Days, kinds, transplants, windows, mobilisation and gaps, vectorised over all patients."""
    p = pd.DataFrame({"patient_id": periods["patient_id"].to_numpy(dtype=object),
                      "ingredient": periods["ingredient"].astype(str).str.lower().to_numpy(),
                      "start": to_days(periods["start_date"]), "end": to_days(periods["end_date"]),
                      "record_ids": periods["record_ids"].astype(str).to_numpy()})
    p["kind"] = period_kinds(p, rules)
    tx = conditioning_transplants(p, procedure_days(procedures), rules)
    p, tx, logs = _windowed(p, tx, line1_floor(patients, rules), _limits(patients, cut))
    mob = mark_mobilisation(p, tx.groupby("patient_id")["day"].min(), rules)
    p.loc[mob, "kind"] = MOBILISATION
    p = p.sort_values(["patient_id", "start", "ingredient"], kind="stable").reset_index(drop=True)
    p["gap"] = gaps_before(p)
    g = pd.DataFrame({"patient_id": progressions["patient_id"].to_numpy(dtype=object),
                      "day": to_days(progressions["date"])})
    g = g[np.isfinite(g["day"])].sort_values(["patient_id", "day"])
    logs += [_vector_decisions(p, tx)]
    return p, tx.sort_values(["patient_id", "day"], kind="stable"), g, logs


def _vector_decisions(p: pd.DataFrame, tx: pd.DataFrame) -> pd.DataFrame:
    c, m = p[p["kind"] == CONDITIONING], p[p["kind"] == MOBILISATION]
    return pd.concat([
        log_frame(c["patient_id"], "PHASE_CONDITIONING", c["ingredient"] + " " + _iso(c["start"]) + " to "
                  + _iso(c["end"]) + ": transplant conditioning", c["record_ids"]),
        log_frame(m["patient_id"], "PHASE_MOBILISATION", m["ingredient"] + " " + _iso(m["start"]) + " to "
                  + _iso(m["end"]) + ": stem-cell mobilisation", m["record_ids"]),
        log_frame(tx["patient_id"], tx["code"].to_numpy(), "transplant " + _iso(tx["day"]), tx["record_ids"]),
    ], ignore_index=True)


def derive_treatments(periods: pd.DataFrame, transplant_procedures: pd.DataFrame, patients: pd.DataFrame,
                      recorded_progressions: pd.DataFrame, data_cut,
                      rules: PhaseRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The contract's ``treatments`` rows and the rule decisions (phases-from-drugs rules).

    ``periods``: ``drug_periods`` output (patient_id, ingredient, start_date, end_date, record_ids);
    ``transplant_procedures``: patient_id, date, record_id; ``patients``: patient_id,
    diagnosis_date, death_date; ``recorded_progressions``: patient_id, date (the source's events,
    never derived ones). A phase reaching the data cut has a blank end_date (ongoing). Rows are
    ordered by patient, start date, phase order; decisions (``LOG_COLUMNS``) by patient.
    """
    cut = float(to_days([data_cut])[0])
    p, tx, g, logs = _prepared(periods, transplant_procedures, patients, recorded_progressions, cut, rules)
    rows, decisions = [], []
    gc_was_on = gc.isenabled()
    gc.disable()  # millions of small tuples: the cyclic collector would rescan them again and again
    try:
        for pt in _patients(p, tx, g, cut):
            r, d = derive_patient(pt, rules)
            rows += r
            decisions += d
    finally:
        if gc_was_on:
            gc.enable()
    t = pd.DataFrame(rows, columns=["patient_id", "phase", "regimen", "start", "end", "end_reason"])
    treatments = pd.DataFrame({"patient_id": t["patient_id"].to_numpy(dtype=object),
                               "phase": t["phase"].to_numpy(dtype=object),
                               "regimen": t["regimen"].to_numpy(dtype=object), "start_date": from_days(t["start"]),
                               "end_date": from_days(np.where(t["end"].to_numpy(float) >= cut, np.nan, t["end"])),
                               "end_reason": t["end_reason"].to_numpy(dtype=object)})
    order = np.lexsort((t["phase"].map(PHASE_ORDER).to_numpy(), t["start"].to_numpy(), patient_codes(t["patient_id"])))
    treatments = treatments.iloc[order].reset_index(drop=True)
    frames = [f for f in [*logs, pd.DataFrame(decisions, columns=LOG_COLUMNS)] if len(f)]
    dec = pd.concat(frames or [log_frame([], "", [], [])], ignore_index=True)
    dec = dec.iloc[np.argsort(patient_codes(dec["patient_id"]), kind="stable")].reset_index(drop=True)
    return treatments, dec
