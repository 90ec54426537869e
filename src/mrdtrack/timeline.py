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


def _covers(x: pd.DataFrame) -> pd.Series:
    """Whether the joined phase holds the date (inclusive end; a transplant up to the next start)."""
    return (x["_d"] >= x["start_date"]) & (
        (x["_end_excl"].notna() & (x["_d"] < x["_end_excl"]))
        | (x["_end_excl"].isna() & (x["_d"] <= x["_end_incl"]))
    )


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
    d = pd.DataFrame({"patient_id": ids.get_indexer(dates["patient_id"]), "_d": dates[date_col].to_numpy(),
                      "_i": np.arange(len(dates))})
    known = d["patient_id"].to_numpy() >= 0
    first = np.where(known, anc["first_treatment_date"].to_numpy()[d["patient_id"]], np.datetime64("NaT"))
    ll = np.where(known, anc["later_line_start"].to_numpy()[d["patient_id"]], np.datetime64("NaT"))
    eof = anc["end_of_followup"].to_numpy()

    t = pd.DataFrame({"patient_id": ids.get_indexer(treatments["patient_id"]), "phase": treatments["phase"].to_numpy(),
                      "start_date": treatments["start_date"].to_numpy(), "end_date": treatments["end_date"].to_numpy()})
    t = t[t["patient_id"] >= 0].sort_values(["patient_id", "start_date"], kind="stable")
    t["_next_start"] = t.groupby("patient_id")["start_date"].shift(-1)
    t["_eof"] = eof[t["patient_id"].to_numpy()]
    end = t["end_date"].fillna(t["_eof"])
    is_tx = t["phase"] == "transplant"
    t["_end_incl"] = end.where(~is_tx, t["_eof"])
    t["_end_excl"] = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]").where(~is_tx, t["_next_start"])
    t = t[["patient_id", "phase", "start_date", "_end_incl", "_end_excl"]].sort_values("start_date", kind="stable")
    ds = d.sort_values("_d", kind="stable")
    x = pd.merge_asof(ds, t, left_on="_d", right_on="start_date", by="patient_id", direction="backward")
    hit = _covers(x).to_numpy()
    phase = np.full(len(d), "off_treatment", dtype=object)
    phase[x["_i"].to_numpy()[hit]] = x["phase"].to_numpy()[hit]
    rest = x.loc[~hit, ["patient_id", "_d", "_i"]]
    if len(rest):
        y = rest.merge(t, on="patient_id", how="inner")
        y = y[_covers(y)].sort_values(["_i", "start_date"], kind="stable").drop_duplicates("_i", keep="last")
        phase[y["_i"].to_numpy()] = y["phase"].to_numpy()
    dd = d["_d"].to_numpy()
    phase = np.where(np.isnat(first) | (dd < first), "pre_treatment", phase)
    phase = np.where(~np.isnat(ll) & (dd >= ll), "later_line", phase)
    return pd.Series(phase, index=dates.index, dtype="object")
