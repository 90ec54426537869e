"""Per-patient anchors in time and the therapy phase at any date (shared by every engine).

Anchors (docs/data-contract.md, docs/mrd.md section 2): first treatment, first-line maintenance start and
end, first later line, death, last contact, end of follow-up, recorded progression. All are
vectorised over patients; nothing here loops per patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.issues import issue, issues_frame

ANCHOR_COLUMNS = [
    "patient_id", "diagnosis_date", "first_treatment_date", "maintenance_start", "maintenance_end",
    "maintenance_end_reason", "later_line_start", "death_date", "last_contact_date",
    "end_of_followup", "followup_imputed", "recorded_progression_date", "spm_date",
]


def _first(df: pd.DataFrame, col: str, how: str = "min") -> pd.Series:
    if df.empty:
        return pd.Series(dtype="datetime64[ns]")
    return getattr(df.groupby("patient_id", sort=False)[col], how)()


def _latest_date_any_table(cohort: Cohort, patient_ids: pd.Index) -> pd.Series:
    """The latest date in any of the tables of each of ``patient_ids`` (the patients whose end of
    follow-up is imputed: usually few, so only their rows are gathered)."""
    def rows(t: pd.DataFrame) -> pd.DataFrame:
        return t[patient_ids.get_indexer(t["patient_id"]) >= 0]

    parts = [rows(cohort.patients)[["patient_id", "diagnosis_date"]].rename(columns={"diagnosis_date": "d"})]
    for name, cols in (("treatments", ("start_date", "end_date")), ("labs", ("date",)),
                       ("mrd", ("date",)), ("events", ("date",)), ("imaging", ("date",)),
                       ("responses", ("date",))):
        t = cohort.table(name)
        t = rows(t) if len(t) else t
        for c in cols:
            if len(t):
                parts.append(t[["patient_id", c]].rename(columns={c: "d"}))
    allp = pd.concat(parts, ignore_index=True)
    return allp.groupby("patient_id", sort=False)["d"].max()


def patient_anchors(cohort: Cohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per patient with the anchor dates; and issues (imputed end of follow-up).

    End of follow-up = death, else the latest ``last_contact``, else (with a warning) the latest
    date in any of the patient's tables; always capped at the data cut. The first-line
    maintenance is the earliest ``maintenance`` phase starting before any ``later_line``.
    """
    p = cohort.patients[["patient_id", "diagnosis_date"]].drop_duplicates("patient_id").set_index("patient_id")
    tr, ev = cohort.treatments, cohort.events
    cut = cohort.data_cut
    a = p.copy()
    a["first_treatment_date"] = _first(tr, "start_date")
    a["later_line_start"] = _first(tr[tr["phase"] == "later_line"], "start_date")
    a["death_date"] = _first(ev[ev["event"] == "death"], "date")
    a["last_contact_date"] = _first(ev[ev["event"] == "last_contact"], "date", "max")
    a["recorded_progression_date"] = _first(ev[ev["event"] == "progression"], "date")
    a["spm_date"] = _first(ev[ev["event"] == "spm"], "date")  # first second primary malignancy
    eof = a["death_date"].fillna(a["last_contact_date"])
    imputed = eof.isna()
    if imputed.any():
        eof = eof.fillna(_latest_date_any_table(cohort, a.index[imputed.to_numpy()]).reindex(a.index))
    if pd.notna(cut):
        eof = eof.where(eof <= cut, cut)
    a["end_of_followup"] = eof
    a["followup_imputed"] = imputed

    m = tr[tr["phase"] == "maintenance"].merge(
        a["later_line_start"].rename("ll").reset_index(), on="patient_id", how="left")
    m = m[m["ll"].isna() | (m["start_date"] < m["ll"])].sort_values(["patient_id", "start_date"])
    m = m.drop_duplicates("patient_id").set_index("patient_id")
    a["maintenance_start"] = m["start_date"]
    a["maintenance_end_reason"] = m["end_reason"]
    mend = m["end_date"].reindex(a.index)
    mend = mend.fillna(a["end_of_followup"]).where(a["maintenance_start"].notna())
    if pd.notna(cut):
        mend = mend.where(~(mend > cut), cut)
    a["maintenance_end"] = mend
    a = a.reset_index()[ANCHOR_COLUMNS]
    warn = a[imputed.to_numpy()]
    issues = issues_frame(
        issue("warning", "events", code="NO_FOLLOWUP_END", message="no death or last_contact event: follow-up ends at the latest "
              "date found in the patient's tables", patient_id=pid, column="event",
              value=str(d.date()) if pd.notna(d) else None)
        for pid, d in zip(warn["patient_id"], warn["end_of_followup"]))
    return a, issues


def _phase_table(treatments: pd.DataFrame, ids: pd.Index, eof: np.ndarray) -> pd.DataFrame:
    """Treatments of the anchored patients sorted by patient code and start, with the end of each
    phase's coverage: ``_end_incl`` (its end date, an ongoing phase running to the end of follow-up)
    or, for a transplant, ``_end_excl`` (the next phase's start; to the end of follow-up if none)."""
    t = pd.DataFrame({"patient_id": ids.get_indexer(treatments["patient_id"]), "phase": treatments["phase"].to_numpy(),
                      "start_date": treatments["start_date"].to_numpy(), "end_date": treatments["end_date"].to_numpy()})
    t = t[(t["patient_id"] >= 0).to_numpy() & t["start_date"].notna().to_numpy()]
    t = t.sort_values(["patient_id", "start_date"], kind="stable")
    t["_next_start"] = t.groupby("patient_id")["start_date"].shift(-1)
    t["_eof"] = eof[t["patient_id"].to_numpy()]
    end = t["end_date"].fillna(t["_eof"])
    is_tx = t["phase"] == "transplant"
    t["_end_incl"] = end.where(~is_tx, t["_eof"])
    t["_end_excl"] = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]").where(~is_tx, t["_next_start"])
    return t[["patient_id", "phase", "start_date", "_end_incl", "_end_excl"]].reset_index(drop=True)


