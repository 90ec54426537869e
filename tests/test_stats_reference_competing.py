"""Competing risks against R: Aalen-Johansen curves (survival 3.5-3 ``survfit`` with a factor event), Gray's
test (``cmprsk::cuminc(...)$Tests``) and Fine-Gray (``cmprsk::crr``, 2.2), on mgus2 (plasma-cell malignancy vs
death) and a simulated maintenance cohort (progression vs death); fixtures made by tests/fixtures/r/make_reference.R.
Relative 1e-6, p-values 1e-6 absolute; through the Python API and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.stats import StatsInputError, cif_at, cumulative_incidence, fine_gray, gray_test

R = Path(__file__).parent / "fixtures" / "r"
runner = CliRunner()
CIF_CASES = [  # case, data, time, event, group, start, conf_type
    ("mgus2", "mgus2", "etime", "cause", None, None, "log"),
    ("mgus2_sex", "mgus2", "etime", "cause", "sex", None, "log"),
    ("mgus2_sex_entry", "mgus2", "etime", "cause", "sex", "entry", "log"),
    ("sim_trend", "sim", "time", "status", "trend", None, "log"),
    ("sim_loglog", "sim", "time", "status", None, None, "log-log"),
]
GRAY_CASES = [("mgus2_sex", "mgus2", "etime", "cause", "sex"), ("mgus2_agegrp", "mgus2", "etime", "cause", "agegrp"),
              ("sim_trend", "sim", "time", "status", "trend"), ("sim_iss", "sim", "time", "status", "iss")]
CRR_CASES = [  # case, data, time, event, covariates, cause
    ("mgus2_pcm", "mgus2", "etime", "cause", ["age", "sex", "mspike"], "pcm"),
    ("mgus2_death", "mgus2", "etime", "cause", ["age", "sex"], "death"),
    ("mgus2_pcm_agegrp", "mgus2", "etime", "cause", ["agegrp", "sex"], "pcm"),
    ("sim_prog_trend", "sim", "time", "status", ["trend"], 1),
    ("sim_prog_adjusted", "sim", "time", "status", ["trend", "age", "iss"], 1),
    ("sim_death", "sim", "time", "status", ["trend", "age"], 2),
]
FILES = {"mgus2": "mgus2_competing.csv", "sim": "competing_sim.csv"}


def data(name: str) -> pd.DataFrame:
    """mgus2's cause column is text (0 / pcm / death); the simulated cohort's is 0 / 1 / 2."""
    return pd.read_csv(R / FILES[name], dtype={"cause": str}, keep_default_na=False, na_values=["NA"])


def close(actual, expected, rtol=1e-6):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=1e-15)


def cif_ref(case: str) -> pd.DataFrame:
    ref = pd.concat([pd.read_csv(R / "mgus2_cif_curves.csv"), pd.read_csv(R / "sim_cif_curves.csv")])
    return ref[ref["case"] == case].dropna(axis=1, how="all").reset_index(drop=True)


def check_curves(out: pd.DataFrame, ref: pd.DataFrame) -> None:
    if "group" in out:
        assert out["group"].tolist() == ref["strata"].tolist()
    for col in ref.columns.drop(["case", "strata"]):
        got, want = out[col].to_numpy(float), ref[col].to_numpy(float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), col  # R's NA limits where the CIF is 0
        close(got[~np.isnan(want)], want[~np.isnan(want)])


@pytest.mark.parametrize(("case", "name", "time", "event", "group", "start", "conf_type"), CIF_CASES)
def test_cumulative_incidence_with_standard_errors_against_R(case, name, time, event, group, start, conf_type):
    out = cumulative_incidence(data(name), time=time, event=event, group=group, start=start, conf_type=conf_type)
    check_curves(out, cif_ref(case))


@pytest.mark.parametrize(("case", "name", "time", "event", "group"), GRAY_CASES)
def test_gray_test_against_cmprsk(case, name, time, event, group):
    ref = pd.read_csv(R / "gray_tests.csv").query("case == @case").reset_index(drop=True)
    out = gray_test(data(name), time=time, event=event, group=group)
    assert out["cause"].tolist() == ref["cause"].astype(str).tolist()
    close(out["statistic"], ref["statistic"])
    assert (out["df"] == ref["df"]).all()
    np.testing.assert_allclose(out["p"], ref["p"], atol=1e-6, rtol=0)


@pytest.mark.parametrize(("case", "name", "time", "event", "covariates", "cause"), CRR_CASES)
def test_fine_gray_against_cmprsk_crr(case, name, time, event, covariates, cause):
    ref = pd.read_csv(R / "crr_models.csv").query("case == @case").reset_index(drop=True)
    out = fine_gray(data(name), time=time, event=event, cause=cause, covariates=covariates)
    assert out["term"].tolist() == ref["term"].tolist()
    for col in ("coef", "se", "hr", "lower", "upper"):
        close(out[col], ref[col])
    np.testing.assert_allclose(out["p"], ref["p"], atol=1e-6, rtol=0)
    assert out.attrs["converged"] and out.attrs["n"] == ref["n"][0] and not out.attrs["warnings"]
    close(out.attrs["loglik"], ref["loglik"][0])
    close(out.attrs["loglik_null"], ref["loglik_null"][0])


def run(*args):
    res = runner.invoke(app, ["stats", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


def test_cif_cli_by_group_against_R(tmp_path):
    out = tmp_path / "cif.csv"
    run("cif", R / "competing_sim.csv", "--time", "time", "--event", "status", "--group", "trend", "--out", out)
    check_curves(pd.read_csv(out), cif_ref("sim_trend"))


def test_gray_cli_against_cmprsk(tmp_path):
    out = tmp_path / "gray.csv"
    run("gray", R / "competing_sim.csv", "--time", "time", "--event", "status", "--group", "trend", "--out", out)
    got = pd.read_csv(out)
    ref = pd.read_csv(R / "gray_tests.csv").query("case == 'sim_trend'")
    assert list(got.columns) == ["cause", "statistic", "df", "p"]
    close(got["statistic"], ref["statistic"])


def test_finegray_cli_against_cmprsk(tmp_path):
    out = tmp_path / "fg.json"
    run("finegray", R / "mgus2_competing.csv", "--time", "etime", "--event", "cause", "--cause", "pcm",
        "--covariates", "age,sex,mspike", "--out", out)
    doc = json.loads(out.read_text())
    got = pd.DataFrame(doc["coefficients"])
    ref = pd.read_csv(R / "crr_models.csv").query("case == 'mgus2_pcm'")
    assert list(got.columns) == ["term", "coef", "se", "hr", "lower", "upper", "p"]
    close(got["coef"], ref["coef"])
    close(got["se"], ref["se"])
    assert doc["converged"] and doc["n"] == 1373 and doc["cause"] == "pcm"


def test_finegray_cli_numeric_cause_csv(tmp_path):
    out = tmp_path / "fg.csv"
    run("finegray", R / "competing_sim.csv", "--time", "time", "--event", "status", "--cause", "1",
        "--covariates", "trend,age,iss", "--out", out)
    ref = pd.read_csv(R / "crr_models.csv").query("case == 'sim_prog_adjusted'")
    close(pd.read_csv(out)["hr"], ref["hr"])


# --- vignettes and bad input ---------------------------------------------------------------------------------


def test_cif_vignette_by_hand():
    """4 patients: t=1 progression, t=2 death, t=3 censored, t=4 progression. S(1-)=1, n=4: CIF_prog(1)=1/4;
    S(2-)=3/4, n=3: CIF_death(2)=1/4; t=4: S(4-)=1/2, n=1: CIF_prog(4)=1/4+1/2=3/4."""
    d = pd.DataFrame({"t": [1, 2, 3, 4], "e": ["prog", "death", "0", "prog"]})
    out = cumulative_incidence(d, time="t", event="e")
    assert out["time"].tolist() == [1, 2, 3, 4]
    close(out["cif_prog"], [0.25, 0.25, 0.25, 0.75])
    close(out["cif_death"], [0, 0.25, 0.25, 0.25])
    assert out["n_risk"].tolist() == [4, 3, 2, 1] and out["n_censor"].tolist() == [0, 0, 1, 0]
    at = cif_at(out, "prog", [0.5, 2, 4, 10])
    close(at["cif"][:3], [0, 0.25, 0.75])
    assert np.isnan(at["cif"][3])  # after the last follow-up: not extrapolated


def test_cif_sum_of_causes_is_one_minus_km():
    """Aalen-Johansen: the causes' incidences add up to 1 - KM of any event (an invariant, any data)."""
    from mrdtrack.stats import km_curve
    d = data("sim")
    out = cumulative_incidence(d, time="time", event="status")
    km = km_curve(d.assign(any=(d["status"] > 0).astype(int)), "time", "any")
    close(out["cif_1"] + out["cif_2"], 1 - km["survival"], rtol=1e-12)


