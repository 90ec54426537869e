"""``simulate_cohort(n, seed, scenario)``: a synthetic cohort in the raw data-contract format;
``simulate_chunks(n, seed, scenario, chunk_size)``: the same cohort, ``chunk_size`` patients at a time.

Determinism (docs/simulator.md, Random streams): patients are simulated in fixed blocks of
``BLOCK_PATIENTS``; each block has its own ``numpy.random.SeedSequence`` (block 0: ``SeedSequence(seed)``,
block k >= 1: ``SeedSequence(seed, spawn_key=(6, k))``), which spawns an independent generator per
stage (latent model, course, serology, marrow, MRD, records). So the same seed gives the same tables
on any machine and whatever the chunk size, a cohort of at most ``BLOCK_PATIENTS`` is the one
mrdtrack 0.1 simulated, and a change to one stage's draws does not reshuffle the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrdtrack.simulate.course import build_course, key
from mrdtrack.simulate.latent import YEAR, Latent, draw_latent
from mrdtrack.simulate.observe import (
    LabRows,
    apply_mrd_guided_stop,
    marrow,
    measure_mrd,
    mrd_schedule,
    serology,
    suspected_cr,
)
from mrdtrack.simulate.scenario import Scenario, load_scenario
from mrdtrack.simulate.tables import (
    events_table,
    imaging_table,
    labs_table,
    mrd_table,
    patient_ids,
    patients_table,
    responses_table,
    treatments_table,
)
from mrdtrack.simulate.truth import truth_table

#: an aspirate this close to the previous one is not repeated (the assessment window is 7 days)
MARROW_GAP_DAYS = 10
STAGES = ("latent", "course", "serology", "marrow", "mrd", "records")
#: patients per random-stream block: fixed, part of what a seed means (docs/simulator.md)
BLOCK_PATIENTS = 1000
#: patients simulated and written at a time by ``mrdtrack simulate`` (outputs do not depend on it): one
#: block, so that no chunk is sliced out of a block or glued from several
CHUNK_PATIENTS = BLOCK_PATIENTS


@dataclass
class SimulatedCohort:
    """The contract tables (raw format, ``tables``) and the latent truth (``truth``, one row per patient;
    None from ``simulate_chunks(..., truth=False)``)."""

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame | None
    scenario: Scenario


def _unique_days(pid: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = key(pid, day)
    _, first = np.unique(k, return_index=True)
    return pid[first], day[first]


def block_seed_sequence(seed: int, block: int) -> np.random.SeedSequence:
    """The SeedSequence of patient block ``block`` (patients ``block * BLOCK_PATIENTS`` onwards)."""
    if block == 0:
        return np.random.SeedSequence(seed)
    return np.random.SeedSequence(seed, spawn_key=(len(STAGES), block))


def simulate_cohort(n: int, seed: int, scenario: Scenario | str | None = "default") -> SimulatedCohort:
    """Simulate ``n`` patients from ``seed`` under ``scenario`` (a Scenario, a packaged name or a file)."""
    return next(simulate_chunks(n, seed, scenario, chunk_size=n))


def simulate_chunks(n: int, seed: int, scenario: Scenario | str | None = "default",
                    chunk_size: int = CHUNK_PATIENTS, truth: bool = True) -> Iterator[SimulatedCohort]:
    """The cohort of ``simulate_cohort(n, seed, scenario)`` as consecutive parts of ``chunk_size``
    patients (the last may be smaller); concatenated, the parts are that cohort whatever ``chunk_size``.
    ``truth=False`` skips the latent truth table (``truth`` is None)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    sc = load_scenario(scenario)
    ids = patient_ids(n)
    parts: list[SimulatedCohort] = []
    have = 0
    for block, start in enumerate(range(0, n, BLOCK_PATIENTS)):
        block_ids = ids[start:start + BLOCK_PATIENTS]
        sim = _simulate_block(block_seed_sequence(seed, block), block_ids, sc, truth)
        lo = 0
        while lo < len(block_ids):
            take = min(chunk_size - have, len(block_ids) - lo)
            parts.append(sim if take == len(block_ids) else _patients_slice(sim, block_ids[lo], block_ids[lo + take - 1]))
            have, lo = have + take, lo + take
            if have == chunk_size:
                yield _concat(parts)
                parts, have = [], 0
    if parts:
        yield _concat(parts)


def _patients_slice(sim: SimulatedCohort, first: str, last: str) -> SimulatedCohort:
    """The rows of patients ``first`` to ``last`` (every table is sorted by patient_id)."""

    def rows(df: pd.DataFrame) -> pd.DataFrame:
        pids = df["patient_id"].to_numpy()
        lo, hi = np.searchsorted(pids, first, side="left"), np.searchsorted(pids, last, side="right")
        return df.iloc[lo:hi].reset_index(drop=True)

    return SimulatedCohort(tables={k: rows(v) for k, v in sim.tables.items()},
                           truth=None if sim.truth is None else rows(sim.truth), scenario=sim.scenario)


