"""The maintenance cohort and the seed study's headline MRD figures (docs/mrd.md section 4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.issues import issue, issues_frame
from mrdtrack.stats.proportions import share


def in_maintenance_cohort(anchors: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Per anchors row: whether the patient is in the maintenance cohort (a maintenance start
    and no progression, death or later line strictly before it), and one ``excluded`` issue per
    patient left out, with the reason (docs/mrd.md section 4)."""
    ms = anchors["maintenance_start"]
    reasons = [("progression_date", "progression before maintenance start"),
               ("death_date", "death before maintenance start"),
               ("later_line_start", "later line before maintenance start")]
    why = pd.Series(np.where(ms.isna(), "no first-line maintenance", None), index=anchors.index, dtype=object)
    for col, text in reasons:
        hit = why.isna() & (anchors[col] < ms)
        why[hit] = text
    out = anchors[why.notna()]
    issues = issues_frame(
        issue("excluded", "treatments", code="NOT_IN_MAINTENANCE_COHORT", message=f"left out of the maintenance cohort figures: {w}", patient_id=p,
              column="maintenance_start")
        for p, w in zip(out["patient_id"], why[why.notna()]))
    return pd.Series(why.isna().to_numpy(), index=anchors.index, name="in_maintenance_cohort"), issues


def deepest_during_maintenance_share(patients: pd.DataFrame, conf_level: float) -> dict:
    """Share with ``deepest_during_maintenance`` true among those where it is not blank."""
    v = patients["deepest_during_maintenance"].astype("boolean")
    return share(int(v.fillna(False).sum()), int(v.notna().sum()), conf_level)


def mrd_conversion_share(patients: pd.DataFrame, conf_level: float) -> dict:
    """Share with ``mrd_converted`` true among those where it is not blank."""
    v = patients["mrd_converted"].astype("boolean")
    return share(int(v.fillna(False).sum()), int(v.notna().sum()), conf_level)


def progressed_after_mrd_negative_share(patients: pd.DataFrame, conf_level: float) -> dict:
    """Among patients ever MRD-negative, the share with a progression after their first negative
    sample (``first_negative_date`` when given; it is before progression by definition)."""
    ever = patients["mrd_ever_negative"].astype("boolean").fillna(False).to_numpy(bool)
    prog = pd.to_datetime(patients["progression_date"])
    progressed = prog.notna()
    if "first_negative_date" in patients.columns:
        progressed &= prog > pd.to_datetime(patients["first_negative_date"])
    return share(int((ever & progressed.to_numpy(bool)).sum()), int(ever.sum()), conf_level)


def mrd_cohort_figures(patients: pd.DataFrame, config: Config) -> dict:
    """Headline shares of docs/mrd.md section 4 over the maintenance cohort, each
    ``{numerator, denominator, value, ci_low, ci_high}`` with a Wilson interval at
    ``config.conf_level``."""
    read = [c for c in ("deepest_during_maintenance", "mrd_converted", "mrd_ever_negative", "progression_date",
                        "first_negative_date") if c in patients.columns]  # not all 60 columns copied
    cohort = patients.loc[patients["in_maintenance_cohort"].astype("boolean").fillna(False).to_numpy(bool), read]
    return {
        "deepest_during_maintenance": deepest_during_maintenance_share(cohort, config.conf_level),
        "mrd_conversion": mrd_conversion_share(cohort, config.conf_level),
        "progressed_after_mrd_negative": progressed_after_mrd_negative_share(cohort, config.conf_level),
    }
