"""The nadir: the lowest confirmed value of a parameter (docs/response-rules.md section 5).

IMWG 2016 measures progression from the lowest response value; a single low value that is not
repeated must not lower it (Kumar et al., Lancet Oncol 2016, table 3 footnotes). The nadir at
assessment k is min(baseline, max(v_i, v_i+1) over consecutive measured pairs ending before k).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def confirmed_nadir(pcode: np.ndarray, value: np.ndarray, baseline: np.ndarray,
                    in_sequence: np.ndarray) -> np.ndarray:
    """Nadir at every assessment of the sorted (patient, day) table; NaN where there is none.

    ``value``: the parameter at each assessment (NaN = not measured, skipped); ``baseline``: the
    patient's baseline value repeated per row (NaN: the first value in the sequence takes its
    place); ``in_sequence``: rows after the first treatment start, the only ones that count.
    Vectorised: the pair maxima over the measured rows, a group-wise running minimum, then each
    row reads the running minimum of the last measured row strictly before it.
    """
    n = len(value)
    measured = in_sequence & ~np.isnan(value)
    idx = np.flatnonzero(measured)
    pc, v = pcode[idx], value[idx]
    first_of_patient = np.r_[True, pc[1:] != pc[:-1]] if idx.size else np.zeros(0, dtype=bool)
    prev = np.r_[np.nan, v[:-1]] if idx.size else v
    pair_max = np.where(first_of_patient, np.inf, np.fmax(prev, v))
    running = pd.Series(pair_max).groupby(pc, sort=False).cummin().to_numpy() if idx.size else pair_max

    first_value = np.full(n, np.nan)
    if idx.size:
        first_value_per_row = pd.Series(v[first_of_patient], index=pc[first_of_patient])
        first_value = pd.Series(pcode).map(first_value_per_row).to_numpy(dtype=float)
    start = np.where(np.isnan(baseline), first_value, baseline)

    pos = np.searchsorted(idx, np.arange(n), side="left") - 1
    valid = pos >= 0
    posc = np.maximum(pos, 0)
    valid &= (pc[posc] == pcode) if idx.size else np.zeros(n, dtype=bool)
    from_pairs = np.where(valid, running[posc] if idx.size else np.inf, np.inf)
    nadir = np.fmin(np.where(np.isnan(start), np.inf, start), from_pairs)
    return np.where(np.isinf(nadir), np.nan, nadir)
