"""The MRD engine: sample table and per-patient MRD columns for a batch of whole patients
(docs/mrd.md sections 1-3; docs/response-rules.md section 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.config import Config
from mrdtrack.issues import issue, issues_frame
from mrdtrack.mrd.groups import count, days, take, to_dates
from mrdtrack.mrd.kinetics import (
    kinetics_mask,
    months_to_mrd_negative,
    mrd_converted,
    mrd_entry_status,
    mrd_kinetics,
    mrd_trend,
    nullable_bool,
)
from mrdtrack.mrd.negativity import (
    ever_negative,
    first_negative_day,
    lost_negativity,
    negative_runs,
    sustained_negative,
    sustained_negative_imaging,
)
from mrdtrack.mrd.samples import SAMPLE_COLUMNS, sample_frame
from mrdtrack.mrd.slope import NO_MLE, NOT_CONVERGED, ONE_DATE, tobit_slope
from mrdtrack.mrd.windows import entry_sample_rows, on_maintenance_end, on_maintenance_mask
from mrdtrack.timeline import phase_at

#: Per-patient columns of ``derive_mrd`` (patients.csv MRD columns plus two dates).
PATIENT_COLUMNS = [
    "patient_id", "mrd_entry_status", "mrd_converted", "mrd_ever_negative", "mrd_sustained_negative",
    "mrd_sustained_negative_imaging", "mrd_lost_negativity", "mrd_kinetics", "mrd_trend",
    "months_to_mrd_negative", "mrd_samples", "mrd_log10_slope_per_year", "first_negative_date", "entry_date",
]

_ANCHOR_NEEDS = ("patient_id", "maintenance_start", "maintenance_end", "later_line_start", "progression_date")

_SLOPE_CODES = {ONE_DATE: "MRD_SLOPE_ONE_DATE", NO_MLE: "MRD_SLOPE_NO_MLE", NOT_CONVERGED: "MRD_SLOPE_NOT_CONVERGED"}
_SLOPE_MESSAGES = {
    ONE_DATE: "MRD slope not estimated: all entry and on-maintenance samples share one date",
    NO_MLE: "MRD slope not estimated: the censored likelihood has no maximum (the detected samples "
            "share one date and the not-detected ones lie on one side of it)",
    NOT_CONVERGED: "MRD slope not estimated: the censored (Tobit) fit did not converge",
}


def _patient_days(anchors: pd.DataFrame, column: str) -> np.ndarray:
    return days(anchors[column])


def _slope_issues(patient_ids: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
    bad = np.isin(reason, list(_SLOPE_MESSAGES))
    return issues_frame(
        issue("warning", "mrd", _SLOPE_MESSAGES[r], code=_SLOPE_CODES[r], patient_id=p, column="mrd_log10_slope_per_year")
        for p, r in zip(patient_ids[bad], reason[bad]))


def _imaging_arrays(imaging: pd.DataFrame, patient_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    code = pd.Index(patient_ids).get_indexer(imaging["patient_id"]) if len(imaging) else np.zeros(0, np.int64)
    keep = code >= 0
    img = imaging[keep]
    return (code[keep].astype(np.int64), days(img["date"]),
            (img["result"] == "positive").to_numpy(dtype=bool))


def _windows(code: np.ndarray, day: np.ndarray, evaluable: np.ndarray, anchors: pd.DataFrame,
             config: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(maintenance start and progression days per patient, entry sample rows, on-maintenance
    mask): the sample windows of docs/mrd.md section 2."""
    ms = _patient_days(anchors, "maintenance_start")
    prog = _patient_days(anchors, "progression_date")
    end = on_maintenance_end(_patient_days(anchors, "maintenance_end"), prog,
                             _patient_days(anchors, "later_line_start"))
    entry = entry_sample_rows(code, day, evaluable, ms, config.entry_window_before_days,
                              config.entry_window_after_days)
    return ms, prog, entry, on_maintenance_mask(code, day, evaluable, entry, end)


def trend_until(samples: pd.DataFrame, anchors: pd.DataFrame, until_day: np.ndarray, config: Config) -> np.ndarray:
    """``mrd_trend`` per anchors row from the samples dated up to ``until_day`` (float days, one per
    anchors row; NaN keeps no sample): ``derive_mrd``'s trend on that subset, without the rest.

    ``samples``: ``sample_frame(cohort.mrd, anchors["patient_id"], config)[0]``."""
    w = samples[samples["day"].to_numpy() <= until_day[samples["code"].to_numpy()]]
    code, day = w["code"].to_numpy(np.int64), w["day"].to_numpy(float)
    _, _, entry, on = _windows(code, day, w["evaluable"].to_numpy(bool), anchors, config)
    kinetics = mrd_kinetics(code, w["negative"].to_numpy(bool), w["log10_level"].to_numpy(float), entry, on,
                            config.kinetics_log_change, config.relative_tolerance)
    return mrd_trend(kinetics)


