"""MRD engine: status at T, kinetics, sustained negativity, censored slope, alerts (docs/mrd.md)."""

from mrdtrack.mrd.alerts import patient_alerts
from mrdtrack.mrd.derive import PATIENT_COLUMNS, derive_mrd
from mrdtrack.mrd.figures import in_maintenance_cohort, mrd_cohort_figures
from mrdtrack.mrd.samples import SAMPLE_COLUMNS
from mrdtrack.mrd.status import mrd_status_at_threshold

__all__ = ["PATIENT_COLUMNS", "SAMPLE_COLUMNS", "derive_mrd", "in_maintenance_cohort", "mrd_cohort_figures",
           "mrd_status_at_threshold", "patient_alerts"]
