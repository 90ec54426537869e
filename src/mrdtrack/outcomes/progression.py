"""The analysis progression date (docs/response-rules.md section 4, docs/outcomes.md section 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _dates(s: pd.Series) -> pd.Series:
    return s if pd.api.types.is_datetime64_dtype(s.dtype) else pd.to_datetime(s)


def analysis_progression(derived: pd.Series, recorded: pd.Series, policy: str,
                         agreement_days: int) -> pd.DataFrame:
    """Per patient: ``progression_date`` and ``progression_source`` under ``policy``.

    ``derived`` (confirmed IMWG PD from labs) and ``recorded`` (events table) are date Series
    indexed alike. Policies: ``derived``, ``recorded``, ``earliest`` (the earlier of the two).
    ``progression_source`` is ``both`` when both exist within ``agreement_days`` of each other,
    else the source of the chosen date; blank without progression. ``discrepant`` is true when
    the two differ by more than ``agreement_days`` or only one exists.
    """
    derived = _dates(derived)
    recorded = _dates(recorded.reindex(derived.index))
    if policy == "derived":
        date = derived
    elif policy == "recorded":
        date = recorded
    elif policy == "earliest":
        date = pd.concat([derived, recorded], axis=1).min(axis=1)
    else:
        raise ValueError(f"unknown progression_policy {policy!r}")
    gap = (derived - recorded).abs().dt.days
    agree = derived.notna() & recorded.notna() & (gap <= agreement_days)
    src = np.where(date.isna(), None,
                   np.where(agree, "both", np.where(date == derived, "derived", "recorded")))
    discrepant = (derived.notna() != recorded.notna()) | (gap > agreement_days)
    return pd.DataFrame({"progression_date": date, "progression_source": src,
                         "discrepant": discrepant.fillna(False).astype(bool)}, index=derived.index)
