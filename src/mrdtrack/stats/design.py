"""Model matrix for Cox models, coded as R's ``model.matrix`` does with treatment contrasts.

A categorical covariate (text, boolean, or named in ``categorical``) gets one 0/1 column per level
except the first in sorted order, named ``<covariate><level>`` (R: ``sexM``, ``transplant1``,
``flagTRUE``); numeric covariates enter as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.stats.inputs import StatsInputError, level_label, numeric_column, sorted_levels


@dataclass(frozen=True)
class Design:
    """``x`` (n x p), column ``names``, and ``assign``: covariate -> its column indices (R's terms)."""

    x: np.ndarray
    names: list[str]
    assign: dict[str, list[int]]


def is_categorical(series: pd.Series, name: str, categorical) -> bool:
    return name in set(categorical) or not pd.api.types.is_numeric_dtype(series) or series.dtype == bool


def model_matrix(df: pd.DataFrame, covariates, categorical=()) -> Design:
    cols, names, assign = [], [], {}
    for cov in covariates:
        s = df[cov]
        if is_categorical(s, cov, categorical):
            levels = sorted_levels(s)
            if len(levels) < 2:
                raise StatsInputError(f"covariate {cov!r} has a single level ({level_label(levels[0])!r}): "
                                      f"it cannot be estimated")
            idx = []
            for lvl in levels[1:]:
                idx.append(len(names))
                names.append(f"{cov}{level_label(lvl)}")
                cols.append((s == lvl).to_numpy(dtype=float))
            assign[cov] = idx
        else:
            v = numeric_column(df, cov)
            if np.ptp(v) == 0:
                raise StatsInputError(f"covariate {cov!r} is constant ({v[0]:g}): it cannot be estimated")
            assign[cov] = [len(names)]
            names.append(cov)
            cols.append(v)
    x = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    if x.shape[1] and np.linalg.matrix_rank(x - x.mean(axis=0)) < x.shape[1]:
        raise StatsInputError(f"covariates {', '.join(covariates)} are collinear (the model matrix is singular)")
    return Design(x, names, assign)
