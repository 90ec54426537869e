"""Per-patient summaries (docs/response-rules.md sections 4, 6) and recorded responses (section 7)."""

import pandas as pd

from builders import make_cohort
from mrdtrack.mrd.status import mrd_status_at_threshold
from mrdtrack.outcomes.progression import analysis_progression
from mrdtrack.response import derive_assessments, recorded_response_issues, summarise_responses
from mrdtrack.timeline import patient_anchors
from test_response_vignettes import CFG, TREAT, patient, serum_series


def summarise(labs, mrd=(), treatments=TREAT, patients=None, events=(("A", "2023-01-01", "last_contact"),),
              responses=()):
    c = make_cohort(patients=patients or [patient()], treatments=treatments, labs=labs, mrd=mrd, events=events,
                    responses=responses)
    anchors, _ = patient_anchors(c)
    a, rp, _ = derive_assessments(c, anchors, CFG)
    prog = analysis_progression(rp.set_index("patient_id")["derived_progression_date"],
                                anchors.set_index("patient_id")["recorded_progression_date"],
                                CFG.progression_policy, CFG.progression_agreement_days)
    anchors = anchors.merge(prog.reset_index(), on="patient_id")
    samples = c.mrd.assign(status=mrd_status_at_threshold(c.mrd, CFG.mrd_threshold, CFG.relative_tolerance))
    return summarise_responses(a, rp, samples, anchors, CFG).set_index("patient_id"), a, c


def _cr_labs():
    """PR 03-01, PR 05-01, VGPR 07-01 and 09-01, CR (marrow 2%) 11-01 and 2021-01-01."""
    _, labs = serum_series([3.0, 1.4, 1.2, 0.2, 0.2, 0.0, 0.0],
                           [None, None, None, None, None, "negative", "negative"])
    return labs + [("A", "2020-11-05", "bm_plasma_cells", 2.0)]


def _neg(date):
    return ("A", date, "NGF", 2e-6, "not_detected", None)


def test_best_at_maintenance_start_and_deepest():
    s, _, _ = summarise(_cr_labs())
    row = s.loc["A"]
    assert row["response_at_maintenance_start"] == "VGPR"  # pair (07-01, 09-01) ends on maintenance start
    assert row["best_response"] == "CR"
    assert row["deepest_response"] == "CR"
    assert row["deepest_response_date"] == pd.Timestamp("2020-11-01")  # first of the confirming pair
    assert row["deepest_during_maintenance"] is True or row["deepest_during_maintenance"] == True  # noqa: E712


def test_mrd_negative_cr_within_90_days_before_cr():
    s, _, _ = summarise(_cr_labs(), mrd=[_neg("2020-08-03")])  # exactly 90 days before CR (11-01)
    assert s.loc["A", "deepest_response"] == "MRD-negative CR"
    assert s.loc["A", "deepest_response_date"] == pd.Timestamp("2020-11-01")
    assert s.loc["A", "best_response"] == "CR"
    s, _, _ = summarise(_cr_labs(), mrd=[_neg("2020-08-02")])  # 91 days before: too early
    assert s.loc["A", "deepest_response"] == "CR"
    s, _, _ = summarise(_cr_labs(), mrd=[_neg("2020-08-02"), _neg("2021-03-01")])
    assert s.loc["A", "deepest_response"] == "MRD-negative CR"
    assert s.loc["A", "deepest_response_date"] == pd.Timestamp("2021-03-01")
    positive = ("A", "2021-03-01", "NGF", 2e-6, "detected", 1e-3)
    s, _, _ = summarise(_cr_labs(), mrd=[positive])
    assert s.loc["A", "deepest_response"] == "CR"


def test_mrd_sample_after_progression_does_not_count():
    s, _, _ = summarise(_cr_labs(), mrd=[_neg("2021-03-01")],
                        events=[("A", "2021-02-01", "progression"), ("A", "2023-01-01", "last_contact")])
    assert s.loc["A", "deepest_response"] == "CR"


def test_deepest_before_maintenance_is_false_and_no_maintenance_is_na():
    _, labs = serum_series([3.0, 0.2, 0.2, 0.2, 0.25])
    s, _, _ = summarise(labs)
    assert s.loc["A", "deepest_response"] == "VGPR"
    assert s.loc["A", "deepest_response_date"] == pd.Timestamp("2020-03-01")
    assert s.loc["A", "deepest_during_maintenance"] == False  # noqa: E712
    s, _, _ = summarise(labs, treatments=TREAT[:1])
    assert pd.isna(s.loc["A", "deepest_during_maintenance"])
    assert pd.isna(s.loc["A", "response_at_maintenance_start"])
    assert s.loc["A", "best_response"] == "VGPR"


def test_no_confirmed_response_gives_blanks():
    _, labs = serum_series([3.0, 1.4])
    s, _, _ = summarise(labs)
    row = s.loc["A"]
    assert pd.isna(row["best_response"]) and pd.isna(row["deepest_response"])
    assert pd.isna(row["deepest_response_date"]) and pd.isna(row["deepest_during_maintenance"])


def test_best_response_ignores_later_line_and_progression():
    _, labs = serum_series([3.0, 1.4, 1.2, 0.2, 0.2, 0.2])
    s, _, _ = summarise(labs, treatments=[TREAT[0], ("A", "later_line", "DPd", "2020-07-01", None)])
    assert s.loc["A", "best_response"] == "PR"
    s, _, _ = summarise(labs, events=[("A", "2020-07-01", "progression"), ("A", "2023-01-01", "last_contact")])
    # pair (07-01, 09-01) is dated 07-01: not before the progression date
    assert s.loc["A", "best_response"] == "PR"
    s, _, _ = summarise(labs)
    assert s.loc["A", "best_response"] == "VGPR"


def test_recorded_response_disagreement_is_listed_with_values():
    _, labs = serum_series([3.0, 1.4, 1.2, 0.2])
    responses = [("A", "2020-05-03", "VGPR"), ("A", "2020-03-01", "PR"), ("A", "2020-08-20", "CR")]
    _, a, c = summarise(labs, responses=responses)
    issues = recorded_response_issues(c, a, CFG)
    assert len(issues) == 2
    first = issues[issues["row"] == 2].iloc[0]
    assert first["severity"] == "warning" and first["table"] == "responses" and first["value"] == "VGPR"
    assert "recorded VGPR" in first["message"] and "derived PR" in first["message"]
    assert "serum M-protein 1.2 g/dL" in first["message"] and "2020-05-01" in first["message"]
    far = issues[issues["row"] == 4].iloc[0]
    assert "no derived assessment within 7 days" in far["message"]


def test_recorded_nearest_assessment_tie_takes_earlier():
    _, labs = serum_series([3.0, 1.4, 1.2])
    labs.append(("A", "2020-03-11", "serum_m_protein", 0.2))
    _, a, c = summarise(labs, responses=[("A", "2020-03-06", "VGPR")])
    # 03-06 is 5 days from both 03-01 (PR) and 03-11 (VGPR): compared with 03-01
    issues = recorded_response_issues(c, a, CFG)
    assert len(issues) == 1 and "derived PR" in issues["message"].iloc[0]


def test_recorded_responses_that_agree_give_no_lines():
    _, labs = serum_series([3.0, 1.4, 1.2])
    _, a, c = summarise(labs, responses=[("A", "2020-03-01", "PR"), ("A", "2020-03-03", "PR")])
    issues = recorded_response_issues(c, a, CFG)
    assert issues.empty and list(issues.columns) == list(recorded_response_issues(c, a.iloc[:0], CFG).columns)