def _concat(parts: list[SimulatedCohort]) -> SimulatedCohort:
    if len(parts) == 1:
        return parts[0]

    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        kept = [f for f in frames if len(f)] or frames[:1]
        return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0].reset_index(drop=True)

    tables = {k: cat([p.tables[k] for p in parts]) for k in parts[0].tables}
    truth = None if parts[0].truth is None else cat([p.truth for p in parts])
    return SimulatedCohort(tables=tables, truth=truth, scenario=parts[0].scenario)


def _simulate_block(seeds: np.random.SeedSequence, ids: np.ndarray, sc: Scenario,
                    with_truth: bool = True) -> SimulatedCohort:
    """Simulate the patients ``ids`` with the stage generators spawned from ``seeds``."""
    n = len(ids)
    rngs = dict(zip(STAGES, (np.random.default_rng(s) for s in seeds.spawn(len(STAGES)))))
    lat: Latent = draw_latent(rngs["latent"], n, sc)
    course = build_course(rngs["course"], lat, sc)
    idx = np.arange(n)

    base_rows, _ = serology(rngs["serology"], lat, sc, idx, lat.t_dx.copy(), baseline=True)
    visit_rows, ife_negative = serology(rngs["serology"], lat, sc, course.visit_pid, course.visit_day, baseline=False)
    t_cr = suspected_cr(course.visit_pid, course.visit_day, ife_negative, n)
    rec = rngs["records"]
    cr_marrow = t_cr + np.floor(rec.uniform(*sc.marrow_delay_range, n))
    labs_stop = np.where(np.isfinite(course.t_later), course.t_later, lat.t_end + 1)
    cr_marrow = np.where(cr_marrow < labs_stop, cr_marrow, np.nan)

    post_tx = lat.t_maint - np.floor(rec.uniform(*sc.pre_maintenance_sample_range, n))
    m_pid, m_day, m_kind = mrd_schedule(rngs["mrd"], lat, course, sc, cr_marrow, post_tx)
    mrd = measure_mrd(rngs["mrd"], lat, sc, m_pid, m_day, m_kind)
    mrd = apply_mrd_guided_stop(rngs["mrd"], lat, course, sc, mrd)

    has_cr = np.isfinite(cr_marrow)
    mp, md = _unique_days(np.concatenate([idx, idx, idx[has_cr], mrd.pid]),
                          np.concatenate([lat.t_dx, post_tx, cr_marrow[has_cr], mrd.day]))
    # one aspirate serves nearby purposes: no second marrow within MARROW_GAP_DAYS of the previous one
    close = np.zeros(len(mp), dtype=bool)
    close[1:] = (mp[1:] == mp[:-1]) & (md[1:] - md[:-1] <= MARROW_GAP_DAYS)
    marrow_rows = marrow(rngs["marrow"], lat, sc, mp[~close], md[~close])

    clinical = np.isfinite(course.t_detect) & lat.clinical_prog
    lesion_rows = LabRows.textual(idx[clinical], course.t_detect[clinical], "new_lesion",
                                  np.ones(int(clinical.sum()), bool), ("yes", "yes"))
    labs = labs_table(LabRows.concat([base_rows, visit_rows, marrow_rows, lesion_rows]), ids)

    imaged = rec.random(n) < sc.imaging_share
    two_years = np.floor(lat.t_maint + 2 * YEAR)
    late_ok = imaged & (two_years <= lat.t_end) & (two_years < labs_stop)
    i_pid = np.concatenate([idx[imaged], idx[imaged], idx[late_ok]])
    i_day = np.concatenate([lat.t_dx[imaged] - np.floor(rec.uniform(0, 20, int(imaged.sum()))),
                            lat.t_maint[imaged] - np.floor(rec.uniform(10, 40, int(imaged.sum()))), two_years[late_ok]])
    i_pos = lat.burden_at(i_pid, i_day) >= sc.imaging_positive_log10
    i_pos[: int(imaged.sum())] = True

    pd_resp = np.isfinite(course.t_detect) & (rec.random(n) < sc.recorded_pd_response_share)

    tables = {
        "patients": patients_table(lat, ids, sc.centres),
        "treatments": treatments_table(lat, course, ids),
        "labs": labs,
        "mrd": mrd_table(mrd, ids),
        "events": events_table(lat, course, ids),
        "imaging": imaging_table(i_pid, i_day, i_pos, ids),
        "responses": responses_table(idx[pd_resp], course.t_detect[pd_resp], ids),
    }
    truth = truth_table(lat, course, mrd, ids, sc.truth_thresholds) if with_truth else None
    return SimulatedCohort(tables=tables, truth=truth, scenario=sc)
