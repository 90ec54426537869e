"""The analysis pipeline: Cohort + Config -> derived tables and cohort statistics.

``derive_batch`` runs every per-patient derivation (responses, MRD, endpoints, landmark classes,
the time-varying MRD covariate) on one batch of whole patients. ``analyze_cohort`` runs it over
batches (optionally in parallel processes) and then the cohort-level statistics. Outputs are the
same whatever the batch size or the number of processes: every per-patient result depends only
on that patient's rows, and the batches are put back together in patient order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.config import Config
from mrdtrack.issues import ISSUE_COLUMNS, issues_frame
from mrdtrack.mrd import derive_mrd
from mrdtrack.mrd.derive import trend_until
from mrdtrack.mrd.groups import days as mrd_days
from mrdtrack.mrd.samples import sample_frame
from mrdtrack.outcomes.endpoints import derive_endpoints, progression_discrepancy_issues
from mrdtrack.outcomes.progression import analysis_progression
from mrdtrack.processes import process_pool
from mrdtrack.response import derive_assessments, recorded_response_issues, summarise_responses
from mrdtrack.sorting import concat_sorted
from mrdtrack.timeline import patient_anchors

#: Patients per derivation batch: a bucket of the partitioned engine (about 1,250,000 input rows:
#: 6,500 registry patients) is one batch, derived without cutting and putting back its tables.
DEFAULT_BATCH_SIZE = 10_000

ASSESSMENT_COLUMNS = ["patient_id", "date", "phase", "response", "confirmed_response", "pd_confirmed",
                      "basis", "note"]
MRD_COLUMNS = ["patient_id", "date", "phase", "method", "lod", "result", "level", "log10_level",
               "censored", "status"]
PATIENT_COLUMNS = [
    "patient_id", "followed", "maintenance_start", "maintenance_end", "response_at_maintenance_start",
    "best_response", "deepest_response", "deepest_response_date", "deepest_during_maintenance",
    "progression_date", "progression_source", "mrd_entry_status", "mrd_converted", "mrd_ever_negative",
    "mrd_sustained_negative", "mrd_sustained_negative_imaging", "mrd_lost_negativity", "mrd_kinetics",
    "mrd_trend", "months_to_mrd_negative", "mrd_samples", "mrd_log10_slope_per_year", "pfs_months",
    "pfs_days", "pfs_event", "os_months", "os_days", "os_event", "pfs_dx_months", "pfs_dx_days",
    "pfs_dx_event", "os_dx_months", "os_dx_days", "os_dx_event",
]
#: Columns of patients.csv beyond the contract's minimum (documented in docs/outputs.md).
PATIENT_EXTRA_COLUMNS = [
    "in_maintenance_cohort", "derived_progression_date", "recorded_progression_date", "death_date",
    "end_of_followup", "first_negative_date", "landmark_12_trend", "landmark_24_trend",
    "age_at_diagnosis", "sex", "iss_stage", "cytogenetic_risk", "heavy_chain", "light_chain", "spm_date",
]
#: The time-varying MRD covariate: one row per change (days from maintenance start).
TV_COLUMNS = ["patient_id", "time_days", "mrd_negative"]


@dataclass
class Analysis:
    """Everything ``analyze`` produces; the report and the patient page read only this."""

    config: Config
    cohort: Cohort
    anchors: pd.DataFrame  # timeline.ANCHOR_COLUMNS + progression_date, progression_source
    assessments: pd.DataFrame  # docs/cli.md assessments.csv columns (may carry extra columns)
    mrd: pd.DataFrame  # docs/cli.md mrd.csv columns
    patients: pd.DataFrame  # docs/cli.md patients.csv columns + PATIENT_EXTRA_COLUMNS
    issues: pd.DataFrame  # issues.ISSUE_COLUMNS
    summary: dict = field(default_factory=dict)  # summary.json content
    #: curves and model tables for the report (km_pfs, km_os, km_pfs_by_trend, at_risk, ...)
    statistics: dict = field(default_factory=dict)
    #: the time-varying MRD covariate changes (TV_COLUMNS)
    mrd_changes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TV_COLUMNS))
    #: tables kept on disk as formatted row files instead of a frame (``executors.base.RowPieces``):
    #: the partitioned and Spark executors keep ``assessments`` there (the frame is then empty); the
    #: files live while the executor's context is open, their row count after it
    row_files: dict = field(default_factory=dict)


@dataclass
class BatchResult:
    anchors: pd.DataFrame
    assessments: pd.DataFrame
    mrd: pd.DataFrame
    patients: pd.DataFrame
    issues: pd.DataFrame
    mrd_changes: pd.DataFrame


def _with_analysis_progression(anchors: pd.DataFrame, response_patients: pd.DataFrame,
                               config: Config) -> pd.DataFrame:
    a = anchors.set_index("patient_id")
    derived = response_patients.set_index("patient_id")["derived_progression_date"].reindex(a.index)
    prog = analysis_progression(derived, a["recorded_progression_date"], config.progression_policy,
                                config.progression_agreement_days)
    a["derived_progression_date"] = derived
    a["progression_date"] = prog["progression_date"]
    a["progression_source"] = prog["progression_source"]
    return a.reset_index()


def landmark_trends(samples: pd.DataFrame, anchors: pd.DataFrame, config: Config, months: float) -> np.ndarray:
    """``mrd_trend`` built only from samples dated up to the landmark (docs/outcomes.md section 3).

    The landmark is ``months`` after maintenance start; maintenance is cut at the landmark, and
    progression after it is not yet known at the landmark. Patients with progression, death or
    end of follow-up before the landmark get a blank class (they are not in the landmark set).
    ``samples``: ``sample_frame`` of the batch's MRD samples for ``anchors``' patients.
    """
    days = months * config.days_per_month
    lm = anchors["maintenance_start"] + pd.to_timedelta(days, unit="D")
    a = anchors.copy()
    a["maintenance_end"] = a["maintenance_end"].where(a["maintenance_end"] <= lm, lm)
    a["progression_date"] = a["progression_date"].where(a["progression_date"] <= lm)
    return trend_until(samples, a, mrd_days(anchors["maintenance_start"]) + days, config)


def mrd_covariate_changes(samples: pd.DataFrame, mrd_patients: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """The time-varying MRD covariate (docs/outcomes.md section 3), as change points.

    At maintenance start (time 0) it is the entry status; afterwards the status (negative at T, or
    not) of the latest evaluable sample, carried forward from its date. Not-evaluable samples
    change nothing. A patient with unknown entry status enters the risk set at the first
    evaluable sample after maintenance start (the time before it has no covariate value).
    """
    ms = anchors.set_index("patient_id")["maintenance_start"]
    entry = mrd_patients.set_index("patient_id")["mrd_entry_status"].reindex(ms.index)
    base = pd.DataFrame({"patient_id": ms.index, "time_days": 0.0,
                         "mrd_negative": (entry == "negative").astype(float).where(entry.isin(["negative", "positive"]))})
    base = base[ms.notna().to_numpy() & base["mrd_negative"].notna().to_numpy()]
    s = samples[samples["status"].isin(["negative", "positive"])]
    t = (s["date"] - s["patient_id"].map(ms)).dt.days
    ch = pd.DataFrame({"patient_id": s["patient_id"], "time_days": t.astype(float),
                       "mrd_negative": (s["status"] == "negative").astype(float)})
    ch = ch[ch["time_days"] > 0]
    out = pd.concat([base, ch], ignore_index=True).sort_values(["patient_id", "time_days"], kind="stable")
    out = out.drop_duplicates(["patient_id", "time_days"], keep="last")
    return out[TV_COLUMNS].reset_index(drop=True)


def derive_batch(cohort: Cohort, config: Config) -> BatchResult:
    """Every per-patient derivation on one batch of whole patients (pure)."""
    anchors, anchor_issues = patient_anchors(cohort)
    assessments, response_patients, response_issues = derive_assessments(cohort, anchors, config)
    anchors = _with_analysis_progression(anchors, response_patients, config)
    samples, mrd_patients, mrd_issues = derive_mrd(cohort, anchors, config)
    responses = summarise_responses(assessments, response_patients, samples, anchors, config)
    endpoints, endpoint_issues = derive_endpoints(anchors, config)
    issues = [anchor_issues, response_issues, mrd_issues, endpoint_issues,
              recorded_response_issues(cohort, assessments, config),
              progression_discrepancy_issues(anchors, anchors.set_index("patient_id")["derived_progression_date"],
                                             config.progression_agreement_days)]

    a = anchors.set_index("patient_id")
    p = cohort.patients.drop_duplicates("patient_id").set_index("patient_id")
    patients = pd.DataFrame(index=a.index)
    for frame in (response_patients, responses, mrd_patients, endpoints):
        f = frame.set_index("patient_id")
        patients = patients.join(f[[c for c in f.columns if c not in patients.columns]])
    for col in ("maintenance_start", "maintenance_end", "progression_date", "progression_source",
                "derived_progression_date", "recorded_progression_date", "death_date", "end_of_followup", "spm_date"):
        patients[col] = a[col]
    for col in ("age_at_diagnosis", "sex", "iss_stage", "cytogenetic_risk", "heavy_chain", "light_chain"):
        patients[col] = p[col].reindex(patients.index) if col in p.columns else None
    patients = patients.reset_index()
    lm_samples = sample_frame(cohort.mrd, anchors["patient_id"].to_numpy(), config)[0]
    for lm in config.landmarks_months:
        patients[f"landmark_{lm:g}_trend"] = landmark_trends(lm_samples, anchors, config, lm)
    for col in PATIENT_COLUMNS + PATIENT_EXTRA_COLUMNS:
        if col not in patients.columns:
            patients[col] = None
    extra = [c for c in patients.columns if c not in PATIENT_COLUMNS]
    patients = patients[PATIENT_COLUMNS + [c for c in PATIENT_EXTRA_COLUMNS if c in extra]
                        + [c for c in extra if c not in PATIENT_EXTRA_COLUMNS]]
    changes = mrd_covariate_changes(samples, mrd_patients, anchors)
    issues_df = pd.concat([f for f in issues if len(f)] or [issues_frame()], ignore_index=True)
    return BatchResult(anchors=anchors, assessments=assessments, mrd=samples, patients=patients,
                       issues=issues_df[ISSUE_COLUMNS], mrd_changes=changes)


def _derive_batch_star(args):
    return derive_batch(*args)


def sort_issues(issues: pd.DataFrame) -> pd.DataFrame:
    """A deterministic order (independent of batching): cohort-wide first, then per patient."""
    key = issues["patient_id"].fillna("").astype(str)
    order = np.lexsort((issues["message"].astype(str).to_numpy(), issues["row"].fillna(-1).to_numpy(),
                        issues["table"].astype(str).to_numpy(), key.to_numpy()))
    return issues.iloc[order].reset_index(drop=True)


def derive_all(cohort: Cohort, config: Config, batch_size: int = DEFAULT_BATCH_SIZE, jobs: int = 1,
               progress: Callable[[int], None] | None = None) -> BatchResult:
    """``derive_batch`` over batches of whole patients (in ``jobs`` processes), reassembled."""
    batches = list(cohort.batches(batch_size))
    results: list[BatchResult] = []
    if jobs > 1 and len(batches) > 1:
        with process_pool(jobs) as pool:
            for r in pool.map(_derive_batch_star, ((b, config) for b in batches)):
                results.append(r)
                if progress:
                    progress(len(r.patients))
    else:
        for b in batches:
            results.append(derive_batch(b, config))
            if progress:
                progress(len(results[-1].patients))

    def cat(name, sort):
        frames = [getattr(r, name) for r in results if len(getattr(r, name))]
        if not frames:
            return getattr(results[0], name) if results else pd.DataFrame()
        # one batch (a registry bucket) usually is in order already: then no sort
        return concat_sorted(frames, sort) if sort else pd.concat(frames, ignore_index=True)

    return BatchResult(
        anchors=cat("anchors", ["patient_id"]),
        assessments=cat("assessments", ["patient_id", "date"]),
        mrd=cat("mrd", ["patient_id", "date"]),
        patients=cat("patients", ["patient_id"]),
        issues=sort_issues(cat("issues", None)) if results else issues_frame(),
        mrd_changes=cat("mrd_changes", ["patient_id", "time_days"]),
    )


def analyze_cohort(cohort: Cohort, config: Config, batch_size: int = DEFAULT_BATCH_SIZE, jobs: int = 1,
                   progress: Callable[[int], None] | None = None) -> Analysis:
    """Derive everything per patient, then the cohort statistics (summary and curves)."""
    from mrdtrack.outcomes.cohort_statistics import cohort_statistics

    d = derive_all(cohort, config, batch_size=batch_size, jobs=jobs, progress=progress)
    summary, statistics, stat_issues = cohort_statistics(d.patients, d.mrd_changes, config)
    issues = d.issues if stat_issues.empty else pd.concat([d.issues, stat_issues], ignore_index=True)
    return Analysis(config=config, cohort=cohort, anchors=d.anchors, assessments=d.assessments, mrd=d.mrd,
                    patients=d.patients, issues=issues, summary=summary, statistics=statistics,
                    mrd_changes=d.mrd_changes)
