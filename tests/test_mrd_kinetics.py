"""Entry sample, on-maintenance samples, kinetics classes and the per-patient columns (docs/mrd.md
sections 2-3)."""

import numpy as np
import pandas as pd
import pytest

from mrd_vignettes import MS, anchors_of, cohort_of, is_false, is_true, ngf, run
from mrdtrack.config import Config, make_config
from mrdtrack.mrd import PATIENT_COLUMNS, derive_mrd


@pytest.mark.parametrize("mrd, kinetics, trend", [
    ([ngf("2019-12-01"), ngf("2021-01-01"), ngf("2022-01-01")], "remained_negative", "negative"),
    ([ngf("2019-12-01", 1e-3), ngf("2021-01-01")], "converted_negative", "negative"),
    ([ngf("2019-12-01", 1e-3), ngf("2021-01-01"), ngf("2022-01-01", 2e-3)], "lost_negativity", "not_decreasing"),
    ([ngf("2019-12-01"), ngf("2021-01-01", 3e-5)], "lost_negativity", "not_decreasing"),
    ([ngf("2019-12-01", 1e-2), ngf("2021-01-01", 10**-2.5)], "decreasing", "decreasing"),
    ([ngf("2019-12-01", 1e-2), ngf("2021-01-01", 10**-2.49)], "stable", "not_decreasing"),
    ([ngf("2019-12-01", 1e-3), ngf("2021-01-01", 10**-2.5)], "increasing", "not_decreasing"),
    ([ngf("2019-12-01", 1e-3), ngf("2021-01-01", 1e-4), ngf("2022-01-01", 1e-3)], "stable", "not_decreasing"),
    ([ngf("2019-12-01", 1e-3)], "not_evaluable", None),
    ([ngf("2021-01-01", 1e-3), ngf("2022-01-01", 1e-3)], "not_evaluable", None),
])
def test_kinetics_classes_and_trend(mrd, kinetics, trend):
    _, p, _ = run(mrd)
    assert p["mrd_kinetics"] == kinetics
    assert p["mrd_trend"] == trend


def test_entry_window_edges():
    # 180 days before and 30 days after maintenance start are inside; 181 before and 31 after are not
    ms = pd.Timestamp(MS)
    inside = [ms - pd.Timedelta(days=180), ms + pd.Timedelta(days=30)]
    outside = [ms - pd.Timedelta(days=181), ms + pd.Timedelta(days=31)]
    for d in inside:
        _, p, _ = run([ngf(d.strftime("%Y-%m-%d"), 1e-3)])
        assert p["entry_date"] == d and p["mrd_entry_status"] == "positive"
    for d in outside:
        _, p, _ = run([ngf(d.strftime("%Y-%m-%d"), 1e-3)])
        assert pd.isna(p["entry_date"]) and p["mrd_entry_status"] == "unknown"


def test_entry_is_last_evaluable_in_window():
    # the later sample in the window is not evaluable (MFC, LOD 1e-4 > T): the earlier one is the entry
    _, p, _ = run([ngf("2019-09-01", 1e-3), ngf("2019-12-15"), ngf("2019-12-20", lod=1e-4, method="MFC"),
                   ngf("2021-01-01")])
    assert p["entry_date"] == pd.Timestamp("2019-12-15")
    assert p["mrd_entry_status"] == "negative"
    assert p["mrd_kinetics"] == "remained_negative"


def test_mixed_assays_in_one_patient():
    mrd = [ngf("2019-12-01", 2e-4, method="MFC", lod=1e-4),   # positive at 1e-5
           ngf("2020-12-01", lod=1e-4, method="MFC"),           # not evaluable at 1e-5
           ngf("2021-12-01", 4e-6, method="NGS", lod=1e-6),     # detected below T: negative
           ngf("2022-12-01", lod=1e-5, method="NGF")]           # negative
    s, p, _ = run(mrd)
    assert list(s["status"]) == ["positive", "not_evaluable", "negative", "negative"]
    assert p["mrd_kinetics"] == "converted_negative"
    assert is_true(p["mrd_converted"])
    assert p["months_to_mrd_negative"] == pytest.approx((pd.Timestamp("2021-12-01") - pd.Timestamp(MS)).days
                                                         / 30.4375)
    assert p["mrd_samples"] == 4


def test_on_maintenance_stops_at_progression_later_line_and_maintenance_end():
    mrd = [ngf("2019-12-01", 1e-3), ngf("2021-01-01", 1e-3), ngf("2022-01-01")]
    assert run(mrd)[1]["mrd_kinetics"] == "converted_negative"
    # the negative sample is after progression: not on maintenance
    assert run(mrd, progression="2021-06-01")[1]["mrd_kinetics"] == "stable"
    assert run(mrd, later_line="2021-06-01")[1]["mrd_kinetics"] == "stable"
    assert run(mrd, maintenance_end="2021-06-01")[1]["mrd_kinetics"] == "stable"
    # "no later than": a sample on the progression date still counts
    assert run(mrd, progression="2022-01-01")[1]["mrd_kinetics"] == "converted_negative"


def test_converted_and_months_blank_when_not_applicable():
    _, p, _ = run([ngf("2019-12-01"), ngf("2021-01-01")])  # entry negative
    assert pd.isna(p["mrd_converted"]) and np.isnan(p["months_to_mrd_negative"])
    _, p, _ = run([ngf("2019-12-01", 1e-3)])  # entry positive, no on-maintenance sample
    assert pd.isna(p["mrd_converted"])
    _, p, _ = run([ngf("2019-12-01", 1e-3), ngf("2021-01-01", 1e-4)])  # never negative
    assert is_false(p["mrd_converted"])
    assert np.isnan(p["months_to_mrd_negative"])


def test_patient_columns_and_types():
    c = cohort_of([ngf("2019-12-01", 1e-3), ngf("2021-01-01")], extra_patients=["Q"])
    _, patients, _ = derive_mrd(c, anchors_of(c), Config())
    assert list(patients.columns) == PATIENT_COLUMNS
    assert list(patients["patient_id"]) == ["P", "Q"]
    for col in ("mrd_converted", "mrd_ever_negative", "mrd_sustained_negative", "mrd_sustained_negative_imaging",
                "mrd_lost_negativity"):
        assert str(patients[col].dtype) == "boolean"
    q = patients.set_index("patient_id").loc["Q"]
    assert q["mrd_samples"] == 0 and q["mrd_entry_status"] == "unknown" and q["mrd_kinetics"] == "not_evaluable"
    assert all(pd.isna(q[c]) for c in ("mrd_ever_negative", "mrd_sustained_negative", "mrd_lost_negativity",
                                       "mrd_trend", "mrd_log10_slope_per_year"))


def test_threshold_change_changes_kinetics():
    # 3e-5 is positive at 1e-5 and negative at 1e-4; an MFC not-detected at 1e-4 is only evaluable at 1e-4
    mrd = [ngf("2019-12-01", 3e-3), ngf("2021-01-01", 3e-5), ngf("2022-01-01", lod=1e-4, method="MFC")]
    _, p5, _ = run(mrd)
    assert p5["mrd_kinetics"] == "decreasing"
    assert is_false(p5["mrd_ever_negative"])
    _, p4, _ = run(mrd, config=make_config("alonso2020"))
    assert p4["mrd_kinetics"] == "converted_negative"
    assert is_true(p4["mrd_ever_negative"])
    assert p4["first_negative_date"] == pd.Timestamp("2021-01-01")
    _, pc, _ = run(mrd, config=make_config(overrides={"kinetics_log_change": 2.5}))
    assert pc["mrd_kinetics"] == "stable"
