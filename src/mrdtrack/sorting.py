"""Sorting helpers shared by the engines."""

from __future__ import annotations

import numpy as np


def group_order(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``np.argsort(groups, kind="stable")`` for group numbers in ``-1 .. n_groups - 1`` (buckets,
    batches): NumPy sorts 8- and 16-bit integers by radix, 6x faster than int64 on millions of rows."""
    groups = np.asarray(groups)
    if n_groups <= np.iinfo(np.int16).max and len(groups):
        groups = groups.astype(np.int8 if n_groups <= np.iinfo(np.int8).max else np.int16)
    return np.argsort(groups, kind="stable")
