"""Ever negative, loss of negativity, sustained negativity with and without imaging
(docs/mrd.md section 3; docs/response-rules.md section 6)."""

import pandas as pd

from mrd_vignettes import is_false, is_true, ngf, run
from mrdtrack.config import make_config


def test_sustained_negative_needs_365_days_without_positive():
    _, p, _ = run([ngf("2020-01-01"), ngf("2020-12-31")])  # 365 days apart (2020 is a leap year)
    assert is_true(p["mrd_sustained_negative"])
    _, p, _ = run([ngf("2020-01-01"), ngf("2020-12-30")])  # 364 days
    assert is_false(p["mrd_sustained_negative"])
    _, p, _ = run([ngf("2020-01-01"), ngf("2020-06-01", 2e-5), ngf("2021-06-01")])  # a positive between
    assert is_false(p["mrd_sustained_negative"])
    # an unevaluable sample between does not break it
    _, p, _ = run([ngf("2020-01-01"), ngf("2020-06-01", lod=1e-4, method="MFC"), ngf("2021-06-01")])
    assert is_true(p["mrd_sustained_negative"])


def test_positive_on_same_day_as_negative_breaks_the_run():
    _, p, _ = run([ngf("2020-01-01"), ngf("2021-03-01", 2e-5), ngf("2021-03-01", lod=1e-6, method="NGS")])
    assert is_false(p["mrd_sustained_negative"])


def test_sustained_negative_only_before_progression():
    mrd = [ngf("2020-01-01"), ngf("2021-06-01")]
    assert is_true(run(mrd)[1]["mrd_sustained_negative"])
    assert is_false(run(mrd, progression="2021-06-01")[1]["mrd_sustained_negative"])


def test_sustained_negative_with_imaging():
    mrd = [ngf("2020-01-01"), ngf("2021-06-01")]

    def img(*rows):
        return [("P", d, "PET-CT", r) for d, r in rows]

    assert pd.isna(run(mrd)[1]["mrd_sustained_negative_imaging"])  # no imaging: cannot be judged
    assert is_true(run(mrd, imaging=img(("2020-06-01", "negative")))[1]["mrd_sustained_negative_imaging"])
    got = run(mrd, imaging=img(("2020-06-01", "negative"), ("2021-01-01", "positive")))[1]
    assert is_false(got["mrd_sustained_negative_imaging"]) and is_true(got["mrd_sustained_negative"])
    # imaging only outside the span: no imaging result in it
    assert is_false(run(mrd, imaging=img(("2019-06-01", "negative")))[1]["mrd_sustained_negative_imaging"])
    # not sustained by MRD: false whatever the imaging
    got = run([ngf("2020-01-01")], imaging=img(("2020-06-01", "negative")))[1]
    assert is_false(got["mrd_sustained_negative_imaging"])


def test_imaging_pair_choice_avoids_a_positive_scan():
    # pair (2020-01, 2021-02) holds a negative scan only; the wider pair would include a positive one
    mrd = [ngf("2020-01-01"), ngf("2021-02-01"), ngf("2022-06-01")]
    imaging = [("P", "2020-06-01", "MRI", "negative"), ("P", "2022-01-01", "MRI", "positive")]
    assert is_true(run(mrd, imaging=imaging)[1]["mrd_sustained_negative_imaging"])


def test_lost_negativity_and_ever_negative():
    _, p, _ = run([ngf("2020-01-01"), ngf("2021-01-01", 5e-5)])
    assert is_true(p["mrd_lost_negativity"]) and is_true(p["mrd_ever_negative"])
    _, p, _ = run([ngf("2020-01-01", 5e-5), ngf("2021-01-01")])
    assert is_false(p["mrd_lost_negativity"])
    # the positive is after progression: does not count
    _, p, _ = run([ngf("2020-01-01"), ngf("2021-01-01", 5e-5)], progression="2020-10-01")
    assert is_false(p["mrd_lost_negativity"])
    # only negative after progression: not ever negative; first_negative_date blank
    _, p, _ = run([ngf("2020-01-01", 5e-5), ngf("2021-01-01")], progression="2020-10-01")
    assert is_false(p["mrd_ever_negative"]) and pd.isna(p["first_negative_date"])
    # only unevaluable samples: blank
    _, p, _ = run([ngf("2020-01-01", lod=1e-4, method="MFC")])
    assert pd.isna(p["mrd_ever_negative"]) and pd.isna(p["mrd_lost_negativity"]) and p["mrd_samples"] == 1


def test_threshold_changes_sustained_and_lost():
    mrd = [ngf("2020-01-01", lod=1e-4, method="MFC"), ngf("2020-08-01", 5e-5), ngf("2021-06-01", lod=1e-4,
                                                                                     method="MFC")]
    _, p5, _ = run(mrd)
    assert is_false(p5["mrd_sustained_negative"]) and is_false(p5["mrd_lost_negativity"])
    _, p4, _ = run(mrd, config=make_config("alonso2020"))
    assert is_true(p4["mrd_sustained_negative"])
    _, p, _ = run([ngf("2020-01-01", 5e-5), ngf("2021-01-01", 2e-4)], config=make_config("alonso2020"))
    assert is_true(p["mrd_lost_negativity"])
    _, p, _ = run([ngf("2020-01-01"), ngf("2020-10-01")], config=make_config(overrides={"mrd_sustained_days": 200}))
    assert is_true(p["mrd_sustained_negative"])
