"""Vignettes: one tiny hand-written patient per IMWG rule and convention (docs/response-rules.md 1-5).

Each test writes the labs in and the expected assessment rows out. Dates: baseline labs on
2020-01-05, induction from 2020-01-10, maintenance from 2020-09-01 unless said otherwise.
"""

import dataclasses

import numpy as np
import pandas as pd

from builders import make_cohort
from mrdtrack.config import Config
from mrdtrack.response import derive_assessments
from mrdtrack.timeline import patient_anchors

CFG = Config()
SHOWN = ["date", "phase", "response", "confirmed_response", "pd_confirmed", "note"]
TREAT = [("A", "induction", "VRD", "2020-01-10", "2020-06-01"), ("A", "maintenance", "len", "2020-09-01", None)]


def patient(pid="A", heavy="IgG", light="kappa"):
    return {"patient_id": pid, "diagnosis_date": "2020-01-01", "heavy_chain": heavy, "light_chain": light}


def derive(labs, patients=None, treatments=TREAT, events=(("A", "2023-01-01", "last_contact"),), config=CFG, **kw):
    c = make_cohort(patients=patients or [patient()], treatments=treatments, labs=labs, events=events, **kw)
    anchors, _ = patient_anchors(c)
    return derive_assessments(c, anchors, config)


def rows(expected):
    """Expected rows (date, phase, response, confirmed, pd_confirmed, note) as a DataFrame."""
    df = pd.DataFrame(expected, columns=SHOWN)
    df["date"] = pd.to_datetime(df["date"])
    return df


def check(assessments, expected, pid="A"):
    got = assessments.loc[assessments["patient_id"] == pid, SHOWN].reset_index(drop=True)
    got = got.astype({"pd_confirmed": bool})
    exp = rows(expected)
    for c in ("response", "confirmed_response"):
        got[c] = got[c].where(got[c].notna(), None)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)


def serum_series(values, ife=None):
    """IgG serum M-protein values (baseline first, on 2020-01-05) at 2-monthly dates from 2020-03-01."""
    dates = ["2020-01-05"] + [str(d.date()) for d in pd.date_range("2020-03-01", periods=len(values) - 1,
                                                                     freq="2MS")]
    labs = [("A", d, "serum_m_protein", v) for d, v in zip(dates, values)]
    for d, i in zip(dates, ife or []):
        if i:
            labs.append(("A", d, "serum_ife", i))
    return dates, labs


def test_igg_responder_pr_vgpr_then_cr_only_with_marrow():
    """PR <= 50%, VGPR <= 10% of baseline; IFE negative without a marrow is VGPR; with a < 5% marrow, CR."""
    _, labs = serum_series([3.0, 1.4, 1.2, 0.2, 0.0, 0.0, 0.0], [None, None, None, None, "negative", "negative",
                                                                   "negative"])
    labs.append(("A", "2020-11-05", "bm_plasma_cells", 2.0))
    labs.append(("A", "2020-11-05", "bm_clonality", "clonal"))
    a, p, _ = derive(labs)
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "PR", "PR", False, ""),
        ("2020-07-01", "off_treatment", "VGPR", "PR", False, ""),
        ("2020-09-01", "maintenance", "VGPR", "VGPR", False, ""),
        ("2020-11-01", "maintenance", "CR", "VGPR", False, ""),
        ("2021-01-01", "maintenance", "CR", "CR", False, ""),
    ])
    assert list(p["followed"]) == ["serum"]
    assert (a["basis"] == "serum").all()


def test_scr_needs_normal_ratio_and_polyclonal_marrow():
    """sCR = CR + normal FLC ratio (0.26-1.65 inclusive) + polyclonal qualifying marrow."""
    _, labs = serum_series([3.0, 0.0, 0.0, 0.0], [None, "negative", "negative", "negative"])
    labs += [("A", "2020-03-01", "bm_plasma_cells", 1.0), ("A", "2020-03-01", "bm_clonality", "polyclonal"),
             ("A", "2020-03-01", "flc_kappa", 16.5), ("A", "2020-03-01", "flc_lambda", 10.0),  # ratio 1.65: normal
             ("A", "2020-05-01", "flc_kappa", 17.0), ("A", "2020-05-01", "flc_lambda", 10.0)]  # 1.70: abnormal
    a, _, _ = derive(labs)
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "sCR", None, False, ""),
        ("2020-05-01", "induction", "CR", "CR", False, ""),
        ("2020-07-01", "off_treatment", "CR", "CR", False, ""),  # no FLC at the assessment: CR
    ])


