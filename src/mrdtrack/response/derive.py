"""Entry point of the IMWG response engine: Cohort -> assessments, per-patient response facts, issues.

Runs sections 1-5 of docs/response-rules.md on a batch of whole patients. Every step works on whole
columns of the (patient, day)-sorted assessments table; patients are independent of each other,
so the result does not depend on which other patients are in the batch or on the row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.config import Config
from mrdtrack.issues import issues_from_arrays as _issue_frame
from mrdtrack.response.assessments import (
    ALL_TESTS,
    day_number,
    day_to_date,
    flc_measures,
    form_assessments,
    join_marrow,
    marrow_samples,
    plasmacytoma_history,
    prepare_labs,
)
from mrdtrack.response.baseline import baseline_values, followed_parameters
from mrdtrack.response.confirmation import confirmed_response, evaluable_assessments, pd_confirmation
from mrdtrack.response.levels import NONE, PD, level_names
from mrdtrack.response.marrow import ife_breaks_chain, ife_negative_for_cr, qualifying_marrow
from mrdtrack.response.nadir import confirmed_nadir
from mrdtrack.response.rules import assessment_response
from mrdtrack.timeline import phase_at

ASSESSMENT_COLUMNS = ["patient_id", "date", "phase", "response", "confirmed_response", "pd_confirmed", "basis",
                      "note"]
#: Internal columns kept beside the docs/cli.md ones (downstream engines and the patient page use them).
EXTRA_COLUMNS = ["evaluable", "meets_pd", "pd_lesion", "pd_confirmed_any", "confirmed_date", "marrow_only", "serum", "urine",
                 "kappa", "lambda", "dflc", "flc_ratio", "serum_ife", "urine_ife", "marrow_pct", "marrow_clonality",
                 "marrow_qualifies", "spd", "spd_status", "new_lesion", "nadir_serum", "nadir_urine", "nadir_dflc",
                 "nadir_marrow"]
PATIENT_COLUMNS = ["patient_id", "followed", "derived_progression_date", "measurable", "baseline_serum",
                   "baseline_urine", "baseline_kappa", "baseline_lambda", "baseline_dflc", "baseline_marrow_pct",
                   "baseline_spd"]
_PATIENT_FLAGS = ["f_serum", "f_urine", "f_flc", "f_marrow", "measurable", "followed", "b_serum", "b_urine",
                  "b_dflc", "b_marrow_pct", "b_spd"]


def _patient_table(cohort: Cohort) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    p = cohort.patients.drop_duplicates("patient_id")
    pids = pd.Index(p["patient_id"].to_numpy()).sort_values()
    lc = p.set_index("patient_id")["light_chain"].reindex(pids).to_numpy(dtype=object)
    return pids, lc == "kappa", (lc == "kappa") | (lc == "lambda")


def _anchor_days(anchors: pd.DataFrame, pids: pd.Index, col: str) -> np.ndarray:
    a = anchors.drop_duplicates("patient_id").set_index("patient_id")
    return day_number(a[col].reindex(pids).to_numpy())


def derive_assessments(cohort: Cohort, anchors: pd.DataFrame, config: Config
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assessments with responses, per-patient response facts, and issues (docs/response-rules.md 1-5).

    Returns ``(assessments, response_patients, issues)``: ``assessments`` has the docs/cli.md columns
    (``ASSESSMENT_COLUMNS``) then ``EXTRA_COLUMNS``, sorted by patient_id and date;
    ``response_patients`` one row per patient (``PATIENT_COLUMNS``); ``issues`` ISSUE_COLUMNS.
    """
    pids, involved_kappa, involved_known = _patient_table(cohort)
    ftx = _anchor_days(anchors, pids, "first_treatment_date")
    death = _anchor_days(anchors, pids, "death_date")
    later = _anchor_days(anchors, pids, "later_line_start")

    labs = prepare_labs(cohort.labs, pids)
    assess, superseded_a = form_assessments(labs, config)
    marrow, superseded_m = marrow_samples(labs, config)
    fol = followed_parameters(baseline_values(labs, ftx, len(pids), config), involved_kappa, involved_known, config)

    a = join_marrow(assess, marrow, config)
    pc = a["pcode"].to_numpy()
    # a marrow-only assessment is evaluated only when the marrow is the followed parameter (section 1)
    a = a[~a["marrow_only"].to_numpy() | fol["f_marrow"].to_numpy()[pc]].reset_index(drop=True)
    pc, day = a["pcode"].to_numpy(), a["day"].to_numpy()
    for c in _PATIENT_FLAGS:
        a[c] = fol[c].to_numpy()[pc]
    a["patient_id"] = pids.to_numpy()[pc]
    a["date"] = day_to_date(day)
    _, a["dflc"], a["ratio"] = flc_measures(a["kappa"].to_numpy(), a["lambda"].to_numpy(), involved_kappa[pc],
                                            involved_known[pc])
    a["phase"] = phase_at(a[["patient_id", "date"]], cohort.treatments, anchors).to_numpy()
    pre = a["phase"].to_numpy() == "pre_treatment"
    first_line = ~pre & (a["phase"].to_numpy() != "later_line")

    in_seq = day > ftx[pc]
    for name, base in (("serum", "b_serum"), ("urine", "b_urine"), ("dflc", "b_dflc"), ("marrow_pct", "b_marrow_pct")):
        a["n_" + name.split("_")[0]] = confirmed_nadir(pc, a[name].to_numpy(dtype=float), a[base].to_numpy(), in_seq)
    a["spd_status"], a["spd_prior_min"] = plasmacytoma_history(pc, a["spd"].to_numpy(dtype=float))
    s_ife, u_ife = a["serum_ife"].to_numpy(dtype=object), a["urine_ife"].to_numpy(dtype=object)
    a["cr_ife"] = ife_negative_for_cr(s_ife, u_ife, a["f_urine"].to_numpy())
    a["marrow_qualifies"], a["marrow_q_clonality"] = qualifying_marrow(
        pc, day, a["cr_ife"].to_numpy(), ife_breaks_chain(s_ife, u_ife), marrow["pcode"].to_numpy(),
        marrow["day"].to_numpy(), marrow["marrow_pct"].to_numpy(dtype=float),
        marrow["marrow_clonality"].to_numpy(dtype=object), config)

    r = assessment_response(a, config)
    level = np.where(pre, NONE, r["level"].to_numpy())
    meets_pd = r["meets_pd"].to_numpy() & ~pre
    evaluable = evaluable_assessments(level, first_line)
    conf, conf_day = confirmed_response(pc, day, level, evaluable)
    pd_any, pd_first = pd_confirmation(pc, day, level, meets_pd, r["pd_lesion"].to_numpy(), evaluable,
                                       death[pc], later[pc], config)

    prog_day = np.full(len(pids), np.iinfo(np.int64).max // 4)
    prog_day[pc[pd_first]] = day[pd_first]
    out = pd.DataFrame({
        "patient_id": a["patient_id"], "date": a["date"], "phase": a["phase"],
        "response": level_names(level), "confirmed_response": level_names(conf), "pd_confirmed": pd_first,
        "basis": a["followed"], "note": np.where(pre, "", r["note"].to_numpy()),
        "evaluable": evaluable, "meets_pd": meets_pd, "pd_lesion": r["pd_lesion"].to_numpy(bool) & meets_pd,
        "pd_confirmed_any": pd_any,
        "confirmed_date": day_to_date(np.where(conf_day >= 0, conf_day, np.iinfo(np.int64).max // 4)),
        "marrow_only": a["marrow_only"].astype(bool), "serum": a["serum"], "urine": a["urine"],
        "kappa": a["kappa"], "lambda": a["lambda"], "dflc": a["dflc"], "flc_ratio": a["ratio"],
        "serum_ife": s_ife, "urine_ife": u_ife, "marrow_pct": a["marrow_pct"],
        "marrow_clonality": a["marrow_clonality"], "marrow_qualifies": a["marrow_qualifies"],
        "spd": a["spd"], "spd_status": a["spd_status"], "new_lesion": a["new_lesion"],
        "nadir_serum": a["n_serum"], "nadir_urine": a["n_urine"], "nadir_dflc": a["n_dflc"],
        "nadir_marrow": a["n_marrow"]}, copy=False)  # columns of ``a`` (dropped) or fresh: not copied again

    patients = pd.DataFrame({
        "patient_id": pids.to_numpy(), "followed": fol["followed"].to_numpy(),
        "derived_progression_date": day_to_date(prog_day), "measurable": fol["measurable"].to_numpy(),
        "baseline_serum": fol["b_serum"].to_numpy(), "baseline_urine": fol["b_urine"].to_numpy(),
        "baseline_kappa": fol["b_kappa"].to_numpy(), "baseline_lambda": fol["b_lambda"].to_numpy(),
        "baseline_dflc": fol["b_dflc"].to_numpy(), "baseline_marrow_pct": fol["b_marrow_pct"].to_numpy(),
        "baseline_spd": fol["b_spd"].to_numpy()})

    issues = pd.concat([
        _not_measurable_issues(patients, ftx, config),
        _superseded_issues(pd.concat([superseded_a, superseded_m]), pids),
        _unconfirmed_pd_issues(out, level == PD, evaluable & ~pd_any, day, prog_day[pc], config),
    ], ignore_index=True)
    return out, patients, issues


def _not_measurable_issues(patients: pd.DataFrame, ftx: np.ndarray, config: Config) -> pd.DataFrame:
    """One warning per not-measurable patient (section 2): only CR, sCR and PD can be derived."""
    nm = ~patients["measurable"].to_numpy()
    no_treatment = ftx >= np.iinfo(np.int64).max // 8
    b = patients[["baseline_serum", "baseline_urine", "baseline_kappa", "baseline_lambda", "baseline_marrow_pct"]]
    no_baseline = b.isna().all(axis=1).to_numpy()
    reason = np.where(no_treatment, "no treatment recorded, so no baseline",
                      np.where(no_baseline, f"no baseline value within {config.baseline_window_days} days before "
                               "the first treatment", "no baseline value reaches a measurable-disease threshold"))
    msg = reason[nm] + ": not measurable, only CR, sCR and PD can be derived (other assessments NE)"
    if not nm.any():
        return _issue_frame(severity=np.array([], dtype=object))
    return _issue_frame(severity="warning", code="NOT_MEASURABLE", table="labs", row=None, patient_id=patients["patient_id"].to_numpy()[nm],
                        column="test", value=None, message=msg)


def _superseded_issues(sup: pd.DataFrame, pids: pd.Index) -> pd.DataFrame:
    """A test repeated within one assessment: the later value is used (section 1)."""
    if sup.empty:
        return _issue_frame(severity=np.array([], dtype=object))
    return _issue_frame(severity="warning", code="LAB_SUPERSEDED", table="labs", row=sup["row"].to_numpy(),
                        patient_id=pids.to_numpy()[sup["pcode"].to_numpy()], column="test",
                        value=np.asarray(ALL_TESTS, dtype=object)[sup["tcode"].to_numpy()], message="test repeated within one assessment window: "
                        "this value is superseded by the later one")


def _unconfirmed_pd_issues(out: pd.DataFrame, is_pd: np.ndarray, unconfirmed: np.ndarray, day: np.ndarray,
                           prog_day: np.ndarray, config: Config) -> pd.DataFrame:
    """A PD that nothing confirms, before the derived progression (section 4)."""
    sel = is_pd & unconfirmed & (day < prog_day)
    if not sel.any():
        return _issue_frame(severity=np.array([], dtype=object))
    dates = out["date"].to_numpy()[sel].astype("datetime64[D]").astype(str)
    notes = out["note"].to_numpy()[sel].astype(str)
    msg = ("PD on " + dates.astype(object) + " (" + notes.astype(object) + ") not confirmed: the next evaluable "
           "assessment does not meet PD and no death or later line followed within "
           f"{config.pd_confirm_days} days")
    return _issue_frame(severity="warning", code="PD_UNCONFIRMED", table="assessments", row=None,
                        patient_id=out["patient_id"].to_numpy()[sel], column="response", value="PD", message=msg)