def test_cause_absent_from_a_group_is_a_warning_and_gray_says_not_estimable():
    d = data("sim")
    d.loc[(d["trend"] == "negative") & (d["status"] == 2), "status"] = 0
    out = cumulative_incidence(d, time="time", event="status", group="trend")
    assert any("'2'" in w and "negative" in w for w in out.attrs["warnings"])
    assert (out.loc[out["group"] == "negative", "cif_2"] == 0).all()
    g = gray_test(d, time="time", event="status", group="trend")
    assert any("does not occur" in w for w in g.attrs["warnings"])
    assert np.isfinite(g["statistic"]).all()  # two other groups still carry the test


def test_fine_gray_separation_is_not_estimable_not_an_infinite_hr():
    d = data("sim")
    d.loc[(d["trend"] == "negative") & (d["status"] == 1), "status"] = 0  # no progression in one level
    out = fine_gray(d, time="time", event="status", cause=1, covariates=["trend"])
    row = out.set_index("term").loc["trendnegative"]
    assert np.isnan(row["hr"]) and np.isnan(row["p"])
    assert "trendnegative" in out.attrs["flagged"] and out.attrs["warnings"]
    assert np.isfinite(out.set_index("term").loc["trendpositive", "hr"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cause": 3, "covariates": ["age"]}, "cause 3 does not occur"),
    ({"cause": "relapse", "covariates": ["age"]}, "causes present: 1, 2"),
    ({"cause": 1, "covariates": ["one"]}, "constant"),
    ({"cause": 1, "covariates": []}, "at least one covariate"),
    ({"cause": 1, "covariates": ["nope"]}, "not in the table"),
])
def test_fine_gray_bad_input(kwargs, message):
    d = data("sim").assign(one=1.0)
    with pytest.raises(StatsInputError, match=message):
        fine_gray(d, time="time", event="status", **kwargs)


