"""Endpoints per patient (docs/outcomes.md section 1): hand-worked vignettes."""

import pandas as pd
import pytest

from mrdtrack.config import make_config
from mrdtrack.outcomes.endpoints import derive_endpoints, maintenance_cohort, progression_discrepancy_issues
from mrdtrack.outcomes.progression import analysis_progression

T = pd.Timestamp


def _anchors(rows):
    cols = ["patient_id", "diagnosis_date", "maintenance_start", "progression_date", "death_date",
            "later_line_start", "end_of_followup", "recorded_progression_date"]
    df = pd.DataFrame(rows, columns=cols)
    for c in cols[1:]:
        df[c] = pd.to_datetime(df[c])
    return df


def test_pfs_os_from_maintenance_and_diagnosis():
    a = _anchors([
        # progression then death: PFS event at progression, OS event at death
        ("A", "2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01", None, "2023-01-01", None),
        # nothing: censored at end of follow-up
        ("B", "2020-01-01", "2021-01-01", None, None, None, "2022-07-02", None),
        # death without progression: PFS event at death
        ("C", "2020-01-01", "2021-01-01", None, "2021-04-01", None, "2021-04-01", None),
    ])
    out, issues = derive_endpoints(a, make_config())
    out = out.set_index("patient_id")
    assert out.loc["A", "pfs_days"] == 365 and bool(out.loc["A", "pfs_event"])
    assert out.loc["A", "os_days"] == 730 and bool(out.loc["A", "os_event"])
    assert out.loc["A", "pfs_dx_days"] == 731  # 2020 is a leap year
    assert out.loc["A", "pfs_months"] == pytest.approx(365 / 30.4375)
    assert out.loc["B", "pfs_days"] == 547 and not bool(out.loc["B", "pfs_event"])
    assert out.loc["C", "pfs_days"] == 90 and bool(out.loc["C", "pfs_event"])
    assert issues.empty


def test_outside_maintenance_cohort_is_blank_and_listed():
    a = _anchors([
        ("D", "2020-01-01", "2021-01-01", "2020-12-01", None, None, "2022-01-01", None),  # PD before maint
        ("E", "2020-01-01", None, None, None, None, "2022-01-01", None),  # no maintenance
    ])
    out, issues = derive_endpoints(a, make_config())
    out = out.set_index("patient_id")
    assert list(maintenance_cohort(a)) == [False, False]
    assert pd.isna(out.loc["D", "pfs_days"]) and pd.isna(out.loc["E", "os_days"])
    assert out.loc["D", "pfs_dx_days"] == 335  # from diagnosis is still defined
    assert list(issues["patient_id"]) == ["D"] and issues["severity"].iloc[0] == "excluded"


@pytest.mark.parametrize("policy,expected,source", [
    ("derived", "2022-03-01", "derived"),
    ("recorded", "2022-01-01", "recorded"),
    ("earliest", "2022-01-01", "recorded"),
])
def test_progression_policy(policy, expected, source):
    idx = pd.Index(["A"])
    got = analysis_progression(pd.Series([T("2022-03-01")], index=idx), pd.Series([T("2022-01-01")], index=idx),
                               policy, 30)
    assert got.loc["A", "progression_date"] == T(expected)
    assert got.loc["A", "progression_source"] == source
    assert bool(got.loc["A", "discrepant"])


def test_progression_agreement_is_both():
    idx = pd.Index(["A", "B"])
    got = analysis_progression(pd.Series([T("2022-01-20"), pd.NaT], index=idx),
                               pd.Series([T("2022-01-01"), pd.NaT], index=idx), "earliest", 30)
    assert got.loc["A", "progression_source"] == "both" and not bool(got.loc["A", "discrepant"])
    assert got.loc["A", "progression_date"] == T("2022-01-01")
    assert got.loc["B", "progression_source"] is None and pd.isna(got.loc["B", "progression_date"])


def test_discrepancy_listed():
    a = _anchors([("A", "2020-01-01", None, None, None, None, "2023-01-01", "2022-01-01"),
                  ("B", "2020-01-01", None, None, None, None, "2023-01-01", "2022-01-01")])
    derived = pd.Series([T("2022-06-01"), T("2022-01-15")], index=pd.Index(["A", "B"], name="patient_id"))
    issues = progression_discrepancy_issues(a, derived, 30)
    assert list(issues["patient_id"]) == ["A"]
    assert "derived from labs 2022-06-01, recorded 2022-01-01" in issues["message"].iloc[0]
