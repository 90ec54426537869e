"""The clinical course built on the latent model: lab visits, detected progression, later line,
and the end of maintenance (before any MRD-guided stop).

All functions work on whole arrays: per patient (length n) or per visit (flattened, sorted by
patient then date, with ``pid`` the patient index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrdtrack.simulate.latent import Latent
from mrdtrack.simulate.scenario import Scenario

#: end reasons of the maintenance phase (contract END_REASONS)
END_NONE, END_PROGRESSION, END_TOXICITY, END_COMPLETED, END_DEATH, END_MRD_STOP = range(6)
END_REASON_NAMES = np.array([None, "progression", "toxicity", "completed", "death", "mrd_guided_stop"], dtype=object)
DAYS_PER_MONTH = 30.4375


def renewal_grid(rng: np.random.Generator, start: np.ndarray, stop: np.ndarray,
                 gap_range: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Visit days start + cumsum(gaps) below ``stop``, per patient: (pid, day), sorted."""
    n = len(start)
    span = float(np.max(stop - start)) if n else 0.0
    k = max(int(np.ceil(max(span, 0.0) / gap_range[0])) + 1, 1)
    gaps = np.floor(rng.uniform(gap_range[0], gap_range[1], (n, k)))
    days = start[:, None] + np.cumsum(gaps, axis=1)
    keep = days < stop[:, None]
    pid = np.broadcast_to(np.arange(n)[:, None], (n, k))[keep]
    return pid, days[keep]


def key(pid: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A sortable (patient, day) key."""
    return pid.astype(np.float64) * 1e6 + day


def first_at_or_after(pid: np.ndarray, day: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per patient, the first visit day >= target (NaN when none); (pid, day) sorted."""
    n = len(target)
    k = key(pid, day)
    want = np.where(np.isfinite(target), key(np.arange(n), np.ceil(np.nan_to_num(target, posinf=0.0))), np.inf)
    pos = np.searchsorted(k, want, side="left")
    ok = np.isfinite(target) & (pos < len(k))
    pos = np.minimum(pos, max(len(k) - 1, 0))
    if len(k) == 0:
        return np.full(n, np.nan)
    ok &= pid[pos] == np.arange(n)
    return np.where(ok, day[pos], np.nan)


@dataclass
class Course:
    """Visits and the course of each patient (days; NaN = did not happen / not observed)."""

    visit_pid: np.ndarray
    visit_day: np.ndarray
    t_detect: np.ndarray  # the visit (or clinical event) showing progression, within follow-up
    t_recorded: np.ndarray  # recorded progression event date
    t_later: np.ndarray  # later-line start
    t_maint_end: np.ndarray  # NaN = ongoing at the end of follow-up
    end_reason: np.ndarray  # END_* codes
    dead: np.ndarray  # death observed (at t_end)


def build_course(rng: np.random.Generator, lat: Latent, sc: Scenario) -> Course:
    # induction visits, then visits from the transplant on, up to the end of follow-up
    ip, iday = renewal_grid(rng, lat.t_ind_start, lat.t_ind_end, sc.induction_lab_interval_range)
    pp, pday = renewal_grid(rng, lat.t_tx, lat.t_end + 1, sc.lab_interval_range)
    pid = np.concatenate([ip, pp])
    day = np.concatenate([iday, pday])
    order = np.lexsort((day, pid))
    pid, day = pid[order], day[order]

    t_prog = lat.t_prog
    in_fu = t_prog <= lat.t_end
    bio = first_at_or_after(pid, day, np.where(in_fu & ~lat.clinical_prog, t_prog, np.nan))
    clinical = np.where(in_fu & lat.clinical_prog, np.floor(t_prog), np.nan)
    t_detect = np.where(lat.clinical_prog, clinical, bio)
    t_detect = np.where(t_detect <= lat.t_end, t_detect, np.nan)
    detected = np.isfinite(t_detect)
    t_recorded = np.where(detected & lat.record_progression, np.minimum(t_detect + lat.record_lag, lat.t_end), np.nan)
    t_later = np.where(detected & lat.later_line, t_detect + np.maximum(lat.later_line_delay, lat.record_lag), np.nan)
    t_later = np.where(t_later <= lat.t_end, t_later, np.nan)

    dead = lat.t_death <= lat.t_end
    fixed_end = np.where(lat.fixed_duration, np.floor(lat.t_maint + sc.fixed_duration_months * DAYS_PER_MONTH), np.inf)
    prog_end = np.where(detected, np.minimum(t_detect + lat.record_lag, lat.t_end), np.inf)
    death_end = np.where(dead, lat.t_death, np.inf)
    cands = np.stack([prog_end, lat.t_toxicity, fixed_end, death_end])
    end = cands.min(axis=0)
    reason = np.array([END_PROGRESSION, END_TOXICITY, END_COMPLETED, END_DEATH])[cands.argmin(axis=0)]
    ongoing = end > lat.t_end
    t_maint_end = np.where(ongoing, np.nan, end)
    end_reason = np.where(ongoing, END_NONE, reason)

    # labs stop at the later line (its own responses are not first-line) and at the end of follow-up
    stop = np.where(np.isfinite(t_later), t_later, lat.t_end + 1)
    keep = day < stop[pid]
    return Course(visit_pid=pid[keep], visit_day=day[keep], t_detect=t_detect, t_recorded=t_recorded,
                  t_later=t_later, t_maint_end=t_maint_end, end_reason=end_reason, dead=dead)
