"""Wilson intervals, the maintenance cohort and the headline MRD figures (docs/mrd.md section 4)."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from builders import make_cohort
from mrd_vignettes import anchors_of, ngf
from mrdtrack.config import Config, make_config
from mrdtrack.mrd import derive_mrd, in_maintenance_cohort, mrd_cohort_figures
from mrdtrack.stats.proportions import share, wilson_interval


@pytest.mark.parametrize("k, n", [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (48, 139), (53, 139), (1, 1000)])
@pytest.mark.parametrize("conf", [0.95, 0.9, 0.99])
def test_wilson_matches_statsmodels(k, n, conf):
    low, high = wilson_interval(k, n, conf)
    exp_low, exp_high = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    assert low == pytest.approx(exp_low, abs=1e-12) and high == pytest.approx(exp_high, abs=1e-12)


def test_wilson_vectorised_and_zero_denominator():
    low, high = wilson_interval(np.array([1, 5]), np.array([4, 0]))
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert low[0] == pytest.approx(proportion_confint(1, 4, method="wilson")[0])
    assert share(0, 0) == {"numerator": 0, "denominator": 0, "value": None, "ci_low": None, "ci_high": None}


def _patients_table():
    nb = pd.array
    return pd.DataFrame({
        "patient_id": ["A", "B", "C", "D", "E", "F"],
        "in_maintenance_cohort": [True, True, True, True, True, False],
        "deepest_during_maintenance": nb([True, False, None, True, False, True], dtype="boolean"),
        "mrd_converted": nb([True, False, False, None, None, True], dtype="boolean"),
        "mrd_ever_negative": nb([True, True, False, True, None, True], dtype="boolean"),
        "first_negative_date": pd.to_datetime(["2021-01-01", "2020-06-01", None, "2020-01-01", None, "2020-01-01"]),
        "progression_date": pd.to_datetime(["2022-01-01", None, "2021-01-01", None, None, "2021-01-01"]),
    })


def test_cohort_figures_counts_only_maintenance_cohort():
    f = mrd_cohort_figures(_patients_table(), Config())
    assert (f["deepest_during_maintenance"]["numerator"], f["deepest_during_maintenance"]["denominator"]) == (2, 4)
    assert (f["mrd_conversion"]["numerator"], f["mrd_conversion"]["denominator"]) == (1, 3)
    assert (f["progressed_after_mrd_negative"]["numerator"], f["progressed_after_mrd_negative"]["denominator"]) == (1, 3)
    d = f["mrd_conversion"]
    assert d["value"] == pytest.approx(1 / 3)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx(proportion_confint(1, 3, method="wilson"))
    empty = mrd_cohort_figures(_patients_table().assign(in_maintenance_cohort=False), Config())
    assert empty["mrd_conversion"]["value"] is None and empty["mrd_conversion"]["denominator"] == 0


def test_maintenance_cohort_membership_and_issues():
    c = make_cohort(
        patients=[(p, "2019-01-01") for p in "ABCDE"],
        treatments=[("A", "maintenance", "R", "2020-01-01", None), ("B", "maintenance", "R", "2020-01-01", None),
                    ("C", "maintenance", "R", "2020-01-01", None), ("D", "induction", "VRD", "2019-02-01", None),
                    ("E", "maintenance", "R", "2020-01-01", None), ("E", "later_line", "DPd", "2019-12-01", None)],
        events=[("B", "2019-12-01", "progression"), ("C", "2020-01-01", "death")])
    a = anchors_of(c, {"B": "2019-12-01"})
    member, issues = in_maintenance_cohort(a)
    assert list(member) == [True, False, True, False, False]  # death on the start day is not before it
    assert list(issues["patient_id"]) == ["B", "D", "E"]
    assert (issues["severity"] == "excluded").all()


def test_threshold_changes_figures():
    """At T=1e-5 an entry-positive patient at 3e-5 who stays around 5e-5 has not converted; at
    T=1e-4 (alonso2020) the entry is already negative and conversion no longer applies."""
    rows = [ngf("2019-12-01", 3e-3, pid="A"), ngf("2021-01-01", 5e-5, pid="A"),
            ngf("2019-12-01", 3e-3, pid="B"), ngf("2021-01-01", pid="B"),
            ngf("2019-12-01", 3e-5, pid="C"), ngf("2021-01-01", 5e-5, pid="C")]
    c = make_cohort(patients=[(p, "2019-01-01") for p in "ABC"],
                    treatments=[(p, "maintenance", "R", "2020-01-01", None) for p in "ABC"],
                    mrd=rows, events=[(p, "2023-01-01", "last_contact") for p in "ABC"])
    a = anchors_of(c)

    def figures(cfg):
        _, p, _ = derive_mrd(c, a, cfg)
        p = p.assign(in_maintenance_cohort=True, deepest_during_maintenance=pd.array([None] * 3, dtype="boolean"),
                     progression_date=pd.NaT)
        return mrd_cohort_figures(p, cfg)["mrd_conversion"]

    f5 = figures(Config())
    assert (f5["numerator"], f5["denominator"]) == (1, 3)
    f4 = figures(make_config("alonso2020"))
    assert (f4["numerator"], f4["denominator"]) == (2, 2)
