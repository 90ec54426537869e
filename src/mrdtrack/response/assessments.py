"""Assessments: lab results grouped in time, with their derived measures (docs/response-rules.md section 1).

Results are keyed by an integer patient code and a day number so that every step is a sorted-array
operation over all patients at once (``searchsorted``, cumulative sums); no loop runs per patient
or per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.mrd.groups import datetime_ns
from mrdtrack.response.levels import ge, le, lt
from mrdtrack.sorting import lex_order

#: Days are counted from 1900-01-01 so that they are positive for any realistic date.
_EPOCH_SHIFT = 25567
#: Patient code stride in a combined (patient, day) key; larger than any day span plus window.
KEY_STRIDE = 1 << 22

SEROLOGIC_TESTS = ("serum_m_protein", "urine_m_protein", "flc_kappa", "flc_lambda", "serum_ife",
                   "urine_ife", "new_lesion", "plasmacytoma_spd")
MARROW_TESTS = ("bm_plasma_cells", "bm_clonality")
#: Lab test -> column of the wide assessments table.
VALUE_COLUMN = {"serum_m_protein": "serum", "urine_m_protein": "urine", "flc_kappa": "kappa",
                "flc_lambda": "lambda", "serum_ife": "serum_ife", "urine_ife": "urine_ife",
                "new_lesion": "new_lesion", "plasmacytoma_spd": "spd", "bm_plasma_cells": "marrow_pct",
                "bm_clonality": "marrow_clonality"}
TEXT_TESTS = ("serum_ife", "urine_ife", "new_lesion", "bm_clonality")
ALL_TESTS = SEROLOGIC_TESTS + MARROW_TESTS
_TEST_INDEX = pd.Index(ALL_TESTS, dtype=object)


def day_number(dates) -> np.ndarray:
    """Whole days since 1900-01-01 (int64); NaT becomes a very large sentinel."""
    d = datetime_ns(dates).astype("datetime64[D]")
    out = d.astype("int64") + _EPOCH_SHIFT
    out[np.isnat(d)] = np.iinfo(np.int64).max // 4
    return out


def day_to_date(days: np.ndarray) -> np.ndarray:
    """Inverse of ``day_number`` (sentinels become NaT), as datetime64[ns]."""
    days = np.asarray(days, dtype=np.int64)
    bad = days >= np.iinfo(np.int64).max // 8
    out = (np.where(bad, 0, days) - _EPOCH_SHIFT).astype("datetime64[D]").astype("datetime64[ns]")
    out[bad] = np.datetime64("NaT")
    return out


def patient_day_key(pcode: np.ndarray, day: np.ndarray) -> np.ndarray:
    """One sortable int64 per (patient, day)."""
    return np.asarray(pcode, dtype=np.int64) * KEY_STRIDE + np.minimum(day, KEY_STRIDE // 2)


def prepare_labs(labs: pd.DataFrame, patient_ids: pd.Index) -> pd.DataFrame:
    """Labs with ``pcode``, ``day`` and ``tcode``: the serologic results first, then the marrow
    results (``serologic_part``, ``marrow_part``: slices, not copies), each sorted by patient, day,
    test and row.

    The row number breaks ties so that the result never depends on the order of the input rows.
    """
    pcode = patient_ids.get_indexer(labs["patient_id"]).astype(np.int64)
    tcode = _TEST_INDEX.get_indexer(labs["test"].to_numpy(dtype=object))
    day, row = day_number(labs["date"]), labs["row"].to_numpy()
    keep = np.flatnonzero((pcode >= 0) & (tcode >= 0))
    # the order of (marrow or not, patient_day_key, test)
    keys = [tcode[keep] >= len(SEROLOGIC_TESTS), pcode[keep], np.minimum(day[keep], KEY_STRIDE // 2), tcode[keep]]
    if not (len(keep) < 2 or (np.diff(row[keep]) > 0).all()):  # rows in row order (as read): position breaks ties
        keys.append(row[keep])
    order = keep[lex_order(keys)]  # rows picked once, in order
    return pd.DataFrame({
        "pcode": pcode[order], "day": day[order], "tcode": tcode[order],
        "value_num": labs["value_num"].to_numpy(dtype=float)[order],
        "value_text": labs["value_text"].to_numpy(dtype=object)[order], "row": row[order]}, copy=False)


def _serologic_rows(labs: pd.DataFrame) -> int:
    """Rows of the serologic part of ``prepare_labs`` (ALL_TESTS: the serologic tests first)."""
    return int(np.count_nonzero(labs["tcode"].to_numpy() < len(SEROLOGIC_TESTS)))


def serologic_part(labs: pd.DataFrame) -> pd.DataFrame:
    """The serologic, lesion and plasmacytoma results of ``prepare_labs`` (a slice)."""
    return labs.iloc[:_serologic_rows(labs)]


def marrow_part(labs: pd.DataFrame) -> pd.DataFrame:
    """The marrow results (plasma cells, clonality) of ``prepare_labs`` (a slice)."""
    return labs.iloc[_serologic_rows(labs):]


def window_group_ids(pcode: np.ndarray, day: np.ndarray, window: int) -> np.ndarray:
    """Greedy time-window grouping of sorted (patient, day) results (docs/response-rules.md section 1).

    Results within ``window`` days (inclusive) of the first ungrouped result form one group.
    Each group's start points to the next start (the first result beyond its window); the
    chains are followed for all patients together, one step per group rank.
    """
    n = len(day)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    key = patient_day_key(pcode, day)
    nxt = np.searchsorted(key, key + window, side="right")
    first = np.flatnonzero(np.r_[True, pcode[1:] != pcode[:-1]])
    is_start = np.zeros(n, dtype=bool)
    frontier = first
    while frontier.size:
        is_start[frontier] = True
        step = nxt[frontier]
        ok = step < n
        frontier, step = frontier[ok], step[ok]
        frontier = step[pcode[step] == pcode[frontier]]
    return np.cumsum(is_start) - 1


def collapse_to_groups(res: pd.DataFrame, gid: np.ndarray, n_groups: int, tests) -> tuple[dict, np.ndarray]:
    """Wide values per group, the later value winning when a test repeats (docs/response-rules.md section 1).

    Returns ``{column: array}`` and the positions (in ``res``) of the values that were superseded.
    """
    # res is sorted by (patient, day, test, row) and groups are runs of it: a stable sort on
    # (group, test) leaves each run in (day, row) order, so its last element is the later value
    order = np.argsort(gid * len(ALL_TESTS) + res["tcode"].to_numpy(), kind="stable")
    g, t = gid[order], res["tcode"].to_numpy()[order]
    last = np.r_[(g[1:] != g[:-1]) | (t[1:] != t[:-1]), True] if len(g) else np.zeros(0, dtype=bool)
    kept, superseded = order[last], order[~last]
    out = {}
    for test in tests:
        code = ALL_TESTS.index(test)
        sel = kept[res["tcode"].to_numpy()[kept] == code]
        if test in TEXT_TESTS:
            col = np.full(n_groups, None, dtype=object)
            col[gid[sel]] = res["value_text"].to_numpy()[sel]
        else:
            col = np.full(n_groups, np.nan)
            col[gid[sel]] = res["value_num"].to_numpy()[sel]
        out[VALUE_COLUMN[test]] = col
    return out, superseded


def group_results(res: pd.DataFrame, window: int, tests) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group sorted results into dated groups; returns (wide groups, superseded result rows)."""
    pcode, day = res["pcode"].to_numpy(), res["day"].to_numpy()
    gid = window_group_ids(pcode, day, window)
    n_groups = int(gid[-1]) + 1 if len(gid) else 0
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]]) if len(gid) else np.zeros(0, dtype=np.int64)
    wide, superseded = collapse_to_groups(res, gid, n_groups, tests)
    groups = pd.DataFrame({"pcode": pcode[starts], "day": day[starts], **wide})
    return groups, res.iloc[superseded]