def _last_start_on_or_before(code: np.ndarray, day: np.ndarray, t: pd.DataFrame) -> np.ndarray:
    """Row of ``t`` (sorted by patient code and start) of the same patient starting last on or
    before each date (the last such row on a tie; -1 if none): one binary search on (patient,
    rank of the date among all dates) keys, exact for any datetime."""
    if not len(t):
        return np.full(len(code), -1, dtype=np.int64)
    st = t["start_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    dv = day.astype("datetime64[ns]").view(np.int64)
    values = np.unique(np.concatenate([st, dv]))
    width = len(values) + 1
    tkey = t["patient_id"].to_numpy(np.int64) * width + np.searchsorted(values, st)
    dkey = code.astype(np.int64) * width + np.searchsorted(values, dv)
    pos = np.searchsorted(tkey, dkey, side="right") - 1
    same = (pos >= 0) & (t["patient_id"].to_numpy()[np.maximum(pos, 0)] == code)
    return np.where(same, pos, -1)


def _covered(day: np.ndarray, start, end_incl, end_excl) -> np.ndarray:
    """Whether a phase holds the date (inclusive end; a transplant up to the next start)."""
    return (day >= start) & np.where(np.isnat(end_excl), day <= end_incl, day < end_excl)


def _maybe_held_earlier(t: pd.DataFrame, cols: dict, pos: np.ndarray, day: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Dates not held by the phase starting last before them that an earlier phase of the patient
    may still hold: a non-transplant phase ending on or after the date (a transplant's cover ends
    at the next start). Positions in ``day``; usually none."""
    if not len(t):
        return np.zeros(0, dtype=np.int64)
    ends = np.where(np.isnat(cols["_end_excl"]), cols["_end_incl"], np.datetime64("NaT")).astype("datetime64[ns]")
    # NaT is the smallest int64: a running max per patient carries the latest end seen so far
    latest = pd.Series(ends.view(np.int64)).groupby(t["patient_id"].to_numpy()).cummax().to_numpy()
    late = latest[np.maximum(pos, 0)] >= day.astype("datetime64[ns]").view(np.int64)
    return np.flatnonzero(~hit & (pos >= 0) & late)


def phase_at(dates: pd.DataFrame, treatments: pd.DataFrame, anchors: pd.DataFrame,
             date_col: str = "date") -> pd.Series:
    """The therapy phase at each (patient_id, date) row of ``dates`` (docs/cli.md, assessments.csv).

    ``pre_treatment`` before the first treatment; ``later_line`` on or after a later-line start;
    otherwise the phase whose start..end (inclusive) holds the date, an ongoing phase running to
    the end of follow-up and a transplant covering its date up to the next phase's start; where
    phases overlap, the later-starting one; a gap between phases is ``off_treatment``.
    """
    if dates.empty:
        return pd.Series([], dtype="object", index=dates.index)
    # integer patient codes: hashing text ids once is far cheaper than in every map and merge
    anc = anchors.drop_duplicates("patient_id")
    ids = pd.Index(anc["patient_id"])
    code = ids.get_indexer(dates["patient_id"])
    dd = dates[date_col].to_numpy(dtype="datetime64[ns]")
    known = code >= 0
    first = np.where(known, anc["first_treatment_date"].to_numpy()[code], np.datetime64("NaT"))
    ll = np.where(known, anc["later_line_start"].to_numpy()[code], np.datetime64("NaT"))
    t = _phase_table(treatments, ids, anc["end_of_followup"].to_numpy())

    # the phase starting last on or before the date, when it holds the date
    pos = _last_start_on_or_before(code, dd, t)
    p = np.maximum(pos, 0)
    cols = {c: t[c].to_numpy() for c in ("phase", "start_date", "_end_incl", "_end_excl")}
    hit = (pos >= 0) & _covered(dd, cols["start_date"][p], cols["_end_incl"][p], cols["_end_excl"][p]) \
        if len(t) else np.zeros(len(dd), dtype=bool)
    phase = np.full(len(dd), "off_treatment", dtype=object)
    phase[hit] = cols["phase"][p[hit]]
    # else an earlier, longer phase may hold it (overlapping phases): only where one ends late enough
    rest = _maybe_held_earlier(t, cols, pos, dd, hit)
    if len(rest):
        y = pd.DataFrame({"patient_id": code[rest], "_d": dd[rest], "_i": rest}).merge(t, on="patient_id")
        y = y[_covered(y["_d"].to_numpy(), y["start_date"].to_numpy(), y["_end_incl"].to_numpy(),
                       y["_end_excl"].to_numpy())]
        y = y.sort_values(["_i", "start_date"], kind="stable").drop_duplicates("_i", keep="last")
        phase[y["_i"].to_numpy()] = y["phase"].to_numpy()
    phase = np.where(np.isnat(first) | (dd < first), "pre_treatment", phase)
    phase = np.where(~np.isnat(ll) & (dd >= ll), "later_line", phase)
    return pd.Series(phase, index=dates.index, dtype="object")
