"""Confirmed response, PD confirmation and the derived progression date (docs/response-rules.md section 4).

IMWG 2016 requires two consecutive assessments for every response category and for progression
(Kumar et al., Lancet Oncol 2016, table 3 footnotes; Rajkumar et al., Blood 2011). Works on the
assessments sorted by (patient, day); shifts run over the evaluable rows only, per patient.
"""

from __future__ import annotations

import numpy as np

from mrdtrack.config import Config
from mrdtrack.response.levels import NE, NONE, PD


def evaluable_assessments(level: np.ndarray, first_line: np.ndarray) -> np.ndarray:
    """First-line assessments whose response is not NE (section 4); later-line and pre-treatment
    assessments never are."""
    return first_line & (level != NE) & (level != NONE)


def _neighbours(pcode: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the rows ``idx`` (sorted): position in idx of the previous and next row of the same patient (-1)."""
    pc = pcode[idx]
    same_prev = np.r_[False, pc[1:] == pc[:-1]]
    same_next = np.r_[pc[1:] == pc[:-1], False]
    pos = np.arange(idx.size)
    return np.where(same_prev, pos - 1, -1), np.where(same_next, pos + 1, -1)


def confirmed_response(pcode: np.ndarray, day: np.ndarray, level: np.ndarray,
                       evaluable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confirmed level, day it is dated) per row; NONE / -1 where there is none.

    At an evaluable assessment: the lower of its response and the previous evaluable one's, when
    neither is PD; dated by the first assessment of the pair.
    """
    n = len(level)
    conf, conf_day = np.full(n, NONE, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(evaluable)
    if idx.size == 0:
        return conf, conf_day
    prev, _ = _neighbours(pcode, idx)
    lv = level[idx]
    has_prev = prev >= 0
    p = np.maximum(prev, 0)
    ok = has_prev & (lv != PD) & (lv[p] != PD)
    conf[idx[ok]] = np.minimum(lv[ok], lv[p][ok])
    conf_day[idx[ok]] = day[idx[p[ok]]]
    return conf, conf_day


def event_confirms_pd(pd_day: np.ndarray, event_day: np.ndarray, next_day: np.ndarray, config: Config) -> np.ndarray:
    """Death or a later-line start within ``pd_confirm_days`` of the PD and before any further
    evaluable assessment (``next_day`` = large sentinel when none)."""
    return (event_day >= pd_day) & (event_day <= pd_day + config.pd_confirm_days) & (event_day < next_day)


def pd_confirmation(pcode: np.ndarray, day: np.ndarray, level: np.ndarray, meets_pd: np.ndarray,
                    pd_lesion: np.ndarray, evaluable: np.ndarray, death_day: np.ndarray,
                    later_line_day: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """(PD confirmed at this assessment, PD of the first confirmed pair) per row.

    A PD assessment is confirmed when the next evaluable assessment also meets a PD criterion, by
    death or a later line (``event_confirms_pd``), or at once when a new lesion or plasmacytoma
    drove it. Only the first confirmed PD of each patient is flagged in the second array.
    """
    n = len(level)
    confirmed = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(evaluable)
    if idx.size:
        _, nxt = _neighbours(pcode, idx)
        has_next = nxt >= 0
        nx = idx[np.maximum(nxt, 0)]
        next_pd = has_next & meets_pd[nx]
        sentinel = np.iinfo(np.int64).max // 4
        next_day = np.where(has_next, day[nx], sentinel)
        d = day[idx]
        by_event = event_confirms_pd(d, death_day[idx], next_day, config) | \
            event_confirms_pd(d, later_line_day[idx], next_day, config)
        is_pd = level[idx] == PD
        confirmed[idx] = is_pd & (next_pd | by_event | pd_lesion[idx])
    cidx = np.flatnonzero(confirmed)
    first = np.zeros(n, dtype=bool)
    if cidx.size:
        pc = pcode[cidx]
        first[cidx[np.r_[True, pc[1:] != pc[:-1]]]] = True
    return confirmed, first