def form_assessments(labs: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Serologic, lesion and plasmacytoma results of ``prepare_labs`` grouped into assessments, dated by
    their earliest result."""
    return group_results(serologic_part(labs), config.assessment_window_days, SEROLOGIC_TESTS)


def marrow_samples(labs: pd.DataFrame, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Marrow results (plasma cells, clonality) of ``prepare_labs`` grouped the same way into marrow samples."""
    return group_results(marrow_part(labs), config.assessment_window_days, MARROW_TESTS)


def join_marrow(assess: pd.DataFrame, marrow: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Attach each marrow sample to the nearest assessment within the window; others stand alone.

    **Convention**: nearest by days, the earlier assessment on a tie; when two samples reach the
    same assessment the later one is used. A sample out of reach becomes a marrow-only assessment
    (``marrow_only`` true). Result sorted by patient and day.
    """
    w = config.assessment_window_days
    akey = patient_day_key(assess["pcode"].to_numpy(), assess["day"].to_numpy())
    mkey = patient_day_key(marrow["pcode"].to_numpy(), marrow["day"].to_numpy())
    after = np.searchsorted(akey, mkey, side="left")
    before = after - 1
    n = len(akey)
    d_after = np.where(after < n, akey[np.minimum(after, n - 1)] - mkey, np.iinfo(np.int64).max) if n else \
        np.full(len(mkey), np.iinfo(np.int64).max)
    d_before = np.where(before >= 0, mkey - akey[np.maximum(before, 0)], np.iinfo(np.int64).max) if n else \
        np.full(len(mkey), np.iinfo(np.int64).max)
    target = np.where(d_before <= d_after, before, after)
    joined = np.minimum(d_before, d_after) <= w
    out = assess.copy()
    out["marrow_pct"] = np.nan
    out["marrow_clonality"] = np.array([None] * len(out), dtype=object)
    out["marrow_only"] = False
    j = np.flatnonzero(joined)
    if j.size:
        tj = target[j]
        keep = np.r_[tj[1:] != tj[:-1], True]
        out.loc[out.index[tj[keep]], "marrow_pct"] = marrow["marrow_pct"].to_numpy()[j[keep]]
        out.loc[out.index[tj[keep]], "marrow_clonality"] = marrow["marrow_clonality"].to_numpy()[j[keep]]
    alone = marrow.iloc[np.flatnonzero(~joined)].copy()
    alone["marrow_only"] = True
    out = pd.concat([out, alone], ignore_index=True) if len(alone) else out
    out = out.iloc[lex_order([out["pcode"].to_numpy(), out["day"].to_numpy()])].reset_index(drop=True)
    out["new_lesion"] = out["new_lesion"].to_numpy() == "yes"
    return out


def flc_measures(kappa: np.ndarray, lam: np.ndarray, involved_kappa: np.ndarray,
                 involved_known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(involved FLC, dFLC = involved - uninvolved, ratio = kappa / lambda) (docs/response-rules.md section 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = kappa / lam
    involved = np.where(involved_known, np.where(involved_kappa, kappa, lam), np.nan)
    uninvolved = np.where(involved_kappa, lam, kappa)
    dflc = involved - uninvolved
    return involved, dflc, ratio


def normal_flc_ratio(ratio: np.ndarray, config: Config) -> np.ndarray:
    """FLC ratio within the normal range 0.26-1.65, inclusive (IMWG 2016, sCR definition)."""
    tol = config.relative_tolerance
    return ge(ratio, config.flc_ratio_low, tol) & le(ratio, config.flc_ratio_high, tol)


def abnormal_flc_ratio(ratio: np.ndarray, config: Config) -> np.ndarray:
    """FLC ratio measured and outside the normal range."""
    return ~np.isnan(ratio) & ~normal_flc_ratio(ratio, config)


def plasmacytoma_history(pcode: np.ndarray, spd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sorted assessment: the plasmacytoma status and the lowest SPD reported before it.

    The status is the most recent SPD on or before the assessment (docs/response-rules.md section 1);
    the lowest earlier SPD feeds the plasmacytoma PD rule (section 3). NaN where none.
    """
    s = pd.Series(spd)
    grp = s.groupby(pcode, sort=False)
    status = grp.ffill().to_numpy()
    prior_min = s.fillna(np.inf).groupby(pcode, sort=False).cummin()
    prior_min = prior_min.groupby(pcode, sort=False).shift(1).to_numpy()
    prior_min = np.where(np.isinf(prior_min), np.nan, prior_min)
    return status, prior_min


def below(value, threshold, config: Config) -> np.ndarray:
    """value < threshold with the configured tolerance (helper for marrow rules)."""
    return lt(value, threshold, config.relative_tolerance)
