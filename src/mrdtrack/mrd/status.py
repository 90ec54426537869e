"""A sample's MRD status at the analysis threshold T (docs/mrd.md section 1; IMWG 2016).

negative at T: ``not_detected`` with ``lod <= T``, or ``detected`` with ``level < T``;
positive at T: ``detected`` with ``level >= T``;
not evaluable at T: ``not_detected`` with ``lod > T`` (the assay could not see down to T).
Comparisons at T use the configured relative tolerance, so a value exactly at T meets it.
A ``detected`` sample without a level (the contract forbids it; validation reports it) is not
evaluable rather than silently negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NEGATIVE, POSITIVE, NOT_EVALUABLE = "negative", "positive", "not_evaluable"


def mrd_status_at_threshold(mrd: pd.DataFrame, threshold: float, rel_tol: float = 1e-9) -> pd.Series:
    """Status of each sample at ``threshold`` (vectorised)."""
    detected = (mrd["result"] == "detected").to_numpy()
    level = mrd["level"].to_numpy(dtype=float)
    lod = mrd["lod"].to_numpy(dtype=float)
    tol = threshold * rel_tol
    at_or_above = level >= threshold - tol
    lod_ok = lod <= threshold + tol
    status = np.where(detected, np.where(at_or_above, POSITIVE, NEGATIVE),
                      np.where(lod_ok, NEGATIVE, NOT_EVALUABLE))
    # NaN level compares False above: without this it would read as negative
    status = np.where(detected & np.isnan(level), NOT_EVALUABLE, status)
    return pd.Series(status, index=mrd.index, dtype="object")


def mrd_log10_level(mrd: pd.DataFrame) -> pd.DataFrame:
    """``log10_level`` and ``censored`` of each sample (docs/mrd.md section 1).

    Detected: log10(level), not censored. Not detected: log10(lod), left-censored (the true
    level is below the LOD, not equal to it).
    """
    detected = (mrd["result"] == "detected").to_numpy()
    level = mrd["level"].to_numpy(dtype=float)
    lod = mrd["lod"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(detected, np.log10(level), np.log10(lod))
    return pd.DataFrame({"log10_level": value, "censored": ~detected}, index=mrd.index)
