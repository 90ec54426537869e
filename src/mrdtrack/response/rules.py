"""Per-assessment response: PD, CR/sCR, VGPR/PR/MR/SD, NE (docs/response-rules.md section 3).

One function per criterion of the IMWG uniform response criteria (Kumar et al., Lancet Oncol
2016;17:e328-46, table 3; Durie et al., Leukemia 2006; Rajkumar et al., Blood 2011). Every
function takes whole columns (numpy arrays) and the Config; thresholds come only from Config.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.response.assessments import normal_flc_ratio
from mrdtrack.response.levels import CR, MR, NE, PD, PR, SCR, SD, UNLIMITED, VGPR, ge, gt, le, lt

# --- progression (IMWG 2016 table 3, "progressive disease")


def pd_serum(value, nadir, config: Config) -> np.ndarray:
    """Serum M-protein >= 1.25 x nadir and >= nadir + 0.5 g/dL; with a nadir >= 5 g/dL,
    >= nadir + 1 g/dL alone suffices."""
    tol = config.relative_tolerance
    relative = ge(value, config.pd_relative_increase * nadir, tol) & ge(value, nadir + config.pd_serum_increase_g_dl, tol)
    high_nadir = ge(nadir, config.pd_serum_high_nadir_g_dl, tol) & ge(
        value, nadir + config.pd_serum_high_nadir_increase_g_dl, tol)
    return relative | high_nadir


def pd_urine(value, nadir, config: Config) -> np.ndarray:
    """Urine M-protein >= 1.25 x nadir and >= nadir + 200 mg/24h."""
    tol = config.relative_tolerance
    return ge(value, config.pd_relative_increase * nadir, tol) & ge(value, nadir + config.pd_urine_increase_mg_24h, tol)


def pd_dflc(value, nadir, config: Config) -> np.ndarray:
    """dFLC >= 1.25 x nadir and an absolute rise of more than 100 mg/L."""
    tol = config.relative_tolerance
    return ge(value, config.pd_relative_increase * nadir, tol) & gt(value, nadir + config.pd_flc_increase_mg_l, tol)


def pd_marrow(value, nadir, config: Config) -> np.ndarray:
    """Bone-marrow plasma cells >= nadir + 10 percentage points."""
    return ge(value, nadir + config.pd_marrow_increase_points, config.relative_tolerance)


def pd_plasmacytoma(spd, prior_min, config: Config) -> np.ndarray:
    """Plasmacytoma SPD >= 1.5 x the lowest SPD reported before (when that is > 0), or SPD > 0 after
    a reported 0 (new plasmacytoma)."""
    grown = (prior_min > 0) & ge(spd, config.pd_plasmacytoma_factor * prior_min, config.relative_tolerance)
    reappeared = (prior_min == 0) & (spd > 0)
    return np.asarray(grown | reappeared)


# --- complete response (IMWG 2016 table 3, CR and sCR)


def plasmacytoma_resolved(spd_status) -> np.ndarray:
    """No soft-tissue plasmacytoma: status 0, or no SPD ever reported."""
    return np.isnan(spd_status) | (spd_status == 0)


def complete_response(cr_ife, spd_status, marrow_qualifies, flc_followed, ratio, config: Config) -> np.ndarray:
    """CR: negative IFE (serum; urine where needed), no plasmacytoma, a qualifying marrow (< 5% plasma
    cells) and, when dFLC is the followed parameter, a normal FLC ratio."""
    ratio_ok = ~flc_followed | normal_flc_ratio(ratio, config)
    return cr_ife & plasmacytoma_resolved(spd_status) & marrow_qualifies & ratio_ok


def stringent_complete_response(cr, ratio, clonality, config: Config) -> np.ndarray:
    """sCR: CR plus a normal FLC ratio and no clonal plasma cells (polyclonal) in the qualifying marrow."""
    return cr & normal_flc_ratio(ratio, config) & (clonality == "polyclonal")


# --- partial responses per parameter (IMWG 2016 table 3, VGPR / PR / MR)


def serum_level(value, base, config: Config) -> np.ndarray:
    """Serum M-protein vs baseline B: VGPR <= 10% of B or 0 on electrophoresis; PR <= 50%; MR <= 75%."""
    tol = config.relative_tolerance
    return np.select([le(value, config.vgpr_serum_fraction * base, tol) | (value == 0),
                      le(value, config.pr_serum_fraction * base, tol),
                      le(value, config.mr_serum_fraction * base, tol)], [VGPR, PR, MR], SD)


def urine_level(value, base, config: Config) -> np.ndarray:
    """Urine M-protein: VGPR < 100 mg/24h; PR <= 10% of B or < 200 mg/24h; MR <= 50% of B."""
    tol = config.relative_tolerance
    return np.select([lt(value, config.vgpr_urine_mg_24h, tol),
                      le(value, config.pr_urine_fraction * base, tol) | lt(value, config.pr_urine_mg_24h, tol),
                      le(value, config.mr_urine_fraction * base, tol)], [VGPR, PR, MR], SD)


def flc_level(value, base, config: Config) -> np.ndarray:
    """dFLC (light-chain-only disease): VGPR <= 10% of B; PR <= 50% of B; no MR level."""
    tol = config.relative_tolerance
    return np.select([le(value, config.vgpr_flc_fraction * base, tol), le(value, config.pr_flc_fraction * base, tol)],
                     [VGPR, PR], SD)


def marrow_level(value, base, config: Config) -> np.ndarray:
    """Marrow plasma cells (marrow-only disease): PR at most, <= 50% of B when B >= 30%."""
    tol = config.relative_tolerance
    pr = le(value, config.pr_marrow_fraction * base, tol) & ge(base, config.pr_marrow_min_baseline_pct, tol)
    return np.where(pr, PR, SD)


def plasmacytoma_level(spd_status, base_spd, config: Config) -> np.ndarray:
    """A plasmacytoma present at baseline must shrink by >= 50% for PR and >= 25% for MR."""
    tol = config.relative_tolerance
    present = base_spd > 0
    lv = np.select([le(spd_status, (1 - config.pr_plasmacytoma_shrink) * base_spd, tol),
                    le(spd_status, (1 - config.mr_plasmacytoma_shrink) * base_spd, tol)], [UNLIMITED, MR], SD)
    return np.where(present, lv, UNLIMITED)


def vgpr_urine_cap(level, urine, config: Config) -> np.ndarray:
    """VGPR also needs urine M-protein < 100 mg/24h whenever urine was measured at the assessment."""
    blocked = ~np.isnan(urine) & ~lt(urine, config.vgpr_urine_mg_24h, config.relative_tolerance)
    return np.where(blocked & (level >= VGPR), PR, level)


def join_notes(parts) -> np.ndarray:
    """'a; b' from (flag array, text) pairs, vectorised over the rows where any flag holds."""
    n = len(parts[0][0])
    out = np.full(n, "", dtype=object)
    rows = np.flatnonzero(np.logical_or.reduce([np.asarray(f, dtype=bool) for f, _ in parts]))
    sub = np.full(rows.size, "", dtype=object)
    for flag, text in parts:
        piece = np.where(np.asarray(flag, dtype=bool)[rows], text, "").astype(object)
        sub = np.where((sub != "") & (piece != ""), sub + "; " + piece, sub + piece)
    out[rows] = sub
    return out


def assessment_response(x: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Response of every assessment row (docs/response-rules.md section 3): the first of PD, sCR, CR, NE
    and the lowest level every followed parameter supports.

    ``x`` carries per row the values (serum, urine, dflc, ratio, marrow_pct, new_lesion, spd,
    spd_status, spd_prior_min, cr_ife), the nadirs (n_serum, n_urine, n_dflc, n_marrow), the
    patient's baselines (b_*) and followed flags (f_*, measurable), and the qualifying marrow
    (marrow_qualifies, marrow_q_clonality). Returns ``level``, ``meets_pd``, ``pd_lesion``
    (PD by new lesion or plasmacytoma: needs no confirmation) and ``note``.
    """
    def col(name):
        return x[name].to_numpy()

    not_meas = ~col("measurable")
    # serum and urine: PD for any patient with values, followed or not (IMWG 2016, Kumar et al. 2016
    # table 3: "one or more of serum M-protein ... urine M-protein"); dFLC only when followed, or
    # for a not-measurable patient (docs/response-rules.md section 3)
    use_flc = col("f_flc") | not_meas
    by_serum = pd_serum(col("serum"), col("n_serum"), config)
    by_urine = pd_urine(col("urine"), col("n_urine"), config)
    by_flc = use_flc & pd_dflc(col("dflc"), col("n_dflc"), config)
    by_marrow = col("f_marrow") & pd_marrow(col("marrow_pct"), col("n_marrow"), config)
    by_lesion = col("new_lesion").astype(bool)
    by_spd = pd_plasmacytoma(col("spd"), col("spd_prior_min"), config)
    meets_pd = by_serum | by_urine | by_flc | by_marrow | by_lesion | by_spd

    cr_ife = col("cr_ife")
    cr = complete_response(cr_ife, col("spd_status"), col("marrow_qualifies"), col("f_flc"), col("ratio"), config)
    scr = stringent_complete_response(cr, col("ratio"), col("marrow_q_clonality"), config)

    serum, urine, dflc, marrow = col("serum"), col("urine"), col("dflc"), col("marrow_pct")
    miss_serum = col("f_serum") & np.isnan(serum) & ~cr_ife
    miss_urine = col("f_urine") & np.isnan(urine) & ~cr_ife
    miss_flc = col("f_flc") & np.isnan(dflc)
    miss_marrow = col("f_marrow") & np.isnan(marrow)
    missing = miss_serum | miss_urine | miss_flc | miss_marrow

    # IFE negative without a qualifying marrow supports VGPR for serum and urine (convention)
    ife_floor = np.where(cr_ife, VGPR, SD)
    lv_serum = np.where(col("f_serum"), np.maximum(serum_level(serum, col("b_serum"), config), ife_floor), UNLIMITED)
    lv_urine = np.where(col("f_urine"), np.maximum(urine_level(urine, col("b_urine"), config), ife_floor), UNLIMITED)
    lv_flc = np.where(col("f_flc"), flc_level(dflc, col("b_dflc"), config), UNLIMITED)
    lv_marrow = np.where(col("f_marrow"), marrow_level(marrow, col("b_marrow_pct"), config), UNLIMITED)
    lv_spd = plasmacytoma_level(col("spd_status"), col("b_spd"), config)
    lowest = np.minimum.reduce([lv_serum, lv_urine, lv_flc, lv_marrow, lv_spd])
    lowest = vgpr_urine_cap(np.minimum(lowest, VGPR), urine, config)

    level = np.select([meets_pd, scr, cr, not_meas | missing], [PD, SCR, CR, NE], lowest)
    pd_notes = join_notes([(by_serum, "serum M-protein rise"), (by_urine, "urine M-protein rise"),
                           (by_flc, "dFLC rise"), (by_marrow, "marrow plasma-cell rise"),
                           (by_lesion, "new lesion"), (by_spd, "plasmacytoma growth")])
    ne_notes = join_notes([(not_meas, "not measurable"), (miss_serum, "serum missing"),
                           (miss_urine, "urine missing"), (miss_flc, "flc missing"), (miss_marrow, "marrow missing")])
    note = np.where(level == PD, pd_notes, np.where(level == NE, ne_notes, ""))
    return pd.DataFrame({"level": level.astype(np.int64), "meets_pd": meets_pd,
                         "pd_lesion": by_lesion | by_spd, "note": note.astype(object)}, index=x.index)
