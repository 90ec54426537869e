"""Landmark data sets (Anderson, Cain & Gelber, J Clin Oncol 1983), against guarantee-time bias.

At landmark L keep the subjects still event-free and under follow-up (time > L), measure time
from L, and attach a class built only from data up to L (supplied by the caller as id -> class).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.inputs import StatsInputError, require_columns, survival_data


def landmark_data(df: pd.DataFrame, time: str, event: str, landmark: float, classes: pd.DataFrame | None = None,
                  *, id_col: str = "id", class_col: str = "class") -> pd.DataFrame:
    """Rows of ``df`` with ``time > landmark``, ``time`` replaced by time - landmark, and
    ``class_col`` from ``classes`` (``id_col`` -> ``class_col``; omit when ``df`` already holds a
    class built up to L). Subjects without a class are left out and counted in
    ``attrs["warnings"]``; ``attrs["n_excluded_before"]`` counts those with an event or censored
    at or before L."""
    if not np.isfinite(landmark) or landmark < 0:
        raise StatsInputError(f"landmark {landmark!r}: give a time >= 0")
    data = survival_data(df, time, event)
    frame = data.frame.copy()
    frame[time] = data.time
    frame[event] = data.event
    at = frame[frame[time] > landmark].copy()
    at[time] = at[time] - landmark
    warnings = []
    if classes is not None:
        require_columns(classes, [id_col, class_col])
        require_columns(frame, [id_col])
        if classes[id_col].duplicated().any():
            raise StatsInputError(f"classes: id {classes.loc[classes[id_col].duplicated(), id_col].iloc[0]!r} "
                                  f"has more than one class")
        at = at.drop(columns=[class_col], errors="ignore").merge(classes[[id_col, class_col]], on=id_col, how="left")
    else:
        require_columns(frame, [class_col])
    missing = at[class_col].isna()
    if missing.any():
        warnings.append(f"{int(missing.sum())} subject(s) at risk at landmark {landmark:g} have no class: left out")
        at = at[~missing]
    at = at.reset_index(drop=True)
    at.attrs["warnings"] = warnings
    at.attrs["n_excluded_before"] = int((frame[time] <= landmark).sum())
    at.attrs["landmark"] = float(landmark)
    return at