def test_cr_blocked_by_marrow_with_5_percent():
    """A marrow with >= 5% plasma cells (5 exactly included) does not qualify: VGPR."""
    _, labs = serum_series([3.0, 0.0], [None, "negative"])
    labs.append(("A", "2020-03-02", "bm_plasma_cells", 5.0))
    a, _, _ = derive(labs)
    assert list(a["response"]) == [None, "VGPR"]


def test_pd_needs_a_confirmed_nadir_not_a_single_low_value():
    """A single low value (0.2) does not lower the nadir: 1.0 then 1.1 are not PD; two lows do."""
    _, labs = serum_series([3.0, 1.0, 0.2, 1.0, 1.1])
    a, _, _ = derive(labs)
    assert list(a["response"])[1:] == ["PR", "VGPR", "PR", "PR"]
    assert list(a["nadir_serum"])[1:] == [3.0, 3.0, 1.0, 1.0]
    _, labs = serum_series([3.0, 1.0, 0.2, 0.2, 0.8, 0.9])
    a, p, _ = derive(labs)
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "VGPR", "PR", False, ""),
        ("2020-07-01", "off_treatment", "VGPR", "VGPR", False, ""),
        ("2020-09-01", "maintenance", "PD", None, True, "serum M-protein rise"),
        ("2020-11-01", "maintenance", "PD", None, False, "serum M-protein rise"),
    ])
    assert p["derived_progression_date"].iloc[0] == pd.Timestamp("2020-09-01")


def test_high_nadir_rule_one_gram_suffices():
    """Nadir >= 5 g/dL: a rise of 1 g/dL alone is PD (6.9 is not; 7.0 exactly is)."""
    _, labs = serum_series([8.0, 6.0, 6.0, 6.9, 7.0])
    a, _, _ = derive(labs)
    assert list(a["response"])[1:] == ["MR", "MR", "SD", "PD"]
    assert list(a["nadir_serum"])[1:] == [8.0, 8.0, 6.0, 6.0]


def test_urine_only_disease_response_ne_and_pd():
    """Urine followed: PR < 200 mg/24h, VGPR < 100; missing urine is NE; PD >= 1.25 x nadir and + 200."""
    labs = [("A", "2020-01-05", "urine_m_protein", 800), ("A", "2020-01-05", "serum_m_protein", 0.5),
            ("A", "2020-03-01", "urine_m_protein", 300), ("A", "2020-05-01", "urine_m_protein", 150),
            ("A", "2020-06-01", "serum_m_protein", 0.2),
            ("A", "2020-07-01", "urine_m_protein", 60), ("A", "2020-09-01", "urine_m_protein", 60),
            ("A", "2020-11-01", "urine_m_protein", 259), ("A", "2021-01-01", "urine_m_protein", 260),
            ("A", "2021-03-01", "urine_m_protein", 300)]
    a, p, _ = derive(labs)
    assert list(p["followed"]) == ["urine"]
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "MR", None, False, ""),
        ("2020-05-01", "induction", "PR", "MR", False, ""),
        ("2020-06-01", "induction", "NE", None, False, "urine missing"),
        ("2020-07-01", "off_treatment", "VGPR", "PR", False, ""),
        ("2020-09-01", "maintenance", "VGPR", "VGPR", False, ""),
        ("2020-11-01", "maintenance", "MR", "MR", False, ""),            # 259: not PD, MR vs baseline
        ("2021-01-01", "maintenance", "PD", None, True, "urine M-protein rise"),
        ("2021-03-01", "maintenance", "PD", None, False, "urine M-protein rise"),
    ])


