"""The observation model: what assays report, computed from the latent burden only.

Each marker is its diagnosis value scaled by r = 10^(b(t) - b0), the fraction of the diagnosis
tumour left, with multiplicative assay noise and the assay's detection limit. MRD levels are
10^(b(t) + e), e ~ N(0, mrd_noise_sd), reported ``not_detected`` below the sample's LOD.
Functions return long arrays (one entry per result), never DataFrames per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrdtrack.simulate.course import END_MRD_STOP, Course, first_at_or_after, key
from mrdtrack.simulate.latent import YEAR, Latent, serum_burden_at
from mrdtrack.simulate.scenario import Scenario

MRD_METHOD_NAMES = np.array(["MFC", "NGF", "NGS"], dtype=object)


def round_sig(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """Round to ``digits`` significant digits (exact decimal text in the files)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(x)))
    mag = np.where(np.isfinite(mag), mag, 0.0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(x * scale) / scale


@dataclass
class LabRows:
    """Long lab results: patient index, day, test name, numeric value (NaN for text), text value."""

    pid: np.ndarray
    day: np.ndarray
    test: np.ndarray  # object (test names)
    num: np.ndarray
    text: np.ndarray  # object (None for numeric tests)

    @staticmethod
    def numeric(pid, day, test: str, value) -> LabRows:
        return LabRows(pid, day, np.full(len(pid), test, dtype=object), np.asarray(value, dtype=float),
                       np.full(len(pid), None, dtype=object))

    @staticmethod
    def textual(pid, day, test: str, positive: np.ndarray, words=("positive", "negative")) -> LabRows:
        return LabRows(pid, day, np.full(len(pid), test, dtype=object), np.full(len(pid), np.nan),
                       np.where(positive, words[0], words[1]).astype(object))

    @staticmethod
    def concat(parts: list[LabRows]) -> LabRows:
        return LabRows(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("pid", "day", "test", "num", "text")))


def serology(rng: np.random.Generator, lat: Latent, sc: Scenario, pid: np.ndarray, day: np.ndarray,
             baseline: bool) -> tuple[LabRows, np.ndarray]:
    """Serum/urine M-protein, FLC and IFE at visits; also whether serum IFE was negative there
    (NaN-free boolean, False where IFE was not done)."""
    m = len(pid)
    b = lat.burden_at(pid, day)
    r = 10.0 ** (b - lat.b0[pid])
    light_only = lat.serum0[pid] == 0
    every = np.full(m, True) if baseline else (lat.serum0[pid] < 1.0)  # light-chain and oligosecretory

    r_serum = 10.0 ** (serum_burden_at(lat, pid, day, sc.serum_clearance_per_year) - lat.b0[pid])
    serum_true = lat.serum0[pid] * r_serum
    serum = serum_true * np.exp(rng.normal(0, sc.serum_cv, m))
    serum_rep = np.where(serum < sc.spep_limit_g_dl, 0.0, np.round(serum, 2))
    flc_mono = lat.flc_mono0[pid] * r
    s_ife_pos = (serum_true >= sc.serum_ife_limit_g_dl) | (flc_mono >= sc.serum_ife_limit_flc_mg_l)
    s_ife_done = baseline | light_only | (serum_rep == 0)

    urine_done = np.full(m, True) if baseline else (lat.urine0[pid] >= sc.urine_every_visit_min_mg) | every
    urine_true = lat.urine0[pid] * r
    urine = urine_true * np.exp(rng.normal(0, sc.urine_cv, m))
    urine_rep = np.where(urine < sc.upep_limit_mg, 0.0, np.round(urine, 0))
    u_ife_pos = urine_true >= sc.urine_ife_limit_mg
    u_ife_done = urine_done & (baseline | (urine_rep == 0))

    flc_done = every | light_only | (serum_rep == 0)
    supp = 1.0 - sc.flc_suppression * r / (r + 0.05)
    kappa_inv = lat.kappa[pid]
    inv = np.where(kappa_inv, lat.kappa_normal[pid], lat.lambda_normal[pid]) + flc_mono
    uninv = np.where(kappa_inv, lat.lambda_normal[pid], lat.kappa_normal[pid]) * supp
    inv = np.maximum(np.round(inv * np.exp(rng.normal(0, sc.flc_cv, m)), 1), 0.1)
    uninv = np.maximum(np.round(uninv * np.exp(rng.normal(0, sc.flc_cv, m)), 1), 0.1)
    kappa = np.where(kappa_inv, inv, uninv)
    lam = np.where(kappa_inv, uninv, inv)

    parts = [
        LabRows.numeric(pid, day, "serum_m_protein", serum_rep),
        LabRows.textual(pid[s_ife_done], day[s_ife_done], "serum_ife", s_ife_pos[s_ife_done]),
        LabRows.numeric(pid[urine_done], day[urine_done], "urine_m_protein", urine_rep[urine_done]),
        LabRows.textual(pid[u_ife_done], day[u_ife_done], "urine_ife", u_ife_pos[u_ife_done]),
        LabRows.numeric(pid[flc_done], day[flc_done], "flc_kappa", kappa[flc_done]),
        LabRows.numeric(pid[flc_done], day[flc_done], "flc_lambda", lam[flc_done]),
    ]
    return LabRows.concat(parts), s_ife_done & ~s_ife_pos & ~(u_ife_done & u_ife_pos)


