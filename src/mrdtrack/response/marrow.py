"""The qualifying marrow for CR (docs/response-rules.md section 3, **convention**).

IMWG 2016 CR needs < 5% plasma cells in bone marrow aspirates (Kumar et al., Lancet Oncol 2016,
table 3) but does not ask for a marrow at every visit. A marrow with < 5% plasma cells qualifies
an assessment dated within ``marrow_window_days`` of it (before or after), and every later
assessment for as long as immunofixation stays negative from the first IFE-negative assessment
in its window onward (assessments without IFE do not break the chain); a marrow with >= 5%
plasma cells ends it. The most recent qualifying marrow gives the clonality.

Vectorised with two running counts over the sorted (patient, day) keys: ``breaks`` (assessments
with a positive IFE) and ``high`` (marrows with >= 5%). A chain is intact at k when neither count
moved since it started; among candidate marrows the most recent one is always the best placed,
so one ``searchsorted`` per candidate kind suffices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.response.assessments import KEY_STRIDE, patient_day_key
from mrdtrack.response.levels import ge, lt


def ife_negative_for_cr(serum_ife: np.ndarray, urine_ife: np.ndarray, urine_followed: np.ndarray) -> np.ndarray:
    """Serum IFE negative, and urine IFE negative when urine is followed or a urine IFE was reported
    (docs/response-rules.md section 3, CR)."""
    urine_ok = (urine_ife == "negative") | (_missing(urine_ife) & ~urine_followed)
    return (serum_ife == "negative") & urine_ok


def ife_breaks_chain(serum_ife: np.ndarray, urine_ife: np.ndarray) -> np.ndarray:
    """A positive serum or urine IFE ends the qualifying-marrow chain (a reported urine IFE is one
    CR needs)."""
    return (serum_ife == "positive") | (urine_ife == "positive")


def _missing(x: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(x), dtype=bool)


def _latest_at_or_before(keys: np.ndarray, query: np.ndarray, pcode: np.ndarray) -> np.ndarray:
    """Position of the latest key <= query of the same patient, -1 where none."""
    pos = np.searchsorted(keys, query, side="right") - 1
    if keys.size == 0:
        return np.full(len(query), -1)
    ok = (pos >= 0) & (keys[np.maximum(pos, 0)] // KEY_STRIDE == pcode)
    return np.where(ok, pos, -1)


def qualifying_marrow(a_pcode: np.ndarray, a_day: np.ndarray, ife_negative: np.ndarray, ife_break: np.ndarray,
                      m_pcode: np.ndarray, m_day: np.ndarray, m_pct: np.ndarray, m_clonality: np.ndarray,
                      config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Per sorted assessment: (a qualifying marrow exists, clonality of the most recent one).

    Assessments and marrow samples are each sorted by (patient, day).
    """
    w = config.marrow_window_days
    tol = config.relative_tolerance
    akey = patient_day_key(a_pcode, a_day)
    mkey = patient_day_key(m_pcode, m_day)
    low = lt(m_pct, config.cr_marrow_max_pct, tol)
    high = ge(m_pct, config.cr_marrow_max_pct, tol)
    low_key, low_clon = mkey[low], m_clonality[low]
    high_key = mkey[high]
    breaks = np.cumsum(ife_break)

    def high_count(key):
        return np.searchsorted(high_key, key, side="right")

    # candidate 1: the latest low marrow dated no later than the window after the assessment
    c1 = _latest_at_or_before(low_key, akey + w, a_pcode)
    k1 = low_key[np.maximum(c1, 0)] if low_key.size else np.zeros(len(akey), dtype=np.int64)
    in_window = (c1 >= 0) & (k1 >= akey - w)
    direct = in_window & ((k1 >= akey) | (high_count(k1) == high_count(akey)))

    # candidate 2: the latest low marrow before the window whose chain started (an IFE-negative
    # assessment within its own window) and is unbroken by a positive IFE or a high marrow
    neg_idx = np.flatnonzero(ife_negative)
    neg_key = akey[neg_idx]
    f = np.searchsorted(neg_key, low_key - w, side="left")
    has_f = f < neg_key.size
    has_f &= np.where(has_f, neg_key[np.minimum(f, max(neg_key.size - 1, 0))] if neg_key.size else 0,
                      0) <= low_key + w
    chain_key, chain_clon = low_key[has_f], low_clon[has_f]
    chain_breaks = breaks[neg_idx[f[has_f]]] if has_f.any() else np.zeros(0, dtype=np.int64)
    c2 = _latest_at_or_before(chain_key, akey - w - 1, a_pcode)
    c2c = np.maximum(c2, 0)
    chained = (c2 >= 0) & ~in_window
    if chain_key.size:
        chained &= (chain_breaks[c2c] == breaks) & (high_count(chain_key[c2c]) == high_count(akey))
    else:
        chained &= False

    clon = np.full(len(akey), None, dtype=object)
    if low_key.size:
        clon = np.where(direct, low_clon[np.maximum(c1, 0)], clon)
    if chain_key.size:
        clon = np.where(chained, chain_clon[c2c], clon)
    return direct | chained, clon
