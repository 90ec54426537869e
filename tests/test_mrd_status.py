"""Sample status at T, censored log10 level and the mrd.csv table (docs/mrd.md section 1; docs/cli.md)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrd_vignettes import anchors_of, cohort_of, ngf, run
from mrdtrack.config import Config, make_config
from mrdtrack.mrd import SAMPLE_COLUMNS, derive_mrd, mrd_status_at_threshold


def _status(rows, t=1e-5):
    df = pd.DataFrame(rows, columns=["result", "level", "lod"])
    return list(mrd_status_at_threshold(df, t))


def test_detected_below_threshold_is_negative():
    assert _status([("detected", 5e-6, 1e-6)]) == ["negative"]


def test_detected_at_or_above_threshold_is_positive():
    assert _status([("detected", 1e-5, 1e-6), ("detected", 3e-4, 1e-5)]) == ["positive", "positive"]


def test_not_detected_with_lod_above_threshold_is_not_evaluable():
    assert _status([("not_detected", np.nan, 1e-4), ("not_detected", np.nan, 1e-5)]) == ["not_evaluable", "negative"]


def test_detected_without_level_is_not_evaluable():
    assert _status([("detected", np.nan, 1e-5)]) == ["not_evaluable"]


def test_threshold_change_changes_status():
    rows = [("detected", 5e-5, 1e-5), ("not_detected", np.nan, 1e-4)]
    assert _status(rows, 1e-5) == ["positive", "not_evaluable"]
    assert _status(rows, make_config("alonso2020").mrd_threshold) == ["negative", "negative"]


def test_sample_table_columns_censoring_phase_and_order():
    mrd = [ngf("2021-06-01"), ngf("2019-12-01", 2e-3), ngf("2020-06-01", 4e-6, lod=1e-6, method="NGS")]
    samples, _, _ = run(mrd)
    assert list(samples.columns) == SAMPLE_COLUMNS
    assert list(samples["date"].dt.strftime("%Y-%m-%d")) == ["2019-12-01", "2020-06-01", "2021-06-01"]
    assert list(samples["phase"]) == ["off_treatment", "maintenance", "maintenance"]
    assert list(samples["censored"]) == [False, False, True]
    np.testing.assert_allclose(samples["log10_level"], [np.log10(2e-3), np.log10(4e-6), -5.0])
    assert list(samples["status"]) == ["positive", "negative", "negative"]


def test_result_independent_of_row_order_and_of_other_patients():
    rows = [ngf("2019-12-01", 2e-3), ngf("2020-09-01", 1e-4), ngf("2021-06-01"), ngf("2022-06-01", 3e-5),
            ngf("2019-12-01", 5e-4, pid="Q"), ngf("2021-01-01", pid="Q"), ngf("2021-01-01", 2e-5, pid="Q")]
    c1 = cohort_of(rows, extra_patients=["Q"])
    c2 = cohort_of(rows[::-1], extra_patients=["Q"])
    s1, p1, _ = derive_mrd(c1, anchors_of(c1), Config())
    s2, p2, _ = derive_mrd(c2, anchors_of(c2), Config())
    pd.testing.assert_frame_equal(s1, s2)
    pd.testing.assert_frame_equal(p1, p2)
    c3 = cohort_of(rows[:4])
    _, p3, _ = derive_mrd(c3, anchors_of(c3), Config())
    pd.testing.assert_frame_equal(p1.iloc[[0]].reset_index(drop=True), p3)


def test_cohort_without_mrd_samples():
    c = cohort_of([])
    samples, patients, issues = derive_mrd(c, anchors_of(c), Config())
    assert list(samples.columns) == SAMPLE_COLUMNS and samples.empty
    assert list(patients["mrd_samples"]) == [0] and list(patients["mrd_kinetics"]) == ["not_evaluable"]
    assert issues.empty


def test_anchors_need_progression_date():
    c = cohort_of([ngf("2020-01-01")])
    a = anchors_of(c).drop(columns="progression_date")
    with pytest.raises(ValueError, match="progression_date"):
        derive_mrd(c, a, Config())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(-7, -2), st.floats(-7, -2)), min_size=1, max_size=20),
       st.floats(-6, -3), st.floats(0, 2))
def test_raising_threshold_only_moves_towards_negative(rows, log_t, log_step):
    """Property (docs/mrd.md section 1): at a higher T a positive sample may become negative and a not
    evaluable one evaluable, never the reverse."""
    df = pd.DataFrame({"result": ["detected" if d else "not_detected" for d, _, _ in rows],
                       "level": [10**lv if d else np.nan for d, lv, _ in rows],
                       "lod": [10**lo for _, _, lo in rows]})
    low = mrd_status_at_threshold(df, 10**log_t)
    high = mrd_status_at_threshold(df, 10 ** (log_t + log_step))
    assert not ((low == "negative") & (high != "negative")).any()
    assert not ((high == "positive") & (low != "positive")).any()
    assert not ((high == "not_evaluable") & (low != "not_evaluable")).any()