def test_light_chain_only_disease_through_dflc():
    """dFLC followed when neither serum nor urine is: PR <= 50%, VGPR <= 10%, CR needs a normal ratio,
    PD needs a rise of more than 100 mg/L (exactly 100 is not)."""
    def flc(d, k, lam):
        return [("A", d, "flc_kappa", k), ("A", d, "flc_lambda", lam)]
    labs = flc("2020-01-05", 10, 500) + flc("2020-03-01", 10, 200) + flc("2020-05-01", 10, 50)
    labs += flc("2020-07-01", 10, 40) + [("A", "2020-07-01", "serum_ife", "negative"),
                                         ("A", "2020-07-01", "bm_plasma_cells", 1.0)]
    labs += flc("2020-09-01", 10, 12) + [("A", "2020-09-01", "serum_ife", "negative")]
    labs += flc("2020-11-01", 10, 12) + flc("2021-01-01", 10, 112) + flc("2021-03-01", 10, 113)
    labs += flc("2021-05-01", 10, 150)
    a, p, _ = derive(labs, patients=[patient(heavy="none", light="lambda")])
    assert list(p["followed"]) == ["flc"]
    assert p["baseline_dflc"].iloc[0] == 490
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "VGPR", "PR", False, ""),
        ("2020-07-01", "off_treatment", "VGPR", "VGPR", False, ""),   # ratio 0.25 abnormal: no CR
        ("2020-09-01", "maintenance", "CR", "VGPR", False, ""),       # ratio 0.83, marrow within 60 days
        ("2020-11-01", "maintenance", "VGPR", "VGPR", False, ""),     # no IFE: VGPR by dFLC
        ("2021-01-01", "maintenance", "PR", "PR", False, ""),         # dFLC 102 = nadir 2 + 100: not PD
        ("2021-03-01", "maintenance", "PD", None, True, "dFLC rise"),
        ("2021-05-01", "maintenance", "PD", None, False, "dFLC rise"),
    ])


def test_marrow_only_disease():
    """Marrow followed only when nothing else is measurable: marrow-only assessments are evaluated,
    PR <= 50% (baseline >= 30%), PD >= nadir + 10 points; serologic assessments without marrow are NE."""
    labs = [("A", "2020-01-05", "bm_plasma_cells", 40.0), ("A", "2020-01-05", "serum_m_protein", 0.3),
            ("A", "2020-03-01", "bm_plasma_cells", 15.0), ("A", "2020-05-01", "bm_plasma_cells", 15.0),
            ("A", "2020-06-01", "serum_m_protein", 0.2),
            ("A", "2020-07-01", "bm_plasma_cells", 24.0), ("A", "2020-09-01", "bm_plasma_cells", 25.0),
            ("A", "2020-11-01", "bm_plasma_cells", 27.0)]
    a, p, _ = derive(labs)
    assert list(p["followed"]) == ["marrow"]
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "PR", "PR", False, ""),
        ("2020-06-01", "induction", "NE", None, False, "marrow missing"),
        ("2020-07-01", "off_treatment", "SD", "SD", False, ""),
        ("2020-09-01", "maintenance", "PD", None, True, "marrow plasma-cell rise"),
        ("2020-11-01", "maintenance", "PD", None, False, "marrow plasma-cell rise"),
    ])
    assert list(a["marrow_only"]) == [False, True, True, False, True, True, True]


def test_marrow_only_assessment_not_written_for_serum_patient():
    """For a serum-followed patient a lone marrow forms no assessment (it serves the CR rule only)."""
    _, labs = serum_series([3.0, 1.0, 1.0])
    labs.append(("A", "2020-04-01", "bm_plasma_cells", 3.0))
    a, _, _ = derive(labs)
    assert list(a["date"].dt.strftime("%m-%d")) == ["01-05", "03-01", "05-01"]


def test_unconfirmed_pd_at_last_assessment_is_listed():
    _, labs = serum_series([3.0, 0.2, 0.2, 0.8])
    a, p, issues = derive(labs)
    assert list(a["response"])[1:] == ["VGPR", "VGPR", "PD"]
    assert not a["pd_confirmed"].any()
    assert pd.isna(p["derived_progression_date"].iloc[0])
    pd_issue = issues[issues["table"] == "assessments"]
    assert len(pd_issue) == 1 and "2020-07-01" in pd_issue["message"].iloc[0]
    assert pd_issue["severity"].iloc[0] == "warning"


def test_pd_confirmed_by_death_within_120_days_only():
    _, labs = serum_series([3.0, 0.2, 0.2, 0.8])
    events = [("A", "2020-10-01", "death")]
    a, p, issues = derive(labs, events=events)
    assert list(a["pd_confirmed"]) == [False, False, False, True]
    assert p["derived_progression_date"].iloc[0] == pd.Timestamp("2020-07-01")
    assert issues[issues["table"] == "assessments"].empty
    a, p, _ = derive(labs, events=[("A", "2020-11-29", "death")])  # 151 days later
    assert not a["pd_confirmed"].any()


def test_pd_confirmed_by_later_line():
    _, labs = serum_series([3.0, 0.2, 0.2, 0.8])
    treat = TREAT + [("A", "later_line", "DPd", "2020-08-01", None)]
    a, p, _ = derive(labs, treatments=treat)
    assert list(a["pd_confirmed"]) == [False, False, False, True]


