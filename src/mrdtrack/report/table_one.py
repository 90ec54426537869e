"""Table 1 of the maintenance cohort, overall and by MRD trend, laid out as ``tableone`` lays it out.

The layout and numbers are those of ``tableone.TableOne(df, categorical=..., groupby="MRD trend",
missing=True, overall=True, pval=False, order=..., rename=..., label_suffix=True, decimals=1,
include_null=False)`` (tableone 0.9), which the report used before; the tabulation is done here
because tableone imports scipy.stats and statsmodels (about a second of the report's start-up) and
takes seconds on 100,000 patients (issue 15). ``tests/test_table_one.py`` compares the two on
random cohorts.

* Columns: ``variable``, ``level``, ``Missing``, ``Overall``, then one per group in ``groups``.
* A first row ``n`` (patients overall and per group).
* A continuous variable: one row, ``mean (SD)`` with one decimal (numpy's ``nanmean`` and
  ``nanstd(ddof=1)``; SD 0.0 for a group of one patient), ``Missing`` its missing values.
* A categorical variable: one row per level (its values as text, sorted, then ``order[variable]``
  first), ``n (%)`` with the share of the patients with a value (one decimal), ``Missing`` (its
  missing values) on the first level's row only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

DECIMALS = 1  # decimals of every mean, SD and percentage in Table 1


def _fmt(value: float) -> str:
    return f"{value:.{DECIMALS}f}"


def _mean_sd(x: np.ndarray) -> str:
    """``mean (SD)`` of one group's values (NaN included in the group's size, as tableone counts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group without a value: nan (nan), as tableone
        mean = np.nanmean(x)
        sd = 0.0 if len(x) == 1 else np.nanstd(x, ddof=1)
    return f"{_fmt(mean)} ({_fmt(sd)})"


def _continuous_row(name: str, label: str, data: pd.DataFrame, group: pd.Series, groups: list) -> dict:
    values = pd.to_numeric(data[name], errors="coerce").to_numpy(float)
    row = {"variable": f"{label}, mean (SD)", "level": "", "Missing": int(np.isnan(values).sum()),
           "Overall": _mean_sd(values)}
    g = group.to_numpy()
    for name_g in groups:
        row[name_g] = _mean_sd(values[g == name_g])
    return row


def _levels(values: pd.Series, order: list | None) -> list[str]:
    present = sorted(set(values.dropna()))
    first = [str(v) for v in (order or []) if str(v) in present]
    return first + [v for v in present if v not in first]


def _share(freq: int, total: int) -> str:
    with np.errstate(all="ignore"):
        pct = np.float64(freq) / np.float64(total) * 100 if total else np.nan
    return f"{freq} ({_fmt(pct)})"


def _categorical_rows(name: str, label: str, data: pd.DataFrame, group: pd.Series, groups: list,
                      order: list | None) -> list[dict]:
    values = data[name]
    text = values.astype(str).astype(object).where(values.notna(), None)
    levels = _levels(text, order)
    counts = pd.crosstab(text, group).reindex(index=levels, columns=groups, fill_value=0)
    overall = text.value_counts().reindex(levels, fill_value=0)
    rows = []
    for i, level in enumerate(levels):
        row = {"variable": f"{label}, n (%)", "level": level, "Missing": int(text.isna().sum()) if i == 0 else "",
               "Overall": _share(int(overall[level]), int(overall.sum()))}
        for g in groups:
            row[g] = _share(int(counts.at[level, g]), int(counts[g].sum()))
        rows.append(row)
    return rows


def table_one_frame(data: pd.DataFrame, labels: dict[str, str], continuous: list[str], group_column: str,
                    groups: list, orders: dict[str, list] | None = None) -> pd.DataFrame:
    """Table 1 of ``data``: the variables ``labels`` names (in its order; ``continuous`` ones as
    mean (SD), the rest as n (%)), overall and by ``group_column`` in the order ``groups``."""
    orders = orders or {}
    group = data[group_column].astype(object)
    n_row = {"variable": "n", "level": "", "Missing": "", "Overall": len(data)}
    n_row.update({g: int((group == g).sum()) for g in groups})
    rows = [n_row]
    for name, label in labels.items():
        if name not in data.columns:
            continue
        if name in continuous:
            rows.append(_continuous_row(name, label, data, group, groups))
        else:
            rows += _categorical_rows(name, label, data, group, groups, orders.get(name))
    return pd.DataFrame(rows, columns=["variable", "level", "Missing", "Overall", *groups], dtype=object)
