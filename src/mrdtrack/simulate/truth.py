"""The latent truth beside a simulated cohort: per patient the trajectory parameters and the MRD
classes that the latent burden implies at the patient's own sample dates.

The true class at threshold T applies the rules of docs/mrd.md section 3 to the samples the
analysis will use (evaluable at T: detected, or not detected with lod <= T; entry and
on-maintenance windows as the analysis defines them), with each sample's status and log10 level
taken from the latent burden instead of the noisy measurement. A derivation that recovers the
truth gets these classes back; differences come from assay noise near T and the LOD only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.simulate.course import Course
from mrdtrack.simulate.latent import KINETICS, YEAR, Latent
from mrdtrack.simulate.observe import MrdRows
from mrdtrack.simulate.tables import to_dates


def threshold_tag(t: float) -> str:
    """``1e-04`` for 1e-4: the suffix of the per-threshold truth columns."""
    return f"{t:.0e}"


def _classes(lat: Latent, course: Course, mrd: MrdRows, threshold: float, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Per patient: the true mrd_kinetics at ``threshold`` and the least-squares slope of the latent
    burden (log10/year) over the same samples (NaN with fewer than 3 samples or 2 detected)."""
    n = lat.n
    b = lat.burden_at(mrd.pid, mrd.day)
    detected = ~np.isnan(mrd.level)
    evaluable = detected | (mrd.lod <= threshold)
    pid, day, b, det = mrd.pid[evaluable], mrd.day[evaluable], b[evaluable], detected[evaluable]
    t_ms = lat.t_maint[pid]
    in_entry = (day >= t_ms - cfg.entry_window_before_days) & (day <= t_ms + cfg.entry_window_after_days)
    entry_day = np.full(n, -np.inf)
    np.maximum.at(entry_day, pid[in_entry], day[in_entry])
    end = np.where(np.isfinite(course.t_maint_end), course.t_maint_end, lat.t_end)
    end = np.minimum(end, np.where(np.isfinite(course.t_detect), course.t_detect, np.inf))
    end = np.minimum(end, np.where(np.isfinite(course.t_later), course.t_later, np.inf))
    is_entry = np.isfinite(entry_day[pid]) & (day == entry_day[pid])
    on = np.isfinite(entry_day[pid]) & (day > entry_day[pid]) & (day <= end[pid])
    used = is_entry | on
    df = pd.DataFrame({"pid": pid[used], "day": day[used], "b": b[used], "on": on[used], "det": det[used],
                       "neg": b[used] < np.log10(threshold)})
    df = df.sort_values(["pid", "day"], kind="stable")
    g = df.groupby("pid", sort=True)
    n_on = g["on"].sum()
    last = g.tail(1).set_index("pid")
    first = g.head(1).set_index("pid")
    neg_count = g["neg"].sum()
    rows = g.size()
    last_neg = last["neg"]
    neg_before = neg_count - last_neg.astype(int)
    pos_before = (rows - neg_count) - (~last_neg).astype(int)
    change = last["b"] - first["b"]
    k = cfg.kinetics_log_change
    cls = np.select(
        [n_on == 0, ~last_neg & (neg_before > 0), neg_count == rows, last_neg & (pos_before > 0),
         change <= -k, change >= k],
        ["not_evaluable", "lost_negativity", "remained_negative", "converted_negative", "decreasing", "increasing"],
        default="stable")
    out = np.full(n, "not_evaluable", dtype=object)
    out[rows.index.to_numpy()] = cls
    # latent least-squares slope over the same samples
    df["x"] = (df["day"] - lat.t_maint[df["pid"].to_numpy()]) / YEAR
    sx, sy = g["x"].transform("mean"), g["b"].transform("mean")
    df["sxy"] = (df["x"] - sx) * (df["b"] - sy)
    df["sxx"] = (df["x"] - sx) ** 2
    agg = df.groupby("pid").agg(sxy=("sxy", "sum"), sxx=("sxx", "sum"), m=("b", "size"), det=("det", "sum"))
    slope = np.full(n, np.nan)
    ok = (agg["m"] >= 3) & (agg["det"] >= 2) & (agg["sxx"] > 0)
    slope[agg.index[ok].to_numpy()] = (agg["sxy"][ok] / agg["sxx"][ok]).to_numpy()
    return out, slope


def truth_table(lat: Latent, course: Course, mrd: MrdRows, ids: np.ndarray, thresholds: tuple[float, ...],
                config: Config | None = None) -> pd.DataFrame:
    """One row per patient: latent parameters and true classes (docs/simulator.md)."""
    cfg = config or Config()
    out = pd.DataFrame({
        "patient_id": ids,
        "latent_kinetics": KINETICS[lat.kinetics],
        "burden_diagnosis_log10": np.round(lat.b0, 4),
        "burden_maintenance_start_log10": np.round(lat.b_maint, 4),
        "maintenance_slope_per_year": np.round(lat.slope, 4),
        "regrowth_delay_years": np.round(lat.delay, 4),
        "regrowth_slope_per_year": np.round(lat.regrowth, 4),
        "burden_floor_log10": np.round(lat.floor, 4),
        "progression_level_log10": np.round(lat.b_prog, 4),
        "true_progression_date": to_dates(np.floor(lat.t_prog)),
        "progression_kind": np.where(lat.clinical_prog, "clinical", "biochemical").astype(object),
        "progression_observed": np.isfinite(course.t_detect),
        "detected_progression_date": to_dates(course.t_detect),
        "death_date": to_dates(np.where(course.dead, lat.t_death, np.nan)),
    })
    for t in thresholds:
        cls, slope = _classes(lat, course, mrd, t, cfg)
        out[f"true_mrd_kinetics_{threshold_tag(t)}"] = cls
        out[f"true_slope_at_samples_{threshold_tag(t)}"] = np.round(slope, 4)
    return out