def marrow(rng: np.random.Generator, lat: Latent, sc: Scenario, pid: np.ndarray, day: np.ndarray) -> LabRows:
    """Marrow plasma cells (%) and clonality at aspirate dates."""
    m = len(pid)
    b = lat.burden_at(pid, day)
    normal = rng.uniform(*sc.marrow_normal_pc_range, m)
    pc = np.clip(np.round(100.0 * 10.0 ** b * np.exp(rng.normal(0, sc.marrow_log_sd, m)) + normal, 1), 0.0, 100.0)
    clonal = b + rng.normal(0, 0.2, m) >= sc.clonality_limit_log10
    return LabRows.concat([LabRows.numeric(pid, day, "bm_plasma_cells", pc),
                           LabRows.textual(pid, day, "bm_clonality", clonal, ("clonal", "polyclonal"))])


def suspected_cr(pid: np.ndarray, day: np.ndarray, ife_negative: np.ndarray, n: int) -> np.ndarray:
    """Per patient, the first visit at which immunofixation was negative (NaN when none)."""
    sel = ife_negative
    return first_at_or_after(pid[sel], day[sel], np.zeros(n))


@dataclass
class MrdRows:
    pid: np.ndarray
    day: np.ndarray
    method: np.ndarray  # index into MRD_METHOD_NAMES
    cells: np.ndarray
    lod: np.ndarray
    level: np.ndarray  # NaN = not detected
    kind: np.ndarray  # 0 pre-maintenance, 1 suspected CR, 2 yearly, 3 end of induction


