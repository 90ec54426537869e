"""Baseline values and the followed (measurable) parameter (docs/response-rules.md section 2).

Sources: Kumar et al., Lancet Oncol 2016 (measurable disease); Rajkumar et al., Blood 2011.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.response.assessments import ALL_TESTS, VALUE_COLUMN, abnormal_flc_ratio, flc_measures
from mrdtrack.response.levels import ge

BASELINE_TESTS = ("serum_m_protein", "urine_m_protein", "flc_kappa", "flc_lambda", "bm_plasma_cells",
                  "plasmacytoma_spd")
FOLLOWABLE = ("serum", "urine", "flc", "marrow")


def baseline_values(labs: pd.DataFrame, first_treatment_day: np.ndarray, n_patients: int,
                    config: Config) -> pd.DataFrame:
    """Per patient code: the latest value of each parameter on or before the first treatment start
    and at most ``baseline_window_days`` before it (docs/response-rules.md section 2).

    ``labs`` is the prepared (sorted) labs table; columns ``b_serum``, ``b_urine``, ``b_kappa``,
    ``b_lambda``, ``b_marrow_pct``, ``b_spd`` (NaN when absent).
    """
    start = first_treatment_day[labs["pcode"].to_numpy()]
    day = labs["day"].to_numpy()
    in_window = (day <= start) & (day >= start - config.baseline_window_days)
    codes = [ALL_TESTS.index(t) for t in BASELINE_TESTS]
    sub = labs[in_window & np.isin(labs["tcode"].to_numpy(), codes)]
    # sorted by (patient, day, test, row): the last row of each (patient, test) is the latest
    sub = sub.sort_values(["pcode", "tcode", "day", "row"], kind="stable")
    last = sub.drop_duplicates(["pcode", "tcode"], keep="last")
    out = {}
    for test in BASELINE_TESTS:
        col = np.full(n_patients, np.nan)
        sel = last[last["tcode"] == ALL_TESTS.index(test)]
        col[sel["pcode"].to_numpy()] = sel["value_num"].to_numpy()
        out["b_" + VALUE_COLUMN[test]] = col
    return pd.DataFrame(out)


def measurable_serum(b_serum: np.ndarray, config: Config) -> np.ndarray:
    """Serum M-protein >= 1.0 g/dL at baseline (IMWG 2016, measurable disease)."""
    return ge(b_serum, config.measurable_serum_g_dl, config.relative_tolerance)


def measurable_urine(b_urine: np.ndarray, config: Config) -> np.ndarray:
    """Urine M-protein >= 200 mg/24h at baseline (IMWG 2016, measurable disease)."""
    return ge(b_urine, config.measurable_urine_mg_24h, config.relative_tolerance)


def measurable_flc(b_involved: np.ndarray, b_ratio: np.ndarray, config: Config) -> np.ndarray:
    """Involved FLC >= 100 mg/L with an abnormal ratio at baseline (IMWG 2016; light-chain-only and
    oligosecretory disease)."""
    return ge(b_involved, config.measurable_flc_mg_l, config.relative_tolerance) & abnormal_flc_ratio(b_ratio, config)


def followed_parameters(base: pd.DataFrame, involved_kappa: np.ndarray, involved_known: np.ndarray,
                        config: Config) -> pd.DataFrame:
    """Per patient: which parameters are followed (docs/response-rules.md section 2).

    Serum and urine by their own thresholds; dFLC only when neither is followed; the marrow only
    when none of those is and a baseline marrow value exists. Adds ``b_involved``, ``b_dflc``,
    ``b_ratio``, boolean ``f_serum``, ``f_urine``, ``f_flc``, ``f_marrow``, ``measurable`` and the
    text ``followed`` (``serum+urine`` etc., blank when not measurable).
    """
    out = base.copy()
    inv, dflc, ratio = flc_measures(base["b_kappa"].to_numpy(), base["b_lambda"].to_numpy(), involved_kappa,
                                    involved_known)
    out["b_involved"], out["b_dflc"], out["b_ratio"] = inv, dflc, ratio
    f_serum = measurable_serum(base["b_serum"].to_numpy(), config)
    f_urine = measurable_urine(base["b_urine"].to_numpy(), config)
    f_flc = ~f_serum & ~f_urine & measurable_flc(inv, ratio, config)
    f_marrow = ~f_serum & ~f_urine & ~f_flc & ~np.isnan(base["b_marrow_pct"].to_numpy())
    out["f_serum"], out["f_urine"], out["f_flc"], out["f_marrow"] = f_serum, f_urine, f_flc, f_marrow
    out["measurable"] = f_serum | f_urine | f_flc | f_marrow
    followed = np.full(len(out), "", dtype=object)
    for name, flag in zip(FOLLOWABLE, (f_serum, f_urine, f_flc, f_marrow)):
        followed = np.where(flag, np.where(followed == "", name, followed + "+" + name), followed)
    out["followed"] = followed
    return out
