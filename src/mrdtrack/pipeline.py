"""The analysis pipeline: Cohort + Config -> derived tables and cohort statistics.

``derive`` runs the per-patient derivations (responses, MRD, endpoints) on one batch of whole
patients; ``analyze_cohort`` runs them over batches and then the cohort-level statistics.
(Under construction: the engines are being wired in.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mrdtrack.cohort import Cohort
from mrdtrack.config import Config


@dataclass
class Analysis:
    """Everything ``analyze`` produces; the report and the patient page read only this."""

    config: Config
    cohort: Cohort
    anchors: pd.DataFrame  # timeline.ANCHOR_COLUMNS + progression_date, progression_source
    assessments: pd.DataFrame  # cli.md assessments.csv columns (may carry extra columns)
    mrd: pd.DataFrame  # cli.md mrd.csv columns
    patients: pd.DataFrame  # cli.md patients.csv columns
    issues: pd.DataFrame  # issues.ISSUE_COLUMNS
    summary: dict = field(default_factory=dict)  # summary.json content
    #: curves and model tables for the report (km_pfs, km_os, km_pfs_by_trend, at_risk, ...)
    statistics: dict = field(default_factory=dict)
