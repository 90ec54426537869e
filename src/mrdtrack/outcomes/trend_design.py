"""The MRD-trend comparison's groups and model design, shared by the Cox and Fine-Gray analyses of
``analyze`` (docs/statistics.md): the groups, the reference group, the adjustment covariates, and
the 0/1 columns with the reference levels clinicians expect (rather than R's first level).
"""

from __future__ import annotations

import pandas as pd

TREND_ORDER = ("negative", "decreasing", "not_decreasing")
REFERENCE_TREND = "not_decreasing"
ADJUSTMENT_COVARIATES = ("cytogenetic_risk", "iss_stage")
AT_RISK_STEP_MONTHS = 6.0  # spacing of the numbers at risk under every curve


def trend_design(df: pd.DataFrame, adjust: list[str], keep=("time", "event")) -> tuple[pd.DataFrame, list[str]]:
    """``keep`` columns plus 0/1 indicators: trend groups vs not_decreasing, high vs standard
    cytogenetic risk, ISS II and III vs I; indicators that do not vary are left out."""
    d = df[list(keep)].copy()
    cols = []
    for g in TREND_ORDER:
        if g != REFERENCE_TREND:
            d[f"trend_{g}"] = (df["trend"] == g).astype(float)
            cols.append(f"trend_{g}")
    if "cytogenetic_risk" in adjust:
        d["cytogenetic_high"] = (df["cytogenetic_risk"] == "high").astype(float)
        cols.append("cytogenetic_high")
    if "iss_stage" in adjust:
        for lvl in ("II", "III"):
            d[f"iss_{lvl}"] = (df["iss_stage"] == lvl).astype(float)
            cols.append(f"iss_{lvl}")
    cols = [c for c in cols if d[c].nunique() > 1]
    return d, cols
