"""The latent model: patients, therapy timeline, log10 tumour burden, progression and death.

Everything here is a numpy array with one entry per patient (no loop over patients). Times are
days since 1970-01-01 (float); burdens are log10 of the clonal plasma-cell fraction of nucleated
marrow cells, the scale MRD assays report on.

Burden b(t) (docs/simulator.md has the equations):
* before induction: b0; induction lowers it linearly (in log10) by ``d_ind``; the transplant by
  ``d_tx`` over 60 days; consolidation by ``d_cons`` over its course; flat in the gaps;
* from maintenance start, with tau in years: base(tau) = max(b_m + s min(tau, D), floor)
  + g max(tau - D, 0), the patient's kinetics (deepening s < 0, stable s ~ 0, regrowing after a
  short delay D); progression at the first crossing of the patient's progression level, or
  earlier at a background (clinical) progression; from progression the burden surges at
  ``progression_surge_per_year`` so that every marker shows it;
* ``null`` scenario: the progression time is drawn independently, the base trajectory is capped
  below the progression level and the surge starts at the drawn time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrdtrack.simulate.scenario import Scenario

YEAR = 365.25
TRANSPLANT_EFFECT_DAYS = 60.0
HEAVY_CHAINS = np.array(["IgG", "IgA", "none", "IgD", "IgM"], dtype=object)
KINETICS = np.array(["deepening", "stable", "regrowing"], dtype=object)
MAX_LOG10_BURDEN = np.log10(0.95)

#: IMWG progression increments of each marker (docs/response-rules.md section 3)
PD_SERUM_G_DL, PD_URINE_MG, PD_FLC_MG_L, PD_MARROW_FRACTION = 0.5, 200.0, 100.0, 0.10


def _day(iso: str) -> float:
    return float(np.datetime64(iso, "D").astype("int64"))


def _uniform(rng: np.random.Generator, bounds: tuple[float, ...], n: int) -> np.ndarray:
    return rng.uniform(bounds[0], bounds[1], n)


@dataclass
class Latent:
    """Per-patient latent quantities (arrays of length n)."""

    n: int
    # patients
    age: np.ndarray
    male: np.ndarray
    iss: np.ndarray  # 0, 1, 2
    high_risk: np.ndarray
    heavy: np.ndarray  # index into HEAVY_CHAINS
    kappa: np.ndarray
    centre: np.ndarray
    # timeline (days)
    t_dx: np.ndarray
    t_ind_start: np.ndarray
    t_ind_end: np.ndarray
    t_tx: np.ndarray
    has_cons: np.ndarray
    t_cons_start: np.ndarray
    t_cons_end: np.ndarray
    t_maint: np.ndarray
    # secretion at diagnosis
    serum0: np.ndarray  # g/dL, 0 for light-chain only
    urine0: np.ndarray  # mg/24h
    flc_mono0: np.ndarray  # mg/L
    kappa_normal: np.ndarray
    lambda_normal: np.ndarray
    # burden
    b0: np.ndarray
    b_ind: np.ndarray
    b_tx: np.ndarray
    b_maint: np.ndarray
    kinetics: np.ndarray  # index into KINETICS
    slope: np.ndarray  # log10/year before the delay
    delay: np.ndarray  # years
    regrowth: np.ndarray  # log10/year after the delay
    floor: np.ndarray
    cap: np.ndarray  # +inf except in the null scenario
    b_prog: np.ndarray
    surge: float
    # progression and death (days)
    t_prog: np.ndarray
    clinical_prog: np.ndarray
    t_death: np.ndarray
    myeloma_death: np.ndarray
    t_lost: np.ndarray
    t_last_contact: np.ndarray
    t_end: np.ndarray  # end of follow-up: death, loss or last contact
    data_cut: float
    # other latent draws the course needs
    t_toxicity: np.ndarray
    fixed_duration: np.ndarray
    later_line: np.ndarray
    later_line_delay: np.ndarray
    record_progression: np.ndarray
    record_lag: np.ndarray
    t_spm: np.ndarray

    def burden_at(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """b(t) for patients ``idx`` at days ``t`` (equal-length arrays)."""
        return burden_at(self, idx, t)


def draw_patients(rng: np.random.Generator, n: int, sc: Scenario) -> dict[str, np.ndarray]:
    age = np.clip(rng.normal(sc.age_median, sc.age_sd, n), *sc.age_range)
    return {
        "age": np.round(age),
        "male": rng.random(n) < sc.male_share,
        "iss": rng.choice(3, size=n, p=np.asarray(sc.iss_shares)),
        "high_risk": rng.random(n) < sc.high_risk_share,
        "heavy": rng.choice(5, size=n, p=np.asarray(sc.heavy_chain_shares)),
        "kappa": rng.random(n) < sc.kappa_share,
        "centre": rng.integers(0, sc.centres, n),
    }


def draw_timeline(rng: np.random.Generator, n: int, sc: Scenario) -> dict[str, np.ndarray]:
    first, last = _day(sc.diagnosis_first), _day(sc.diagnosis_last)
    t_dx = np.floor(rng.uniform(first, last + 1, n))
    t_is = t_dx + np.floor(_uniform(rng, sc.induction_delay_range, n))
    t_ie = t_is + np.floor(_uniform(rng, sc.induction_days_range, n))
    t_tx = t_ie + np.floor(_uniform(rng, sc.transplant_delay_range, n))
    has_cons = rng.random(n) < sc.consolidation_share
    t_cs = t_tx + np.floor(_uniform(rng, sc.consolidation_delay_range, n))
    t_ce = t_cs + np.floor(_uniform(rng, sc.consolidation_days_range, n))
    after_tx = t_tx + np.floor(_uniform(rng, sc.maintenance_delay_range, n))
    after_cons = t_ce + np.floor(_uniform(rng, sc.maintenance_after_consolidation_range, n))
    t_ms = np.where(has_cons, after_cons, after_tx)
    # without consolidation its knots collapse onto the end of the transplant effect
    t_cs = np.where(has_cons, t_cs, t_tx + TRANSPLANT_EFFECT_DAYS)
    t_ce = np.where(has_cons, t_ce, t_tx + TRANSPLANT_EFFECT_DAYS)
    return {"t_dx": t_dx, "t_ind_start": t_is, "t_ind_end": t_ie, "t_tx": t_tx, "has_cons": has_cons,
            "t_cons_start": t_cs, "t_cons_end": t_ce, "t_maint": t_ms}


def draw_secretion(rng: np.random.Generator, p: dict[str, np.ndarray], sc: Scenario) -> dict[str, np.ndarray]:
    n = len(p["heavy"])
    light_only = p["heavy"] == 2
    minor = p["heavy"] >= 3
    serum_med = np.where(minor, sc.serum_m_minor_median_g_dl, sc.serum_m_median_g_dl)
    serum0 = np.where(light_only, 0.0, serum_med * np.exp(rng.normal(0, sc.serum_m_log_sd, n)))
    urine0 = np.where(light_only, sc.urine_m_median_light, sc.urine_m_median_heavy) * np.exp(
        rng.normal(0, sc.urine_m_log_sd, n))
    flc0 = np.where(light_only, sc.flc_mono_median_light, sc.flc_mono_median_heavy) * np.exp(
        rng.normal(0, sc.flc_mono_log_sd, n))
    flc0 = np.where(light_only, np.maximum(flc0, sc.flc_mono_min_light), flc0)
    return {
        "serum0": serum0, "urine0": urine0, "flc_mono0": flc0,
        "kappa_normal": sc.kappa_normal_median * np.exp(rng.normal(0, sc.flc_normal_log_sd, n)),
        "lambda_normal": sc.lambda_normal_median * np.exp(rng.normal(0, sc.flc_normal_log_sd, n)),
    }


def progression_level(b0: np.ndarray, sec: dict[str, np.ndarray], margin: np.ndarray) -> np.ndarray:
    """The log10 burden at which a followed marker shows IMWG progression (times ``margin``).

    Each marker is its diagnosis value times 10^(b - b0); progression needs an increase of the
    marker's IMWG increment over a nadir near zero. The followed markers are those of the IMWG
    measurable-disease rule (docs/response-rules.md section 2): serum (>= 1 g/dL) and urine
    (>= 200 mg/24h); else the dFLC (involved FLC >= 100 mg/L); else the marrow (+10 points). The
    lowest level among them wins, so the labs show progression when the burden gets there.
    """
    serum = sec["serum0"] >= 1.0
    urine = sec["urine0"] >= 200.0
    flc = ~serum & ~urine & (sec["flc_mono0"] >= 100.0)
    marrow = ~serum & ~urine & ~flc
    with np.errstate(divide="ignore"):
        levels = np.stack([
            np.where(serum, np.log10(margin * PD_SERUM_G_DL / np.maximum(sec["serum0"], 1e-9)), np.inf),
            np.where(urine, np.log10(margin * PD_URINE_MG / sec["urine0"]), np.inf),
            np.where(flc, np.log10(margin * PD_FLC_MG_L / sec["flc_mono0"]), np.inf),
            np.where(marrow, np.log10(margin * PD_MARROW_FRACTION) - b0, np.inf),
        ])
    return b0 + np.minimum(levels.min(axis=0), -0.3)


def _crossing_years(b_m, s, d, g, floor, level) -> np.ndarray:
    """First tau (years) at which base(tau) reaches ``level`` (inf when never)."""
    b_d = np.maximum(b_m + s * d, floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        before = np.where((s > 0) & (b_m + s * d >= level), (level - b_m) / s, np.inf)
        after = np.where(g > 0, d + (level - b_d) / g, np.inf)
    return np.where(np.isfinite(before), before, np.maximum(after, 0.0))


def draw_burden(rng: np.random.Generator, p: dict, tl: dict, sec: dict, sc: Scenario) -> dict[str, np.ndarray]:
    n = len(p["age"])
    hr = p["high_risk"]
    bmpc = np.clip(sc.diagnosis_bmpc_median_pct * np.exp(rng.normal(0, sc.diagnosis_bmpc_log_sd, n)),
                   *sc.diagnosis_bmpc_range)
    b0 = np.log10(bmpc / 100.0)
    d_ind = np.maximum(rng.normal(sc.induction_reduction_mean, sc.induction_reduction_sd, n)
                       + np.where(hr, sc.high_risk_reduction_shift, 0.0), 0.5)
    d_tx = np.maximum(rng.normal(sc.transplant_reduction_mean, sc.transplant_reduction_sd, n), 0.0)
    d_cons = np.where(tl["has_cons"], np.maximum(
        rng.normal(sc.consolidation_reduction_mean, sc.consolidation_reduction_sd, n), 0.0), 0.0)
    margin = _uniform(rng, sc.progression_margin_range, n)
    b_prog = progression_level(b0, sec, margin)
    # every patient enters maintenance responding: at least half a log10 below the progression level
    total = np.maximum(d_ind + d_tx + d_cons, np.maximum(sc.min_total_reduction, b0 - b_prog + 0.5))
    d_ind = total - d_tx - d_cons
    b_ind, b_tx = b0 - d_ind, b0 - d_ind - d_tx
    b_m = b_tx - d_cons

    u = rng.random(n)
    shares = np.where(hr[:, None], np.asarray(sc.kinetics_shares_high)[None, :],
                      np.asarray(sc.kinetics_shares_standard)[None, :])
    # residual disease at maintenance start is what lenalidomide can deepen: the odds of deepening
    # rise by exp(coupling) per log10 of burden above the reference level
    shares = shares * np.stack([np.exp(sc.kinetics_entry_coupling * (b_m - sc.kinetics_entry_reference)),
                                np.ones(n), np.ones(n)], axis=1)
    shares = shares / shares.sum(axis=1, keepdims=True)
    kinetics = (u[:, None] > np.cumsum(shares, axis=1)[:, :2]).sum(axis=1)
    slope = np.where(kinetics == 0,
                     np.minimum(rng.normal(sc.deepening_slope_mean, sc.deepening_slope_sd, n), sc.deepening_slope_max),
                     rng.normal(0.0, sc.flat_slope_sd, n))
    delay = np.asarray(sc.delay_median_years)[kinetics] * np.exp(rng.normal(0, sc.delay_log_sd, n))
    factor = np.where(hr, sc.high_risk_regrowth_factor, 1.0) * np.where(p["iss"] == 2, sc.iss3_regrowth_factor, 1.0)
    regrowth = sc.regrowth_rate_median * factor * np.exp(rng.normal(0, sc.regrowth_rate_log_sd, n))
    floor = rng.normal(sc.burden_floor_mean, sc.burden_floor_sd, n)

    t_ms = tl["t_maint"]
    t_bg = t_ms + 30.0 + YEAR * rng.exponential(1.0, n) / max(sc.background_progression_rate_per_year, 1e-12)
    if sc.independent_progression:
        scale = sc.independent_pfs_median_years / np.log(2) ** (1 / sc.independent_pfs_shape)
        t_prog = t_ms + YEAR * np.maximum(scale * rng.weibull(sc.independent_pfs_shape, n), 1 / 12)
        cap = np.maximum(b_prog - sc.independent_cap_margin, b_m)
        clinical = np.zeros(n, dtype=bool)
    else:
        cap = np.full(n, np.inf)
        t_cross = t_ms + YEAR * _crossing_years(b_m, slope, delay, regrowth, floor, b_prog)
        clinical = t_bg < t_cross
        t_prog = np.minimum(t_bg, t_cross)
    return {"b0": b0, "b_ind": b_ind, "b_tx": b_tx, "b_maint": b_m, "kinetics": kinetics, "slope": slope,
            "delay": delay, "regrowth": regrowth, "floor": floor, "cap": cap, "b_prog": b_prog,
            "t_prog": t_prog, "clinical_prog": clinical}


def draw_deaths(rng: np.random.Generator, p: dict, tl: dict, bur: dict, sc: Scenario) -> dict[str, np.ndarray]:
    n = len(p["age"])
    h0 = sc.other_death_rate_per_year * np.exp(sc.other_death_age_log_hazard * (p["age"] - 60.0))
    gam = sc.other_death_age_log_hazard
    e = rng.exponential(1.0, n)
    years = np.log1p(gam * e / h0) / gam if gam > 0 else e / h0
    # counted from maintenance start: the cohort is of patients who reached maintenance (as the study's)
    t_other = tl["t_maint"] + 30.0 + YEAR * years
    t_myeloma = bur["t_prog"] + YEAR * rng.exponential(sc.post_progression_death_median_years / np.log(2), n)
    myeloma = t_myeloma < t_other
    t_death = np.floor(np.minimum(t_other, t_myeloma))
    cut = _day(sc.data_cut)
    lost_rate = max(sc.loss_to_follow_up_rate_per_year, 1e-12)
    t_lost = np.floor(tl["t_maint"] + 30.0 + YEAR * rng.exponential(1.0 / lost_rate, n))
    t_last = cut - np.floor(_uniform(rng, sc.last_contact_lag_range, n))
    t_end = np.minimum(np.minimum(t_death, t_lost), t_last)
    spm_rate = max(sc.spm_rate_per_year, 1e-12)
    return {"t_death": t_death, "myeloma_death": myeloma, "t_lost": t_lost, "t_last_contact": t_last,
            "t_end": t_end, "data_cut": cut,
            "t_spm": np.floor(tl["t_maint"] + YEAR * rng.exponential(1.0 / spm_rate, n))}


def draw_course(rng: np.random.Generator, tl: dict, sc: Scenario) -> dict[str, np.ndarray]:
    n = len(tl["t_maint"])
    tox_rate = max(sc.toxicity_stop_rate_per_year, 1e-12)
    return {
        "t_toxicity": np.floor(tl["t_maint"] + YEAR * rng.exponential(1.0 / tox_rate, n)),
        "fixed_duration": rng.random(n) < sc.fixed_duration_share,
        "later_line": rng.random(n) < sc.later_line_share,
        "later_line_delay": np.floor(_uniform(rng, sc.later_line_delay_range, n)),
        "record_progression": rng.random(n) < sc.recorded_progression_share,
        "record_lag": np.floor(_uniform(rng, sc.recorded_progression_lag_range, n)),
    }


def draw_latent(rng: np.random.Generator, n: int, sc: Scenario) -> Latent:
    """Every latent quantity of ``n`` patients."""
    p = draw_patients(rng, n, sc)
    tl = draw_timeline(rng, n, sc)
    sec = draw_secretion(rng, p, sc)
    bur = draw_burden(rng, p, tl, sec, sc)
    deaths = draw_deaths(rng, p, tl, bur, sc)
    course = draw_course(rng, tl, sc)
    return Latent(n=n, surge=sc.progression_surge_per_year, **p, **tl, **sec, **bur, **deaths, **course)


def maintenance_base(lat: Latent, idx: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """The kinetic part of the burden at ``tau`` years after maintenance start (no surge)."""
    s, d = lat.slope[idx], lat.delay[idx]
    base = np.maximum(lat.b_maint[idx] + s * np.minimum(tau, d), lat.floor[idx]) + lat.regrowth[idx] * np.maximum(
        tau - d, 0.0)
    return np.minimum(base, lat.cap[idx])


def serum_burden_at(lat: Latent, idx: np.ndarray, t: np.ndarray, clearance_per_year: float) -> np.ndarray:
    """The burden as the intact M-protein shows it: immunoglobulin is cleared at most
    ``clearance_per_year`` log10 per year, so after a steep fall the serum lags the marrow.

    b_s(t) = max(b(t), max over the pre-maintenance knots k <= t of b(k) - c (t - k)): the upper
    envelope of first-order clearance, exact for the piecewise-linear pre-maintenance course (after
    maintenance start the burden falls more slowly than the clearance)."""
    idx = np.asarray(idx)
    t = np.asarray(t, dtype=float)
    out = burden_at(lat, idx, t)
    c = clearance_per_year / YEAR
    knots = [(lat.t_ind_end, lat.b_ind), (lat.t_tx, lat.b_ind), (lat.t_tx + TRANSPLANT_EFFECT_DAYS, lat.b_tx),
             (lat.t_cons_end, lat.b_maint)]
    for kt, kb in knots:
        tk = kt[idx]
        out = np.where(t >= tk, np.maximum(out, kb[idx] - c * (t - tk)), out)
    return out


def burden_at(lat: Latent, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The latent log10 burden of patients ``idx`` at days ``t``."""
    idx = np.asarray(idx)
    t = np.asarray(t, dtype=float)
    b0 = lat.b0[idx]
    knots_t = [lat.t_ind_start, lat.t_ind_end, lat.t_tx, lat.t_tx + TRANSPLANT_EFFECT_DAYS, lat.t_cons_start,
               lat.t_cons_end]
    knots_b = [lat.b0, lat.b_ind, lat.b_ind, lat.b_tx, lat.b_tx, lat.b_maint]
    out = b0.copy()
    for j in range(len(knots_t) - 1):
        t0, t1 = knots_t[j][idx], knots_t[j + 1][idx]
        v0, v1 = knots_b[j][idx], knots_b[j + 1][idx]
        inside = (t >= t0) & (t < t1)
        span = np.where(t1 > t0, t1 - t0, 1.0)
        out = np.where(inside, v0 + (v1 - v0) * (t - t0) / span, out)
    out = np.where(t >= lat.t_cons_end[idx], lat.b_maint[idx], out)
    in_maint = t >= lat.t_maint[idx]
    tau = (t - lat.t_maint[idx]) / YEAR
    base = maintenance_base(lat, idx, np.maximum(tau, 0.0))
    surge = lat.b_prog[idx] + lat.surge * (t - lat.t_prog[idx]) / YEAR
    out = np.where(in_maint, np.maximum(base, surge), out)
    return np.minimum(out, np.minimum(b0 + 0.1, MAX_LOG10_BURDEN))