def test_new_lesion_and_plasmacytoma_growth_need_no_confirmation():
    """New lesion: PD at once. Plasmacytoma: PR needs a 50% shrink, MR 25%; SPD >= 1.5 x the lowest
    earlier SPD, or > 0 after a 0, is PD."""
    _, labs = serum_series([3.0, 1.0, 1.0, 1.0])
    labs.append(("A", "2020-05-02", "new_lesion", "yes"))
    a, p, _ = derive(labs)
    assert list(a["response"])[1:] == ["PR", "PD", "PR"]
    assert list(a["pd_confirmed"]) == [False, False, True, False]
    assert list(a["note"])[2] == "new lesion"
    assert list(a["pd_lesion"]) == [False, False, True, False]  # the alerts date a lesion PD at once

    _, labs = serum_series([3.0, 1.2, 1.2, 1.2, 1.2])
    labs += [("A", "2020-01-05", "plasmacytoma_spd", 10.0), ("A", "2020-03-01", "plasmacytoma_spd", 7.0),
             ("A", "2020-05-01", "plasmacytoma_spd", 4.0), ("A", "2020-09-01", "plasmacytoma_spd", 6.0)]
    a, _, _ = derive(labs)
    # 7.0 is a 30% shrink (MR); 4.0 a 60% shrink (PR, carried to 07-01); 6.0 = 1.5 x 4.0: PD
    assert list(a["response"])[1:] == ["MR", "PR", "PR", "PD"]
    assert list(a["pd_confirmed"])[-1]
    assert list(a["note"])[-1] == "plasmacytoma growth"
    assert list(a["pd_lesion"]) == [False] * 4 + [True]

    _, labs = serum_series([3.0, 1.2, 1.2, 1.2])
    labs += [("A", "2020-03-01", "plasmacytoma_spd", 0.0), ("A", "2020-07-01", "plasmacytoma_spd", 0.5)]
    a, _, _ = derive(labs)
    assert list(a["response"])[1:] == ["PR", "PR", "PD"]


def test_ne_is_skipped_by_confirmation():
    """Serum + urine followed: urine missing is NE; confirmation pairs the evaluable ones around it."""
    labs = [("A", "2020-01-05", "serum_m_protein", 2.0), ("A", "2020-01-05", "urine_m_protein", 500),
            ("A", "2020-03-01", "serum_m_protein", 0.9), ("A", "2020-03-01", "urine_m_protein", 150),
            ("A", "2020-05-01", "serum_m_protein", 0.8),
            ("A", "2020-07-01", "serum_m_protein", 0.8), ("A", "2020-07-01", "urine_m_protein", 120)]
    a, p, _ = derive(labs)
    assert list(p["followed"]) == ["serum+urine"]
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "NE", None, False, "urine missing"),
        ("2020-07-01", "off_treatment", "PR", "PR", False, ""),
    ])
    assert list(a["evaluable"]) == [False, True, False, True]


def test_vgpr_needs_urine_below_100_when_measured():
    labs = [("A", "2020-01-05", "serum_m_protein", 3.0), ("A", "2020-03-01", "serum_m_protein", 0.2),
            ("A", "2020-03-01", "urine_m_protein", 150)]
    a, _, _ = derive(labs)
    assert list(a["response"]) == [None, "PR"]


def test_no_baseline_not_measurable():
    """No baseline: not measurable, basis blank, NE unless PD (first value as baseline) or CR."""
    labs = [("A", "2020-03-01", "serum_m_protein", 0.5), ("A", "2020-05-01", "serum_m_protein", 0.5),
            ("A", "2020-07-01", "serum_m_protein", 1.1), ("A", "2020-09-01", "serum_m_protein", 1.2)]
    a, p, issues = derive(labs)
    assert list(p["followed"]) == [""]
    assert (a["basis"] == "").all()
    check(a, [
        ("2020-03-01", "induction", "NE", None, False, "not measurable"),
        ("2020-05-01", "induction", "NE", None, False, "not measurable"),
        ("2020-07-01", "off_treatment", "PD", None, True, "serum M-protein rise"),
        ("2020-09-01", "maintenance", "PD", None, False, "serum M-protein rise"),
    ])
    nm = issues[issues["message"].str.contains("not measurable")]
    assert list(nm["patient_id"]) == ["A"] and "no baseline value" in nm["message"].iloc[0]


