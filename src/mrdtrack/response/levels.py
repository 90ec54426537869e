"""Response levels as ordered integer codes, and threshold comparisons with tolerance.

The order is the IMWG order of depth (Kumar et al., Lancet Oncol 2016, table 3):
PD < SD < MR < PR < VGPR < CR < sCR, extended on the depth scale by MRD-negative CR
(docs/response-rules.md section 6). ``NE`` and "no response" (pre-treatment) sit below every level.
Comparisons "at least", "or more" and "<=" are inclusive with a relative tolerance
(docs/response-rules.md preamble) so that a value exactly at a threshold meets it; strict
comparisons ("<", ">") are made so that a value exactly at the threshold does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NONE, NE, PD, SD, MR, PR, VGPR, CR, SCR, MRD_NEG_CR = -2, -1, 0, 1, 2, 3, 4, 5, 6, 7
#: A parameter that places no upper limit on the response.
UNLIMITED = 99

CODES = {NE: "NE", PD: "PD", SD: "SD", MR: "MR", PR: "PR", VGPR: "VGPR", CR: "CR", SCR: "sCR",
         MRD_NEG_CR: "MRD-negative CR"}
LEVEL_OF = {v: k for k, v in CODES.items()}
_LEVEL_INDEX = pd.Index(list(LEVEL_OF), dtype=object)
_LEVEL_VALUES = np.array(list(LEVEL_OF.values()), dtype=np.int64)
_NAMES = np.array([None, "NE", "PD", "SD", "MR", "PR", "VGPR", "CR", "sCR", "MRD-negative CR"], dtype=object)


def level_names(levels: np.ndarray) -> np.ndarray:
    """Response codes for integer levels (NONE -> None)."""
    lv = np.asarray(levels, dtype=np.int64)
    return _NAMES[np.clip(lv, NONE, MRD_NEG_CR) + 2]


def level_codes(names) -> np.ndarray:
    """Integer levels for response codes (missing or unknown -> NONE)."""
    pos = _LEVEL_INDEX.get_indexer(pd.Index(np.asarray(names, dtype=object)))
    return np.where(pos >= 0, _LEVEL_VALUES[np.maximum(pos, 0)], NONE).astype(np.int64)


def _slack(threshold, rel_tol: float):
    return np.abs(threshold) * rel_tol


def ge(value, threshold, rel_tol: float) -> np.ndarray:
    """value >= threshold, inclusive within the relative tolerance (NaN -> False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(value >= threshold - _slack(threshold, rel_tol))


def le(value, threshold, rel_tol: float) -> np.ndarray:
    """value <= threshold, inclusive within the relative tolerance (NaN -> False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(value <= threshold + _slack(threshold, rel_tol))


def lt(value, threshold, rel_tol: float) -> np.ndarray:
    """value < threshold, a value at the threshold (within tolerance) not meeting it (NaN -> False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(value < threshold - _slack(threshold, rel_tol))


def gt(value, threshold, rel_tol: float) -> np.ndarray:
    """value > threshold, a value at the threshold (within tolerance) not meeting it (NaN -> False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(value > threshold + _slack(threshold, rel_tol))
