"""A sample's MRD status at the analysis threshold T (mrd.md section 1; IMWG 2016).

negative at T: ``not_detected`` with ``lod <= T``, or ``detected`` with ``level < T``;
positive at T: ``detected`` with ``level >= T``;
not evaluable at T: ``not_detected`` with ``lod > T`` (the assay could not see down to T).
Comparisons at T use the configured relative tolerance, so a value exactly at T meets it.
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
    return pd.Series(status, index=mrd.index, dtype="object")