def test_later_line_assessments_have_no_confirmed_response():
    _, labs = serum_series([3.0, 1.4, 1.2, 0.2, 0.2])
    treat = [TREAT[0], ("A", "later_line", "DPd", "2020-07-01", None)]
    a, _, _ = derive(labs, treatments=treat)
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "PR", "PR", False, ""),
        ("2020-07-01", "later_line", "VGPR", None, False, ""),
        ("2020-09-01", "later_line", "VGPR", None, False, ""),
    ])


def test_assessment_window_grouping_and_duplicate_test():
    """Results within 7 days (inclusive) of the first ungrouped one form one assessment dated by the
    earliest; a repeated test uses the later value, with a warning."""
    labs = [("A", "2020-01-05", "serum_m_protein", 3.0),
            ("A", "2020-03-01", "serum_m_protein", 2.0), ("A", "2020-03-05", "serum_m_protein", 1.4),
            ("A", "2020-03-08", "serum_ife", "positive"),
            ("A", "2020-03-09", "serum_m_protein", 1.3)]
    a, _, issues = derive(labs)
    assert list(a["date"].dt.strftime("%m-%d")) == ["01-05", "03-01", "03-09"]
    assert list(a["serum"]) == [3.0, 1.4, 1.3]
    assert list(a["response"]) == [None, "PR", "PR"]
    dup = issues[issues["table"] == "labs"]
    assert list(dup["row"]) == [3] and dup["severity"].iloc[0] == "warning"


