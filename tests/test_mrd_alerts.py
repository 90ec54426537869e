"""Patient alerts as of a date (docs/mrd.md section 5)."""

import pandas as pd

from mrd_vignettes import anchors_of, cohort_of, ngf
from mrdtrack.config import Config
from mrdtrack.mrd import derive_mrd, patient_alerts
from mrdtrack.mrd.alerts import ALERTS

ASSESSMENT_COLUMNS = ["patient_id", "date", "phase", "response", "confirmed_response", "pd_confirmed", "meets_pd",
                      "evaluable"]


def _assessments(rows=()):
    df = pd.DataFrame(list(rows), columns=ASSESSMENT_COLUMNS)
    df["date"] = pd.to_datetime(df["date"])
    df["pd_confirmed"] = df["pd_confirmed"].astype("boolean")
    return df.astype({"meets_pd": bool, "evaluable": bool})


def _alerts(mrd=(), assessments=(), as_of="2022-06-01", config=None, events=None, **kw):
    c = cohort_of(list(mrd), events=events, **kw)
    a = anchors_of(c)
    cfg = config or Config()
    samples, _, _ = derive_mrd(c, a, cfg)
    out = patient_alerts(_assessments(assessments), samples, a, cfg, pd.Timestamp(as_of))
    assert set(out["alert"]) <= set(ALERTS)  # every alert is one of the documented names
    return out


def _one(out, alert):
    rows = out[out["alert"] == alert]
    assert len(rows) == 1, out
    return rows.iloc[0]


def test_output_columns_and_nothing_open():
    out = _alerts([ngf("2019-12-01"), ngf("2020-10-01", 1e-6, lod=1e-6, method="NGS")], as_of="2020-11-01")
    assert list(out.columns) == ["patient_id", "alert", "since", "detail"]
    assert out.empty


def test_loss_of_mrd_negativity():
    mrd = [ngf("2020-06-01", 1e-3), ngf("2021-01-01"), ngf("2022-01-01", 3.2e-4), ngf("2022-05-01", 5e-4)]
    r = _one(_alerts(mrd, as_of="2022-06-01"), "loss_of_mrd_negativity")
    assert r["since"] == pd.Timestamp("2022-01-01")
    assert r["detail"] == "MRD 3.2e-04 on 2022-01-01 after negative on 2021-01-01"
    # as of before the positive sample: nothing (data after D unused)
    assert "loss_of_mrd_negativity" not in set(_alerts(mrd, as_of="2021-12-31")["alert"])
    # maintenance ended before D: MRD alerts do not concern the patient
    assert _alerts(mrd, as_of="2022-06-01", maintenance_end="2022-02-01").empty


def test_mrd_rising():
    r = _one(_alerts([ngf("2021-01-01", 1e-5), ngf("2021-06-01"), ngf("2022-01-01", 2e-4)]), "mrd_rising")
    assert r["since"] == pd.Timestamp("2022-01-01")
    assert "1.0e-05 on 2021-01-01" in r["detail"] and "2.0e-04 on 2022-01-01" in r["detail"]
    # exactly one log10 counts; less does not
    assert "mrd_rising" in set(_alerts([ngf("2021-01-01", 1e-4), ngf("2022-01-01", 1e-3)])["alert"])
    assert "mrd_rising" not in set(_alerts([ngf("2021-01-01", 1e-4), ngf("2022-01-01", 9e-4)])["alert"])


def test_pd_unconfirmed_then_progression():
    rows = [("P", "2021-11-01", "maintenance", "CR", "CR", False, False, True),
            ("P", "2022-03-01", "maintenance", "PD", None, True, True, True),
            ("P", "2022-05-01", "maintenance", "PD", None, False, True, True)]
    mrd = [ngf("2021-12-01")]
    out = _alerts(mrd, rows, as_of="2022-04-01")
    r = _one(out, "pd_unconfirmed")
    assert r["since"] == pd.Timestamp("2022-03-01") and "progression" not in set(out["alert"])
    out = _alerts(mrd, rows, as_of="2022-05-01")
    r = _one(out, "progression")
    assert r["since"] == pd.Timestamp("2022-03-01") and "pd_unconfirmed" not in set(out["alert"])
    # a later line started since: neither alert
    out = _alerts(mrd, rows, as_of="2022-07-01", later_line="2022-06-01")
    assert not {"progression", "pd_unconfirmed"} & set(out["alert"])


def test_pd_confirmed_by_later_line_within_window():
    rows = [("P", "2022-03-01", "maintenance", "PD", None, True, True, True)]
    # confirmed by the later line on 2022-05-01; before it the PD is unconfirmed
    mrd = [ngf("2021-12-01", 1e-3)]
    out = _alerts(mrd, rows, as_of="2022-04-01", later_line="2022-05-01", maintenance_end="2022-04-30")
    assert list(out["alert"]) == ["pd_unconfirmed"]
    out = _alerts(mrd, rows, as_of="2022-05-10", later_line="2022-05-01", maintenance_end="2022-04-30")
    assert out.empty  # later line started: neither alert applies any more


