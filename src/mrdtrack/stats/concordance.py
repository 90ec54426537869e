"""Harrell's concordance as R's ``coxph`` reports it (``survival::concordancefit``, reverse=TRUE).

Comparable pairs: an event at time t_i and any row j at risk after it within the same stratum:
start_j < t_i and (stop_j > t_i, or stop_j = t_i and censored). Rows with an event at the same time
are tied on time and left out. A pair is concordant when the event row has the larger linear
predictor. C = (concordant + tied_x / 2) / (concordant + discordant + tied_x).

Counts are 2-D dominance counts done by a vectorised merge (log2 n passes of sort/searchsorted),
so 100,000 rows take well under a second.
"""

from __future__ import annotations

import numpy as np


def _dominance(qkey, qval, pkey, pval):
    """For each query: #points with pkey > qkey and pval < qval, and with pval == qval."""
    nq = len(qkey)
    key = np.concatenate([qkey, pkey]).astype(float)
    is_point = np.concatenate([np.zeros(nq, bool), np.ones(len(pkey), bool)])
    _, rank = np.unique(np.concatenate([qval, pval]), return_inverse=True)
    rank = rank.astype(np.int64)
    # ascending key; at equal keys the points first (a point is counted only if its key is larger)
    order = np.lexsort((~is_point, key))
    r, pt = rank[order], is_point[order]
    qid = np.full(len(order), -1, dtype=np.int64)
    qid[~pt] = order[~pt]
    below = np.zeros(nq, dtype=np.int64)
    equal = np.zeros(nq, dtype=np.int64)
    m = len(order)
    big = int(rank.max()) + 2 if m else 1
    pos = np.arange(m, dtype=np.int64)
    s = 1
    while s < m:
        pair = pos // (2 * s)
        left = (pos // s) % 2 == 0
        pts = pt & ~left
        qs = ~pt & left
        if pts.any() and qs.any():
            enc = np.sort(pair[pts] * big + r[pts])
            base = pair[qs] * big
            lo = np.searchsorted(enc, base, side="left")
            at = np.searchsorted(enc, base + r[qs], side="left")
            hi = np.searchsorted(enc, base + r[qs], side="right")
            below[qid[qs]] += at - lo
            equal[qid[qs]] += hi - at
        s *= 2
    return below, equal


def concordance_counts(stop, event, lp, start=None, strata=None) -> dict:
    """``concordant, discordant, tied_x, concordance`` of linear predictor ``lp`` against survival."""
    stop = np.asarray(stop, float)
    event = np.asarray(event).astype(bool)
    lp = np.asarray(lp, float)
    strata = np.zeros(len(stop), np.int64) if strata is None else np.asarray(strata)
    conc = disc = tied = 0
    for s in np.unique(strata):
        m = strata == s
        t, e, x = stop[m], event[m], lp[m]
        ti, xi = t[e], x[e]
        _, trank = np.unique(np.concatenate([t, ti]), return_inverse=True)
        pkey = 2 * trank[: len(t)] + (~e).astype(np.int64)
        qkey = 2 * trank[len(t):]
        b, q = _dominance(qkey, xi, pkey, x)
        total = len(pkey) - np.searchsorted(np.sort(pkey), qkey, side="right")
        if start is not None:
            st = np.asarray(start, float)[m]
            _, srank = np.unique(np.concatenate([st, ti]), return_inverse=True)
            pk2 = 2 * srank[: len(st)] + 1
            qk2 = 2 * srank[len(st):]
            b2, q2 = _dominance(qk2, xi, pk2, x)
            total = total - (len(pk2) - np.searchsorted(np.sort(pk2), qk2, side="right"))
            b, q = b - b2, q - q2
        conc += int(b.sum())
        tied += int(q.sum())
        disc += int((total - b - q).sum())
    denom = conc + disc + tied
    value = (conc + tied / 2) / denom if denom else float("nan")
    return {"concordant": conc, "discordant": disc, "tied_x": tied, "concordance": value}
