"""Shared hand-built patients for the MRD engine tests (tests/test_mrd_*.py)."""

from __future__ import annotations

import pandas as pd

from builders import make_cohort
from mrdtrack.config import Config
from mrdtrack.mrd import derive_mrd
from mrdtrack.timeline import patient_anchors

MS = "2020-01-01"  # maintenance start of every vignette patient


def cohort_of(mrd, pid="P", maintenance=MS, maintenance_end=None, later_line=None, imaging=(), events=None,
              extra_patients=()):
    """One patient (or more via ``extra_patients``) with induction, maintenance from ``maintenance``."""
    treatments = [(pid, "induction", "VRD", "2019-01-15", "2019-07-01")]
    if maintenance:
        treatments.append((pid, "maintenance", "lenalidomide", maintenance, maintenance_end))
    if later_line:
        treatments.append((pid, "later_line", "DPd", later_line, None))
    patients = [(pid, "2019-01-01")] + [(q, "2019-01-01") for q in extra_patients]
    if events is None:
        events = [(pid, "2024-06-01", "last_contact")] + [(q, "2024-06-01", "last_contact") for q in extra_patients]
    return make_cohort(patients=patients, treatments=treatments, mrd=mrd, events=events, imaging=imaging)


def anchors_of(cohort, progression=None):
    a, _ = patient_anchors(cohort)
    prog = progression or {}
    a["progression_date"] = pd.to_datetime(a["patient_id"].map(prog))
    return a


def run(mrd, config=None, progression=None, **kw):
    """derive_mrd on one vignette patient ``P``: (samples, the patient's row as a Series, issues)."""
    c = cohort_of(mrd, **kw)
    prog = {"P": progression} if progression else None
    samples, patients, issues = derive_mrd(c, anchors_of(c, prog), config or Config())
    return samples, patients.set_index("patient_id").loc["P"], issues


def ngf(date, level=None, lod=1e-5, method="NGF", pid="P"):
    """An MRD sample row: detected at ``level``, or not detected when ``level`` is None."""
    return (pid, date, method, lod, "not_detected" if level is None else "detected", level)


def is_true(v) -> bool:
    """A nullable boolean that is known and true."""
    return v is not pd.NA and not pd.isna(v) and bool(v)


def is_false(v) -> bool:
    """A nullable boolean that is known and false."""
    return v is not pd.NA and not pd.isna(v) and not bool(v)
