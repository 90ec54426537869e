"""Assemble the contract tables (raw format: what users' files hold) from simulated arrays.

Dates are ``datetime64[ns]``; labs carry ``value`` (a float for numeric tests, text otherwise)
and ``unit``; rows are sorted by patient, then date, then a fixed order, so that the same seed
gives byte-identical files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.contract import LAB_TESTS, TABLES
from mrdtrack.simulate.course import END_REASON_NAMES, Course
from mrdtrack.simulate.latent import HEAVY_CHAINS, Latent
from mrdtrack.simulate.observe import MRD_METHOD_NAMES, LabRows, MrdRows

TEST_ORDER = {name: i for i, name in enumerate(LAB_TESTS)}
UNITS = {name: (t.canonical_unit if t.numeric else None) for name, t in LAB_TESTS.items()}


def patient_ids(n: int) -> np.ndarray:
    """``SIM0001``, ``SIM0002``, ...: zero-padded so that text order is patient order."""
    width = max(4, len(str(n)))
    return np.char.add("SIM", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def to_dates(days: np.ndarray) -> pd.Series:
    """Days since 1970-01-01 (NaN = missing) as datetime64[ns]."""
    days = np.asarray(days, dtype=float)
    ok = np.isfinite(days)
    out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = days[ok].astype("int64").astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out)


def _frame(name: str, cols: dict) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    return df[[c for c in TABLES[name].column_names if c in df.columns]]


def patients_table(lat: Latent, ids: np.ndarray, centres: int) -> pd.DataFrame:
    """One row per patient; centre names ``C01``... padded to the width of the scenario's number of
    centres (the same whichever patients a block holds)."""
    width = len(str(max(centres, 10)))
    return _frame("patients", {
        "patient_id": ids,
        "diagnosis_date": to_dates(lat.t_dx),
        "age_at_diagnosis": lat.age.astype(np.int64),
        "sex": np.where(lat.male, "M", "F").astype(object),
        "heavy_chain": HEAVY_CHAINS[lat.heavy],
        "light_chain": np.where(lat.kappa, "kappa", "lambda").astype(object),
        "iss_stage": np.array(["I", "II", "III"], dtype=object)[lat.iss],
        "cytogenetic_risk": np.where(lat.high_risk, "high", "standard").astype(object),
        "center": np.char.add("C", np.char.zfill((lat.centre + 1).astype(str), width)).astype(object),
    })


def treatments_table(lat: Latent, course: Course, ids: np.ndarray) -> pd.DataFrame:
    n = lat.n
    idx = np.arange(n)
    nan = np.full(n, np.nan)
    blocks = [
        (idx, 0, "VRD", lat.t_ind_start, lat.t_ind_end, np.full(n, "completed", dtype=object)),
        (idx, 1, "MEL200", lat.t_tx, lat.t_tx, np.full(n, "completed", dtype=object)),
        (idx[lat.has_cons], 2, "VRD", lat.t_cons_start[lat.has_cons], lat.t_cons_end[lat.has_cons],
         np.full(int(lat.has_cons.sum()), "completed", dtype=object)),
        (idx, 3, "lenalidomide", lat.t_maint, course.t_maint_end, END_REASON_NAMES[course.end_reason]),
    ]
    later = np.isfinite(course.t_later)
    blocks.append((idx[later], 4, "daratumumab-lenalidomide-dexamethasone", course.t_later[later], nan[later],
                   np.full(int(later.sum()), None, dtype=object)))
    pid = np.concatenate([b[0] for b in blocks])
    phase = np.concatenate([np.full(len(b[0]), b[1]) for b in blocks])
    regimen = np.concatenate([np.full(len(b[0]), b[2], dtype=object) for b in blocks])
    start = np.concatenate([b[3] for b in blocks])
    end = np.concatenate([b[4] for b in blocks])
    reason = np.concatenate([b[5] for b in blocks])
    order = np.lexsort((phase, pid))
    names = np.array(["induction", "transplant", "consolidation", "maintenance", "later_line"], dtype=object)
    return _frame("treatments", {
        "patient_id": ids[pid[order]], "phase": names[phase[order]], "regimen": regimen[order],
        "start_date": to_dates(start[order]), "end_date": to_dates(end[order]), "end_reason": reason[order],
    })


def labs_table(rows: LabRows, ids: np.ndarray) -> pd.DataFrame:
    test_code = pd.Series(rows.test).map(TEST_ORDER).to_numpy()
    order = np.lexsort((test_code, rows.day, rows.pid))
    value = rows.text.copy()
    isnum = ~pd.isna(rows.num)
    value[isnum] = rows.num[isnum]
    units = pd.Series(rows.test).map(UNITS).to_numpy(dtype=object)
    return _frame("labs", {
        "patient_id": ids[rows.pid[order]], "date": to_dates(rows.day[order]), "test": rows.test[order],
        "value": value[order], "unit": units[order],
    })


def mrd_table(m: MrdRows, ids: np.ndarray) -> pd.DataFrame:
    order = np.lexsort((m.day, m.pid))
    level = m.level[order]
    return _frame("mrd", {
        "patient_id": ids[m.pid[order]], "date": to_dates(m.day[order]), "method": MRD_METHOD_NAMES[m.method[order]],
        "lod": m.lod[order], "result": np.where(np.isnan(level), "not_detected", "detected").astype(object),
        "level": level, "cells_analyzed": m.cells[order],
    })


def events_table(lat: Latent, course: Course, ids: np.ndarray) -> pd.DataFrame:
    n = lat.n
    idx = np.arange(n)
    rec = np.isfinite(course.t_recorded)
    spm = lat.t_spm <= lat.t_end
    parts = [
        (idx[rec], 0, course.t_recorded[rec], np.where(lat.clinical_prog[rec], "clinical", "biochemical")),
        (idx[spm], 1, lat.t_spm[spm], np.full(int(spm.sum()), None, dtype=object)),
        (idx[course.dead], 2, lat.t_death[course.dead],
         np.where(lat.myeloma_death[course.dead], "myeloma", "other causes")),
        (idx[~course.dead], 3, lat.t_end[~course.dead], np.full(int((~course.dead).sum()), None, dtype=object)),
    ]
    pid = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    day = np.concatenate([p[2] for p in parts])
    detail = np.concatenate([np.asarray(p[3], dtype=object) for p in parts])
    order = np.lexsort((kind, day, pid))
    names = np.array(["progression", "spm", "death", "last_contact"], dtype=object)
    return _frame("events", {"patient_id": ids[pid[order]], "date": to_dates(day[order]),
                             "event": names[kind[order]], "detail": detail[order]})


def imaging_table(pid: np.ndarray, day: np.ndarray, positive: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    order = np.lexsort((day, pid))
    return _frame("imaging", {"patient_id": ids[pid[order]], "date": to_dates(day[order]),
                              "modality": np.full(len(pid), "PET-CT", dtype=object),
                              "result": np.where(positive[order], "positive", "negative").astype(object)})


def responses_table(pid: np.ndarray, day: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    order = np.lexsort((day, pid))
    return _frame("responses", {"patient_id": ids[pid[order]], "date": to_dates(day[order]),
                                "response": np.full(len(pid), "PD", dtype=object)})