def test_recorded_progression_event():
    events = [("P", "2022-02-01", "progression"), ("P", "2024-06-01", "last_contact")]
    r = _one(_alerts([ngf("2021-12-01")], as_of="2022-06-01", events=events), "progression")
    assert r["since"] == pd.Timestamp("2022-02-01")
    assert _alerts([ngf("2021-12-01")], as_of="2022-01-01", events=events).empty
    derived_only = Config(progression_policy="derived")
    assert _alerts([ngf("2021-12-01")], as_of="2022-06-01", events=events, config=derived_only).empty


def test_mrd_overdue_edges():
    mrd = [ngf("2019-12-01"), ngf("2020-06-01")]
    # 15 months = 456.5625 days: 457 days after the last sample is overdue, 456 is not
    assert _alerts(mrd, as_of="2021-08-31").empty
    r = _one(_alerts(mrd, as_of="2021-09-01"), "mrd_overdue")
    assert r["since"] == pd.Timestamp("2021-09-01")
    assert r["detail"].startswith("last MRD sample on 2020-06-01 (15.0 months ago")
    # no sample since maintenance start: count from the start
    r = _one(_alerts([ngf("2019-12-01")], as_of="2021-06-01"), "mrd_overdue")
    assert r["since"] == pd.Timestamp("2021-04-02")
    assert r["detail"].startswith("no MRD sample since maintenance start on 2020-01-01")
    # an unevaluable sample counts as a sample
    assert _alerts([ngf("2019-12-01"), ngf("2021-01-01", lod=1e-4, method="MFC")], as_of="2021-06-01").empty
    # a different interval from the config
    cfg = Config(mrd_interval_months=6.0)
    assert "mrd_overdue" in set(_alerts(mrd, as_of="2021-06-01", config=cfg)["alert"])


def test_sustained_negative_reached():
    mrd = [ngf("2020-01-01"), ngf("2020-09-01"), ngf("2021-02-01")]
    r = _one(_alerts(mrd, as_of="2021-06-01"), "sustained_negative_reached")
    assert r["since"] == pd.Timestamp("2021-02-01")
    assert "from 2020-01-01 to 2021-02-01" in r["detail"]
    assert _alerts(mrd, as_of="2021-01-31").empty
    # a positive sample followed: closed (and loss of negativity opens)
    out = _alerts(mrd + [ngf("2021-06-01", 2e-5)], as_of="2021-07-01")
    assert list(out["alert"]) == ["loss_of_mrd_negativity"]


def test_sorted_by_patient_and_alert():
    mrd = [ngf("2019-12-01", pid="P"), ngf("2020-02-01", 1e-5, pid="P"), ngf("2020-03-01", 1e-3, pid="P")]
    out = _alerts(mrd, as_of="2022-01-01")
    assert list(out["alert"]) == sorted(out["alert"]) == ["loss_of_mrd_negativity", "mrd_overdue", "mrd_rising"]


def test_confirmation_day():
    from mrdtrack.mrd.alerts import confirmation_day
    a = _assessments([
        ("A", "2022-03-01", "maintenance", "PD", None, True, True, True),     # confirmed by the next PD
        ("A", "2022-05-01", "maintenance", "PD", None, False, True, True),
        ("B", "2022-03-01", "maintenance", "PD", None, True, True, True),     # by a later line 60 days on
        ("C", "2022-03-01", "maintenance", "PD", None, True, True, True),     # new lesion: needs none
        ("C", "2022-04-01", "maintenance", "NE", None, False, False, False),
        ("D", "2022-03-01", "maintenance", "VGPR", "VGPR", False, False, True),
    ])
    anchors = pd.DataFrame({"patient_id": list("ABCD"), "death_date": pd.NaT,
                            "later_line_start": pd.to_datetime([None, "2022-04-30", None, None])})
    got = pd.to_datetime(confirmation_day(a, anchors, 120) * 86400e9)
    assert list(got.strftime("%Y-%m-%d").fillna("")) == ["2022-05-01", "", "2022-04-30", "2022-03-01", "", ""]


def test_dead_patient_has_no_alert():
    events = [("P", "2022-02-01", "progression"), ("P", "2022-04-01", "death")]
    assert _alerts([ngf("2021-12-01")], as_of="2022-06-01", events=events).empty
    assert set(_alerts([ngf("2021-12-01")], as_of="2022-03-01", events=events)["alert"]) == {"progression"}


def test_no_samples_no_assessments():
    out = _alerts([], as_of="2021-06-01")
    assert list(out["alert"]) == ["mrd_overdue"]
    assert _alerts([], as_of="2021-06-01", maintenance=None).empty


def test_confirmation_day_takes_the_earliest_confirmation_and_lesion_pd_at_once():
    from mrdtrack.mrd.alerts import confirmation_day
    a = _assessments([("A", "2022-03-01", "maintenance", "PD", None, True, True, True),
                      ("A", "2022-06-01", "maintenance", "PD", None, False, True, True)])
    anchors = pd.DataFrame({"patient_id": ["A"], "death_date": pd.NaT,
                            "later_line_start": pd.to_datetime(["2022-04-15"])})
    got = pd.to_datetime(confirmation_day(a, anchors, 120) * 86400e9)
    assert got[0] == pd.Timestamp("2022-04-15")  # the later line comes before the next assessment
    got = pd.to_datetime(confirmation_day(a.assign(pd_lesion=[True, False]), anchors, 120) * 86400e9)
    assert got[0] == pd.Timestamp("2022-03-01")
