"""Which samples are the entry sample and the on-maintenance samples (docs/mrd.md section 2).

All inputs are per-row arrays over samples grouped by patient (contiguous) in date order and per-patient arrays
indexed by patient code; dates are float days (NaN = none).
"""

from __future__ import annotations

import numpy as np

from mrdtrack.mrd.groups import last_row, take


def entry_sample_rows(code: np.ndarray, day: np.ndarray, evaluable: np.ndarray, maintenance_start: np.ndarray,
                      before_days: int, after_days: int) -> np.ndarray:
    """Per patient, the row of the entry sample, -1 if none (docs/mrd.md section 2).

    The entry sample is the last evaluable sample dated from ``before_days`` before to
    ``after_days`` after maintenance start (both ends inclusive).
    """
    ms = maintenance_start[code]
    in_window = evaluable & (day >= ms - before_days) & (day <= ms + after_days)
    return last_row(code, in_window, len(maintenance_start))


def on_maintenance_end(maintenance_end: np.ndarray, progression: np.ndarray, later_line: np.ndarray) -> np.ndarray:
    """Per patient, the last day a sample may count as on maintenance: the earliest of maintenance
    end, the analysis progression date and a later-line start (docs/mrd.md section 2)."""
    return np.fmin(np.fmin(maintenance_end, progression), later_line)


def on_maintenance_mask(code: np.ndarray, day: np.ndarray, evaluable: np.ndarray, entry_rows: np.ndarray,
                        end_day: np.ndarray) -> np.ndarray:
    """Per row, whether the sample is on maintenance: evaluable, dated strictly after the entry
    sample and no later than ``end_day`` (docs/mrd.md section 2). Without an entry sample, none is."""
    entry_day = take(day, entry_rows)[code]
    return evaluable & (day > entry_day) & (day <= end_day[code])
