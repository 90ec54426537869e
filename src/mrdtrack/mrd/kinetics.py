"""MRD kinetics during maintenance and the per-patient entry/conversion columns (docs/mrd.md section 3).

Inputs are per-row arrays over samples grouped by patient (contiguous) in date order and per-patient arrays
indexed by patient code. The kinetics set of a patient is its entry sample plus its
on-maintenance samples (docs/mrd.md section 2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.mrd.groups import count, first_row, last_row, take

NOT_EVALUABLE = "not_evaluable"
LOST_NEGATIVITY = "lost_negativity"
REMAINED_NEGATIVE = "remained_negative"
CONVERTED_NEGATIVE = "converted_negative"
DECREASING = "decreasing"
INCREASING = "increasing"
STABLE = "stable"
KINETICS = (NOT_EVALUABLE, LOST_NEGATIVITY, REMAINED_NEGATIVE, CONVERTED_NEGATIVE, DECREASING, INCREASING, STABLE)

#: mrd_trend grouping of each kinetics class (docs/mrd.md section 3); not_evaluable has none.
TREND_OF_KINETICS = {
    REMAINED_NEGATIVE: "negative", CONVERTED_NEGATIVE: "negative", DECREASING: "decreasing",
    STABLE: "not_decreasing", INCREASING: "not_decreasing", LOST_NEGATIVITY: "not_decreasing",
}


def nullable_bool(values: np.ndarray, applies: np.ndarray) -> pd.arrays.BooleanArray:
    """A pandas nullable boolean array: ``values`` where ``applies``, NA (blank) elsewhere."""
    return pd.arrays.BooleanArray(np.asarray(values, dtype=bool), ~np.asarray(applies, dtype=bool))


def kinetics_mask(code: np.ndarray, on_mask: np.ndarray, entry_rows: np.ndarray) -> np.ndarray:
    """Per row, whether the sample is the entry sample or an on-maintenance sample."""
    mask = on_mask.copy()
    mask[entry_rows[entry_rows >= 0]] = True
    return mask


def mrd_kinetics(code: np.ndarray, negative: np.ndarray, log10_level: np.ndarray, entry_rows: np.ndarray,
                 on_mask: np.ndarray, log_change: float, rel_tol: float) -> np.ndarray:
    """Per patient, the kinetics class: the first rule of docs/mrd.md section 3 that holds.

    ``decreasing`` / ``increasing`` compare log10(last level / entry level) with
    -/+ ``log_change`` inclusively (relative tolerance ``rel_tol``).
    """
    n = len(entry_rows)
    kin = kinetics_mask(code, on_mask, entry_rows)
    last_on = last_row(code, on_mask, n)
    n_kin = count(code, kin, n)
    n_neg = count(code, kin & negative, n)
    last_negative = take(negative, last_on, False).astype(bool)
    change = take(log10_level, last_on) - take(log10_level, entry_rows)
    tol = abs(log_change) * rel_tol
    evaluable = (entry_rows >= 0) & (last_on >= 0)
    conditions = [
        ~evaluable,
        ~last_negative & (n_neg > 0),
        n_neg == n_kin,
        last_negative & (n_neg < n_kin),
        change <= -log_change + tol,
        change >= log_change - tol,
    ]
    choices = [NOT_EVALUABLE, LOST_NEGATIVITY, REMAINED_NEGATIVE, CONVERTED_NEGATIVE, DECREASING, INCREASING]
    return np.select(conditions, choices, default=STABLE).astype(object)


def mrd_trend(kinetics: np.ndarray) -> np.ndarray:
    """Per patient, the PFS grouping of the seed study: negative, decreasing, not_decreasing; None
    (blank) when the kinetics are not evaluable (docs/mrd.md section 3)."""
    return pd.Series(kinetics, dtype=object).map(TREND_OF_KINETICS).astype(object).where(
        lambda s: s.notna(), None).to_numpy()


def mrd_entry_status(negative: np.ndarray, entry_rows: np.ndarray) -> np.ndarray:
    """Per patient: ``negative``, ``positive`` or ``unknown`` (no entry sample)."""
    neg = take(negative, entry_rows, False).astype(bool)
    return np.where(entry_rows < 0, "unknown", np.where(neg, "negative", "positive")).astype(object)


def mrd_converted(code: np.ndarray, negative: np.ndarray, entry_rows: np.ndarray,
                  on_mask: np.ndarray) -> pd.arrays.BooleanArray:
    """Per patient: for an entry-positive patient with an on-maintenance sample, whether one of
    those samples is negative; blank otherwise (docs/mrd.md section 3)."""
    n = len(entry_rows)
    entry_positive = (entry_rows >= 0) & ~take(negative, entry_rows, False).astype(bool)
    applies = entry_positive & (count(code, on_mask, n) > 0)
    return nullable_bool(count(code, on_mask & negative, n) > 0, applies)


def months_to_mrd_negative(code: np.ndarray, day: np.ndarray, negative: np.ndarray, entry_rows: np.ndarray,
                           on_mask: np.ndarray, maintenance_start: np.ndarray, days_per_month: float) -> np.ndarray:
    """Per patient: for an entry-positive patient, months from maintenance start to the first
    negative on-maintenance sample; NaN (blank) otherwise (docs/mrd.md section 3)."""
    n = len(entry_rows)
    entry_positive = (entry_rows >= 0) & ~take(negative, entry_rows, False).astype(bool)
    first_neg = take(day, first_row(code, on_mask & negative, n))
    return np.where(entry_positive, (first_neg - maintenance_start) / days_per_month, np.nan)
