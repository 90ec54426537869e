"""Competing-risks input: one event column coded 0 = censored, any other value naming a cause
(docs/statistics.md, "Competing risks"). Shared by the Aalen-Johansen curves, Gray's test and the
Fine-Gray model so that all three read causes, groups and times the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.stats.inputs import (
    StatsInputError,
    drop_missing,
    level_label,
    per_distinct,
    sorted_levels,
    time_columns,
)


@dataclass(frozen=True)
class CompetingData:
    """Clean columns: ``time``, ``cause`` (0 = censored, k = ``causes[k - 1]``), optional ``start``."""

    frame: pd.DataFrame
    time: np.ndarray
    cause: np.ndarray
    causes: list[str]
    start: np.ndarray | None
    n_dropped: int


def is_censored(series: pd.Series) -> np.ndarray:
    """0 (number or text "0") is censoring; every other value names a cause."""
    if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
        return series.to_numpy(float) == 0
    return per_distinct(series, lambda v: str(v).strip() in ("0", "0.0"), False)


def competing_data(df: pd.DataFrame, time: str, event: str, *, start: str | None = None,
                   extra=()) -> CompetingData:
    """Validate ``time`` (>= 0), ``start`` (< time) and the cause column after dropping incomplete
    rows (R's na.omit); causes are numbered in R's factor order (numbers ascending, text sorted)."""
    if not isinstance(df, pd.DataFrame):
        raise StatsInputError("expected a table (pandas DataFrame)")
    d, dropped = drop_missing(df, [time, event, start, *extra])
    t, st = time_columns(d, time, start)
    cens = is_censored(d[event])
    levels = sorted_levels(d.loc[~cens, event])
    if not levels:
        raise StatsInputError(f"column {event!r}: no events (0 = censored, other values name the cause)")
    lookup = {v: k + 1 for k, v in enumerate(levels)}
    cause = np.where(cens, 0, d[event].map(lookup).fillna(0).to_numpy()).astype(np.int64)
    return CompetingData(d.reset_index(drop=True), t, cause, [level_label(v) for v in levels], st, dropped)


def cause_index(data: CompetingData, cause, event: str) -> int:
    """1-based number of ``cause`` among the causes present (text or number, as the column holds it)."""
    label = level_label(cause) if not isinstance(cause, str) else cause.strip()
    if label not in data.causes:
        try:
            label = level_label(float(label))
        except ValueError:
            pass
    if label not in data.causes:
        raise StatsInputError(f"cause {cause!r} does not occur in column {event!r} "
                              f"(causes present: {', '.join(data.causes)}; 0 = censored)")
    return data.causes.index(label) + 1
