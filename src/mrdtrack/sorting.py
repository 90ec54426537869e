"""Sorting helpers shared by the engines."""

from __future__ import annotations

import numpy as np
import pandas as pd


def group_order(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``np.argsort(groups, kind="stable")`` for group numbers in ``-1 .. n_groups - 1`` (buckets,
    batches): NumPy sorts 8- and 16-bit integers by radix, 6x faster than int64 on millions of rows."""
    groups = np.asarray(groups)
    if n_groups <= np.iinfo(np.int16).max and len(groups):
        groups = groups.astype(np.int8 if n_groups <= np.iinfo(np.int8).max else np.int16)
    return np.argsort(groups, kind="stable")


def group_bounds(groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(``group_order``, bounds): the rows of group ``k`` are ``order[bounds[k]:bounds[k + 1]]``, in
    their order (rows of group -1, if any, are in none)."""
    groups = np.asarray(groups)
    order = group_order(groups, n_groups)
    return order, np.searchsorted(groups[order], np.arange(n_groups + 1))


def lex_order(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys[::-1])`` (``keys`` most significant first): the stable order of rows by the
    integer keys, ties left in row order.

    When every key's span and the row position fit together in 63 bits, the keys and the position
    are packed into one int64 per row and sorted by value (NumPy's vectorised sort of plain
    integers): 5-10x faster than ``lexsort`` on the hundreds of thousands of lab rows of a bucket,
    and the same order, since the position makes every packed value distinct and breaks ties as a
    stable sort does. Otherwise ``lexsort``.
    """
    keys = [np.asarray(k) for k in keys]
    n = len(keys[0]) if keys else 0
    if n < 2 or any(k.dtype.kind not in "iub" for k in keys):
        return np.lexsort(keys[::-1]) if keys else np.arange(n)
    lows = [int(k.min()) for k in keys]
    widths = [int(k.max()) - lo for k, lo in zip(keys, lows)]
    pos_bits = (n - 1).bit_length()
    bits = [w.bit_length() for w in widths]
    if sum(bits) + pos_bits > 63:
        return np.lexsort(keys[::-1])
    packed = np.zeros(n, dtype=np.int64)
    for k, lo, b in zip(keys, lows, bits):
        if b:
            packed <<= b
            packed |= k.astype(np.int64, copy=False) - lo
    packed <<= pos_bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    return packed & ((1 << pos_bits) - 1)


def is_sorted(df: pd.DataFrame, by: list[str]) -> bool:
    """Whether the rows are already in ``by`` order (a stable sort would leave them as they are).
    Missing or incomparable keys answer False (the caller then sorts)."""
    if len(df) < 2:
        return True
    tied = np.ones(len(df) - 1, dtype=bool)  # consecutive rows equal on the keys so far
    try:
        with np.errstate(invalid="ignore"):
            for c in by:
                v = df[c].to_numpy()
                before, after = v[:-1], v[1:]
                equal = np.asarray(before == after, dtype=bool)
                if (tied & ~equal & ~np.asarray(before < after, dtype=bool)).any():
                    return False
                tied &= equal
    except TypeError:
        return False
    return True


def concat_sorted(frames: list[pd.DataFrame], by: list[str], columns: list[str] | None = None) -> pd.DataFrame:
    """Pieces of a per-patient table put together in patient order (the buckets' pieces, each
    sorted and holding consecutive ranges of patients, usually are already: then no sort)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns or by)
    df = pd.concat(frames, ignore_index=True)
    return df if is_sorted(df, by) else df.sort_values(by, kind="stable").reset_index(drop=True)
