"""Ever negative, loss of negativity and sustained MRD negativity (docs/mrd.md section 3;
docs/response-rules.md section 6).

Inputs are per-row arrays over samples grouped by patient (contiguous) in date order and restricted by the
caller's ``mask`` (evaluable samples before progression, or dated on or before an as-of date).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.mrd.groups import any_, first_row, last_row, take

# A (patient, day) pair packed into one int64: patient codes < 2**31, days within +-2**31.
_DAY_SPAN = np.int64(2**32)


def _key(code: np.ndarray, day: np.ndarray) -> np.ndarray:
    return code.astype(np.int64) * _DAY_SPAN + (day.astype(np.int64) + 2**31)


def first_negative_day(code: np.ndarray, day: np.ndarray, negative: np.ndarray, mask: np.ndarray,
                       n: int) -> np.ndarray:
    """Per patient, the day of the first negative sample among ``mask`` (NaN if none)."""
    return take(day, first_row(code, mask & negative, n))


def ever_negative(code: np.ndarray, negative: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Per patient, whether any sample in ``mask`` (evaluable, before progression) is negative."""
    return any_(code, mask & negative, n)


def lost_negativity(code: np.ndarray, day: np.ndarray, negative: np.ndarray, positive: np.ndarray,
                    mask: np.ndarray, n: int) -> np.ndarray:
    """Per patient, whether a positive sample is dated strictly after a negative one, both in
    ``mask`` (docs/response-rules.md section 6: loss of MRD negativity)."""
    first_neg = first_negative_day(code, day, negative, mask, n)
    last_pos = take(day, last_row(code, mask & positive, n))
    return last_pos > first_neg


@dataclass(frozen=True)
class NegativeRuns:
    """Negative samples grouped into runs that no positive sample interrupts.

    ``rows``: the row of each negative sample that can take part in a pair; ``run``: its run id
    (runs are numbered in patient and time order); ``run_code``, ``run_start``, ``run_reached``,
    ``run_last``: per run, the patient code, the first sample's day, the day the run first spans
    ``min_days`` (NaN if never) and whether it is the patient's final run (no positive after it).
    """

    rows: np.ndarray
    run: np.ndarray
    run_code: np.ndarray
    run_start: np.ndarray
    run_reached: np.ndarray
    run_last: np.ndarray


def negative_runs(code: np.ndarray, day: np.ndarray, negative: np.ndarray, positive: np.ndarray,
                  mask: np.ndarray, min_days: int, n: int) -> NegativeRuns:
    """Split each patient's negative samples in ``mask`` into runs between positive samples.

    "No positive sample between them" is read inclusively: a positive dated on the same day as a
    negative one breaks the run there, so that negative sample cannot be an end of a pair.
    """
    pos = mask & positive
    neg = mask & negative
    neg &= ~np.isin(_key(code, day), _key(code[pos], day[pos]))
    # positives seen so far, counted within the patient: a run = (patient, that count)
    cum_pos = np.cumsum(pos)
    rows = np.flatnonzero(neg)
    c = code[rows]
    seg = cum_pos[rows]
    new_run = np.r_[True, (c[1:] != c[:-1]) | (seg[1:] != seg[:-1])] if len(rows) else np.zeros(0, bool)
    run = np.cumsum(new_run) - 1
    n_runs = int(new_run.sum())
    run_code = c[new_run]
    run_start = day[rows][new_run]
    reached_here = day[rows] - run_start[run] >= min_days
    run_reached = np.full(n_runs, np.nan)
    first_reach = first_row(run, reached_here, n_runs)
    run_reached[first_reach >= 0] = day[rows][first_reach[first_reach >= 0]]
    # the final run: no positive (in mask) for its patient after its first sample
    lp = take(day, last_row(code, pos, n))[run_code]
    run_last = ~(lp >= run_start)
    return NegativeRuns(rows, run, run_code, run_start, run_reached, run_last)


def sustained_negative(runs: NegativeRuns, n: int) -> np.ndarray:
    """Per patient, whether two negative samples at least ``min_days`` apart have no positive
    sample between them (docs/response-rules.md section 6)."""
    return any_(runs.run_code, ~np.isnan(runs.run_reached), n)


def sustained_negative_imaging(runs: NegativeRuns, day: np.ndarray, imaging_code: np.ndarray,
                               imaging_day: np.ndarray, imaging_positive: np.ndarray, min_days: int,
                               n: int) -> np.ndarray:
    """Per patient, whether some pair of the sustained definition also has at least one imaging
    result dated within its span (inclusive) and every imaging result in that span negative
    (docs/response-rules.md section 6). Pairs are enumerated within runs (runs hold a few samples)."""
    if len(runs.rows) == 0:
        return np.zeros(n, dtype=bool)
    d = day[runs.rows]
    pairs = pd.DataFrame({"run": runs.run, "d": d})
    pairs = pairs.merge(pairs, on="run", suffixes=("1", "2"))
    pairs = pairs[pairs["d2"] - pairs["d1"] >= min_days]
    pc = runs.run_code[pairs["run"].to_numpy()]
    order = np.argsort(_key(imaging_code, imaging_day), kind="mergesort")
    keys = _key(imaging_code, imaging_day)[order]
    cum_positive = np.r_[0, np.cumsum(imaging_positive[order])]
    lo = np.searchsorted(keys, _key(pc, pairs["d1"].to_numpy()), side="left")
    hi = np.searchsorted(keys, _key(pc, pairs["d2"].to_numpy()), side="right")
    n_imaging = hi - lo
    n_positive = cum_positive[hi] - cum_positive[lo]
    good = (n_imaging > 0) & (n_positive == 0)
    return any_(pc, good, n)


def final_run_sustained(runs: NegativeRuns, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per patient, for the final run (no positive sample after its start): the day of its first
    sample and the day it reached sustained negativity; NaN where it does not reach it."""
    ok = runs.run_last & ~np.isnan(runs.run_reached)
    start, reached = np.full(n, np.nan), np.full(n, np.nan)
    start[runs.run_code[ok]] = runs.run_start[ok]
    reached[runs.run_code[ok]] = runs.run_reached[ok]
    return start, reached