def test_gray_needs_two_groups_and_events():
    d = data("sim")
    with pytest.raises(StatsInputError, match="at least two groups"):
        gray_test(d.assign(g="x"), time="time", event="status", group="g")
    with pytest.raises(StatsInputError, match="no events"):
        gray_test(d.assign(status=0), time="time", event="status", group="trend")


@pytest.mark.parametrize("args", [
    ["finegray", "{csv}", "--time", "time", "--event", "status", "--cause", "7", "--covariates", "age", "--out", "{o}"],
    ["finegray", "{csv}", "--time", "time", "--event", "status", "--cause", "1", "--covariates", "", "--out", "{o}"],
    ["gray", "{csv}", "--time", "time", "--event", "status", "--group", "nope", "--out", "{o}"],
    ["cif", "{csv}", "--time", "time", "--event", "status", "--conf-type", "logit", "--out", "{o}"],
    ["cif", "{csv}", "--time", "time", "--event", "status", "--start", "time", "--out", "{o}"],
])
def test_cli_bad_input_exits_2(args, tmp_path):
    fill = {"csv": R / "competing_sim.csv", "o": tmp_path / "o.csv"}
    res = runner.invoke(app, ["stats", *[a.format(**fill) for a in args]])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_cli_help_has_examples():
    for cmd in ("gray", "finegray"):
        res = runner.invoke(app, ["stats", cmd, "--help"])
        assert res.exit_code == 0 and "Example: mrdtrack stats " + cmd in " ".join(res.output.split())


# --- invariants (hypothesis) ---------------------------------------------------------------------------------


@st.composite
def competing_tables(draw):
    n = draw(st.integers(8, 40))
    times = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))  # small range: many ties
    causes = draw(st.lists(st.sampled_from([0, 1, 2]), min_size=n, max_size=n).filter(lambda c: 1 in c and 2 in c))
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n).filter(lambda g: len(set(g)) > 1))
    x = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n, max_size=n).filter(lambda v: np.ptp(v) > 1e-3))
    return pd.DataFrame({"t": np.asarray(times, float), "c": causes, "g": groups, "x": x})


@settings(max_examples=40, deadline=None)
@given(competing_tables())
def test_aalen_johansen_adds_up_to_one_minus_km_and_never_decreases(d):
    from mrdtrack.stats import km_curve
    out = cumulative_incidence(d, time="t", event="c")
    km = km_curve(d.assign(e=(d["c"] > 0).astype(int)), "t", "e")
    close(out["cif_1"] + out["cif_2"], 1 - km["survival"].to_numpy(), rtol=1e-9)
    for c in ("1", "2"):
        assert (np.diff(out[f"cif_{c}"]) >= -1e-15).all()
        assert (out[f"std_err_{c}"] >= 0).all()


@settings(max_examples=40, deadline=None)
@given(competing_tables())
def test_gray_statistic_does_not_depend_on_the_group_left_out(d):
    """The score is taken over k - 1 groups; the quadratic form is the same whichever is dropped."""
    a = gray_test(d, time="t", event="c", group="g")
    b = gray_test(d.assign(g=d["g"].map({"a": "z", "b": "y", "c": "x"})), time="t", event="c", group="g")
    both = a["statistic"].notna() & b["statistic"].notna()
    np.testing.assert_allclose(a.loc[both, "statistic"], b.loc[both, "statistic"], rtol=1e-6, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(competing_tables(), st.floats(-50, 50))
def test_fine_gray_coefficient_does_not_move_when_a_covariate_is_shifted(d, shift):
    a = fine_gray(d, time="t", event="c", cause=1, covariates=["x"])
    b = fine_gray(d.assign(x=d["x"] + shift), time="t", event="c", cause=1, covariates=["x"])
    if a.attrs["converged"] and b.attrs["converged"] and abs(a["coef"][0]) < 5:
        np.testing.assert_allclose(a["coef"], b["coef"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(a["se"], b["se"], rtol=1e-4, atol=1e-6)