def mrd_schedule(rng: np.random.Generator, lat: Latent, course: Course, sc: Scenario,
                 t_cr_marrow: np.ndarray, pre_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample days: end of induction, before maintenance (on the post-transplant marrow's day
    ``pre_day``), at a CR suspected during maintenance (on that marrow's day), then yearly."""
    n = lat.n
    maint_stop = np.where(np.isfinite(course.t_maint_end), course.t_maint_end, lat.t_end)
    stop = np.minimum(np.minimum(maint_stop, lat.t_end), np.where(np.isfinite(course.t_detect), course.t_detect,
                                                                  np.inf))
    stop = np.minimum(stop, np.where(np.isfinite(course.t_later), course.t_later, np.inf))
    stop = np.minimum(stop, lat.t_prog)  # no marrow sampled between a relapse and its detection
    post_ind = rng.random(n) < sc.post_induction_sample_share
    post_ind_day = lat.t_ind_end - np.floor(rng.uniform(0, 21, n))
    pre = rng.random(n) < sc.pre_maintenance_sample_share
    cr = (rng.random(n) < sc.cr_sample_share) & (t_cr_marrow >= lat.t_maint) & (t_cr_marrow < stop)
    k_max = int(np.ceil(max(float(np.max(stop - lat.t_maint)), 0.0) / YEAR)) + 1 if n else 1
    k = np.arange(1, k_max + 1)
    jitter = np.floor(rng.uniform(-sc.yearly_sample_jitter_days, sc.yearly_sample_jitter_days + 1, (n, k_max)))
    yday = np.floor(lat.t_maint[:, None] + YEAR * k[None, :]) + jitter
    ytake = (rng.random((n, k_max)) < sc.yearly_sample_share) & (yday < stop[:, None])
    ypid = np.broadcast_to(np.arange(n)[:, None], (n, k_max))[ytake]
    pid = np.concatenate([np.flatnonzero(post_ind), np.flatnonzero(pre), np.flatnonzero(cr), ypid])
    day = np.concatenate([post_ind_day[post_ind], pre_day[pre], t_cr_marrow[cr], yday[ytake]])
    kind = np.concatenate([np.full(post_ind.sum(), 3), np.zeros(pre.sum(), int), np.ones(cr.sum(), int),
                           np.full(len(ypid), 2)])
    order = np.lexsort((kind, day, pid))
    pid, day, kind = pid[order], day[order], kind[order]
    kk = key(pid, day)
    first = np.ones(len(kk), dtype=bool)
    first[1:] = kk[1:] != kk[:-1]
    return pid[first], day[first], kind[first]


def measure_mrd(rng: np.random.Generator, lat: Latent, sc: Scenario, pid: np.ndarray, day: np.ndarray,
                kind: np.ndarray) -> MrdRows:
    m = len(pid)
    method = rng.choice(3, size=m, p=np.asarray(sc.method_shares))
    lo = np.array([sc.mfc_cells_range[0], sc.ngf_cells_range[0], sc.ngs_cells_range[0]])[method]
    hi = np.array([sc.mfc_cells_range[1], sc.ngf_cells_range[1], sc.ngs_cells_range[1]])[method]
    cells = np.floor(rng.uniform(lo, hi))
    events = np.where(method == 2, sc.ngs_lod_events, sc.flow_lod_events)
    lod = np.clip(round_sig(events / cells, 3), 1e-9, 0.01)
    y = lat.burden_at(pid, day) + rng.normal(0, sc.mrd_noise_sd, m)
    level = np.minimum(round_sig(10.0 ** y, 3), 1.0)
    level = np.where(level >= lod, level, np.nan)
    return MrdRows(pid, day, method, cells.astype(np.int64), lod, level, kind)


def apply_mrd_guided_stop(rng: np.random.Generator, lat: Latent, course: Course, sc: Scenario,
                          mrd: MrdRows) -> MrdRows:
    """Stop maintenance after a sensitive not-detected sample late enough (a share of patients);
    samples after the new end are not taken. Updates ``course`` in place."""
    n = lat.n
    tau = (mrd.day - lat.t_maint[mrd.pid]) / YEAR
    end = np.where(np.isfinite(course.t_maint_end), course.t_maint_end, np.inf)
    cand = (np.isnan(mrd.level) & (mrd.lod <= sc.mrd_guided_stop_max_lod) & (tau >= sc.mrd_guided_stop_min_years)
            & (mrd.day < end[mrd.pid]))
    first_day = first_at_or_after(mrd.pid[cand], mrd.day[cand], np.zeros(n))
    stop_day = first_day + np.floor(rng.uniform(14, 46, n))
    go = np.isfinite(first_day) & (rng.random(n) < sc.mrd_guided_stop_share) & (stop_day < end) & (
        stop_day <= lat.t_end)
    course.t_maint_end = np.where(go, stop_day, course.t_maint_end)
    course.end_reason = np.where(go, END_MRD_STOP, course.end_reason)
    keep = ~(go[mrd.pid] & (mrd.day > stop_day[mrd.pid]))
    return MrdRows(*(getattr(mrd, f)[keep] for f in ("pid", "day", "method", "cells", "lod", "level", "kind")))