def test_qualifying_marrow_chain():
    """A < 5% marrow qualifies beyond its 60-day window while IFE stays negative (IFE not done does not
    break it); a positive IFE ends the chain."""
    dates, labs = serum_series([3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                               [None, "negative", "negative", "negative", None, "negative", "positive", "negative"])
    labs.append(("A", "2020-03-10", "bm_plasma_cells", 2.0))
    a, _, _ = derive(labs)
    assert list(a["marrow_qualifies"])[1:] == [True, True, True, True, True, False, False]
    assert list(a["response"])[1:] == ["CR", "CR", "CR", "VGPR", "CR", "VGPR", "VGPR"]


def test_high_marrow_ends_the_chain():
    _, labs = serum_series([3.0, 0.0, 0.0, 0.0, 0.0], [None, "negative", "negative", "negative", "negative"])
    labs += [("A", "2020-03-10", "bm_plasma_cells", 2.0), ("A", "2020-07-20", "bm_plasma_cells", 8.0)]
    a, _, _ = derive(labs)
    # 07-20 marrow (8%) is within 7 days of no assessment; it ends the chain for 09-01 onward
    assert list(a["response"])[1:] == ["CR", "CR", "CR", "VGPR"]


def test_ratio_and_dflc_values_carried():
    labs = [("A", "2020-01-05", "serum_m_protein", 3.0), ("A", "2020-01-05", "flc_kappa", 40.0),
            ("A", "2020-01-05", "flc_lambda", 10.0)]
    a, _, _ = derive(labs)
    assert a["dflc"].iloc[0] == 30.0 and a["flc_ratio"].iloc[0] == 4.0
    assert np.isnan(a["urine"].iloc[0])


def test_most_recent_qualifying_marrow_gives_clonality():
    """Two < 5% marrows in reach: the later (polyclonal) one decides sCR."""
    _, labs = serum_series([3.0, 0.0, 0.0], [None, "negative", "negative"])
    labs += [("A", "2020-05-01", "flc_kappa", 10.0), ("A", "2020-05-01", "flc_lambda", 10.0),
             ("A", "2020-03-20", "bm_plasma_cells", 2.0), ("A", "2020-03-20", "bm_clonality", "clonal"),
             ("A", "2020-06-10", "bm_plasma_cells", 1.0), ("A", "2020-06-10", "bm_clonality", "polyclonal")]
    a, _, _ = derive(labs)
    assert list(a["response"]) == [None, "CR", "sCR"]
    labs = [t for t in labs if t[1] != "2020-06-10"]
    a, _, _ = derive(labs)
    assert list(a["response"]) == [None, "CR", "CR"]


def test_high_marrow_between_cancels_window_qualification():
    """A >= 5% marrow after a < 5% one and before the assessment: the earlier one no longer qualifies."""
    _, labs = serum_series([3.0, 0.0, 0.0], [None, "negative", "negative"])
    labs += [("A", "2020-04-10", "bm_plasma_cells", 2.0), ("A", "2020-04-20", "bm_plasma_cells", 12.0)]
    a, _, _ = derive(labs)
    assert list(a["marrow_qualifies"]) == [False, True, False]
    assert list(a["response"]) == [None, "CR", "VGPR"]


def test_urine_progression_counts_when_serum_is_followed():
    """IMWG 2016 applies the urine PD criterion to any patient with values: followed by serum, urine
    climbing from a confirmed nadir of 40 to 300 mg/24h (>= 1.25 x 40 and >= 40 + 200) is PD at that
    assessment, confirmed by the next one."""
    dates, labs = serum_series([3.0, 1.4, 1.2, 1.2, 1.2])
    labs += [("A", d, "urine_m_protein", u) for d, u in zip(dates, [40, 40, 40, 300, 320])]
    a, p, _ = derive(labs)
    assert list(p["followed"]) == ["serum"]  # urine 40 mg/24h at baseline is not measurable
    check(a, [
        ("2020-01-05", "pre_treatment", None, None, False, ""),
        ("2020-03-01", "induction", "PR", None, False, ""),
        ("2020-05-01", "induction", "PR", "PR", False, ""),
        ("2020-07-01", "off_treatment", "PD", None, True, "urine M-protein rise"),
        ("2020-09-01", "maintenance", "PD", None, False, "urine M-protein rise"),
    ])
    assert p["derived_progression_date"].iloc[0] == pd.Timestamp("2020-07-01")


def test_serum_progression_counts_when_urine_is_followed():
    """The mirror case: followed by urine, a serum M-protein of 0.3 g/dL at baseline rising to 1.0
    (>= 1.25 x 0.3 and >= 0.3 + 0.5) is PD."""
    dates = ["2020-01-05", "2020-03-01", "2020-05-01", "2020-07-01", "2020-09-01"]
    labs = [("A", d, "urine_m_protein", u) for d, u in zip(dates, [900, 300, 250, 250, 250])]
    labs += [("A", d, "serum_m_protein", s) for d, s in zip(dates, [0.3, 0.3, 0.3, 1.0, 1.1])]
    a, p, _ = derive(labs)
    assert list(p["followed"]) == ["urine"]
    got = a.set_index("date")
    assert got.loc["2020-07-01", "response"] == "PD" and got.loc["2020-07-01", "note"] == "serum M-protein rise"


def test_a_test_repeated_within_one_assessment_is_superseded_by_the_later_value():
    """Section 1: two serum values 3 days apart form one assessment, the later one used; the earlier
    is listed (LAB_SUPERSEDED, its row); the same for two marrow samples. Two values of one day (a
    conflict the validator stops; here the cohort is built directly): the later row wins, whatever
    the order of the table's rows."""
    _, labs = serum_series([3.0, 1.4, 1.2])
    labs = [("A", "2020-03-04", "serum_m_protein", 1.0), ("A", "2020-07-03", "bm_plasma_cells", 3.0)] + labs
    labs += [("A", "2020-07-01", "bm_plasma_cells", 9.0), ("A", "2020-05-01", "serum_m_protein", 0.9)]
    c = make_cohort(patients=[patient()], treatments=TREAT, labs=labs,
                    events=(("A", "2023-01-01", "last_contact"),))
    anchors, _ = patient_anchors(c)
    a, _, issues = derive_assessments(c, anchors, CFG)
    sup = issues[issues["code"] == "LAB_SUPERSEDED"].sort_values("row")
    # rows: the builder numbers them from 2 in list order; 03-01 (row 5), 05-01's first value (row 6)
    # and the 07-01 marrow (row 7) lose
    assert sup["row"].tolist() == [5, 6, 7]
    assert sup["value"].tolist() == ["serum_m_protein", "serum_m_protein", "bm_plasma_cells"]
    by_date = a.set_index("date")["serum"]
    assert by_date[pd.Timestamp("2020-03-01")] == 1.0  # the later value (03-04), dated by the first result
    assert by_date[pd.Timestamp("2020-05-01")] == 0.9  # the later row of the same day
    # the labs table in another order (rows not increasing): the same assessments and lines
    shuffled = dataclasses.replace(c, labs=c.labs.iloc[[6, 3, 0, 5, 2, 1, 4]].reset_index(drop=True))
    a2, _, issues2 = derive_assessments(shuffled, anchors, CFG)
    pd.testing.assert_frame_equal(a2, a)
    pd.testing.assert_frame_equal(issues2.sort_values("row").reset_index(drop=True),
                                  issues.sort_values("row").reset_index(drop=True))
