"""Building blocks of the response engine: window grouping, nadir, comparisons, edge cohorts."""

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.response.assessments import window_group_ids
from mrdtrack.response.levels import ge, gt, le, lt
from mrdtrack.response.nadir import confirmed_nadir
from test_response_vignettes import derive, patient


def test_window_groups_are_greedy_from_first_ungrouped_result():
    pcode = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1])
    day = np.array([0, 3, 7, 8, 14, 15, 16, 7, 8])
    assert list(window_group_ids(pcode, day, 7)) == [0, 0, 0, 1, 1, 1, 2, 3, 3]
    assert list(window_group_ids(pcode[:0], day[:0], 7)) == []


def test_confirmed_nadir_pairs_and_skips_missing():
    nan = np.nan
    pcode = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
    value = np.array([3.0, 1.0, 0.2, nan, 1.0, 0.5, 2.0, 1.0, 1.0])
    base = np.array([3.0] * 6 + [nan] * 3)
    seq = np.array([False, True, True, True, True, True, True, True, True])
    got = confirmed_nadir(pcode, value, base, seq)
    # patient 0: pairs (1.0, 0.2) -> 1.0 ends at row 2; (0.2, 1.0) -> 1.0 ends at row 4
    # patient 1: no baseline, the first value 2.0 takes its place; pair (2.0, 1.0) -> 2.0
    np.testing.assert_array_equal(got, [3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0])


def test_tolerant_comparisons():
    assert ge(np.array([0.3 * 3]), 0.9, 1e-9)[0] and le(np.array([0.1 + 0.2]), 0.3, 1e-9)[0]
    assert not lt(np.array([100.0]), 100.0, 1e-9)[0] and not gt(np.array([102.0]), 102.0, 1e-9)[0]
    assert not ge(np.array([np.nan]), 1.0, 1e-9)[0]


def test_patient_without_labs_and_patient_with_only_marrow():
    a, p, issues = derive([("A", "2020-03-01", "bm_plasma_cells", 3.0)],
                          patients=[patient("A"), patient("B")],
                          treatments=[("A", "induction", "VRD", "2020-01-10", None)])
    assert a.empty
    assert list(p["patient_id"]) == ["A", "B"] and list(p["followed"]) == ["", ""]
    assert p["derived_progression_date"].isna().all()
    assert set(issues["patient_id"]) == {"A", "B"}
    b = issues.set_index("patient_id")["message"]
    assert b["B"].startswith("no treatment recorded")


def test_config_thresholds_are_used():
    """Changing a Config field changes the result (no threshold is hard-coded)."""
    labs = [("A", "2020-01-05", "serum_m_protein", 3.0), ("A", "2020-03-01", "serum_m_protein", 1.6)]
    assert list(derive(labs)[0]["response"]) == [None, "MR"]
    cfg = Config(pr_serum_fraction=0.6)
    assert list(derive(labs, config=cfg)[0]["response"]) == [None, "PR"]
    cfg = Config(measurable_serum_g_dl=3.5)
    assert list(derive(labs, config=cfg)[0]["response"]) == [None, "NE"]


def test_output_columns_and_order():
    labs = [("B", "2020-01-05", "serum_m_protein", 3.0), ("A", "2020-03-01", "serum_m_protein", 1.6),
            ("A", "2020-01-05", "serum_m_protein", 3.0)]
    treat = [(p, "induction", "VRD", "2020-01-10", None) for p in "AB"]
    a, p, _ = derive(labs, patients=[patient("B"), patient("A")], treatments=treat)
    assert list(a.columns[:8]) == ["patient_id", "date", "phase", "response", "confirmed_response", "pd_confirmed",
                                   "basis", "note"]
    assert list(a["patient_id"]) == ["A", "A", "B"]
    assert a["pd_confirmed"].dtype == bool and a["evaluable"].dtype == bool and a["meets_pd"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(a["date"])
    assert list(p.columns[:3]) == ["patient_id", "followed", "derived_progression_date"]