def derive_mrd(cohort: Cohort, anchors: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                  pd.DataFrame]:
    """MRD samples, per-patient MRD columns and issues (docs/mrd.md sections 1-3).

    ``anchors``: ``timeline.patient_anchors(cohort)[0]`` plus ``progression_date`` (the analysis
    progression date, NaT if none); one output row per anchors row.

    Returns ``samples`` (docs/cli.md mrd.csv columns, sorted by patient and date), ``patients``
    (``PATIENT_COLUMNS``; true/false columns as nullable booleans, NA = blank) and ``issues``.
    """
    missing = [c for c in _ANCHOR_NEEDS if c not in anchors.columns]
    if missing:
        raise ValueError(f"derive_mrd: anchors lack {', '.join(missing)}")
    pids = anchors["patient_id"].to_numpy()
    n = len(pids)
    w, issues = sample_frame(cohort.mrd, pids, config)
    code, day = w["code"].to_numpy(np.int64), w["day"].to_numpy(float)
    neg, pos = w["negative"].to_numpy(bool), w["positive"].to_numpy(bool)
    evaluable = w["evaluable"].to_numpy(bool)
    log10_level = w["log10_level"].to_numpy(float)

    ms, prog, entry, on = _windows(code, day, evaluable, anchors, config)
    kinetics = mrd_kinetics(code, neg, log10_level, entry, on, config.kinetics_log_change,
                            config.relative_tolerance)

    has_evaluable = count(code, evaluable, n) > 0
    before_prog = evaluable & ~(day >= prog[code])  # no progression (NaN) keeps every sample
    runs = negative_runs(code, day, neg, pos, before_prog, config.mrd_sustained_days, n)
    sustained = sustained_negative(runs, n)
    img_code, img_day, img_pos = _imaging_arrays(cohort.imaging, pids)
    has_imaging = count(img_code, np.ones(len(img_code), bool), n) > 0
    sustained_img = sustained & sustained_negative_imaging(runs, day, img_code, img_day, img_pos,
                                                           config.mrd_sustained_days, n)

    kin = kinetics_mask(code, on, entry)
    t_years = (day - ms[code]) / (12 * config.days_per_month)  # years of 365.25 days
    slope, reason = tobit_slope(code[kin], t_years[kin], log10_level[kin],
                                w["censored"].to_numpy(bool)[kin], n, config.mrd_log10_sd)

    patients = pd.DataFrame({
        "patient_id": pids,
        "mrd_entry_status": mrd_entry_status(neg, entry),
        "mrd_converted": mrd_converted(code, neg, entry, on),
        "mrd_ever_negative": nullable_bool(ever_negative(code, neg, before_prog, n), has_evaluable),
        "mrd_sustained_negative": nullable_bool(sustained, has_evaluable),
        # blank also when sustained but the patient has no imaging at all (cannot be judged)
        "mrd_sustained_negative_imaging": nullable_bool(sustained_img,
                                                        has_evaluable & (has_imaging | ~sustained)),
        "mrd_lost_negativity": nullable_bool(lost_negativity(code, day, neg, pos, before_prog, n), has_evaluable),
        "mrd_kinetics": kinetics,
        "mrd_trend": mrd_trend(kinetics),
        "months_to_mrd_negative": months_to_mrd_negative(code, day, neg, entry, on, ms, config.days_per_month),
        "mrd_samples": count(code, np.ones(len(code), bool), n).astype(np.int64),
        "mrd_log10_slope_per_year": slope,
        "first_negative_date": to_dates(first_negative_day(code, day, neg, before_prog, n)),
        "entry_date": to_dates(take(day, entry)),
    })

    samples = w.copy()
    samples["phase"] = phase_at(samples[["patient_id", "date"]], cohort.treatments, anchors)
    samples = samples[SAMPLE_COLUMNS].reset_index(drop=True)
    samples["censored"] = samples["censored"].astype(bool)
    all_issues = [f for f in (issues, _slope_issues(pids, reason)) if len(f)]
    return samples, patients, (pd.concat(all_issues, ignore_index=True) if all_issues else issues_frame())
