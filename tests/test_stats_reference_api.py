"""mrdtrack.stats against R survival 3.5-3 through the Python API (fixtures: tests/fixtures/r, made by
make_reference.R from survival::mgus2 and survival::heart; the first references were computed by R survival 3.5 on the same datasets and
are described in tests/fixtures/r/README.md). Relative 1e-6 on estimates, 1e-6 absolute on p-values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrdtrack.stats import (
    cox_fit,
    cox_zph,
    cumulative_incidence,
    km_curve,
    km_median,
    km_survival_at,
    km_table,
    tmerge,
)
from mrdtrack.stats.logrank import logrank_test

R = Path(__file__).parent / "fixtures" / "r"
CASES = json.loads((R / "cases.json").read_text())
RTOL = 1e-6


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(R / name)


def close(actual, expected, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=0)


def r_strata(table: pd.DataFrame, group: str | None) -> pd.Series:
    return table["strata"] if group is None else group + "=" + table["strata"]


@pytest.mark.parametrize("case", CASES["km"], ids=[c["ref"] for c in CASES["km"]])
def test_km_against_R(case):
    ref = read(case["ref"])
    out = km_table(read(case["data"]), case["time"], case["event"], start=case.get("start"), group=case.get("group"),
                   conf_type=case["conf_type"], conf_level=case.get("conf_level", 0.95))
    assert list(r_strata(out, case.get("group"))) == list(ref["strata"])
    assert (out["n_risk"].to_numpy() == ref["n_risk"].to_numpy()).all()
    assert (out["n_event"].to_numpy() == ref["n_event"].to_numpy()).all()
    for col in ("time", "survival", "std_err", "lower", "upper"):
        close(out[col], ref[col])


def test_km_curve_reaching_zero_against_R():
    ref = read("zero_km_out.csv")
    for conf_type, r in ref.groupby("conf_type"):
        out = km_table(read("zero_km.csv"), "time", "status", conf_type=conf_type)
        for col in ("survival", "std_err", "lower", "upper"):
            close(out[col], r[col])  # NaN exactly where R gives NA


def test_km_medians_against_R():
    ref = read("km_medians.csv")
    for (data, conf_type), r in ref.groupby(["data", "conf_type"], sort=False):
        case = CASES["medians"][data]
        out = km_median(read(case["data"]), case["time"], case["event"], group=case.get("group"), conf_type=conf_type)
        assert list(r_strata(out, case.get("group"))) == list(r["strata"])
        assert list(out["n"]) == list(r["n"]) and list(out["events"]) == list(r["events"])
        for col in ("median", "lower", "upper"):
            close(out[col], r[col])


def test_tiny_median_is_the_midpoint_where_the_curve_sits_at_one_half():
    out = km_median(read("tiny_km.csv"), "time", "status").iloc[0]
    assert out["median"] == 4.0  # S = 0.5 on [3, 5): R's midpoint rule
    assert np.isnan(out["upper"])


def test_survival_at_fixed_times_against_R():
    ref = read("mgus2_os_km_times.csv")
    data = read("mgus2_derived.csv")
    for conf_type, r in ref.groupby("conf_type", sort=False):
        group = None if conf_type == "log" else "sex"
        out = km_survival_at(data, "futime", "death", [12, 36, 60, 120, 240], group=group, conf_type=conf_type)
        assert list(r_strata(out, group)) == list(r["strata"])
        for col in ("time", "n_risk", "n_event", "survival", "std_err", "lower", "upper"):
            close(out[col], r[col])


def _cox(case):
    return cox_fit(read(case["data"]), case["time"], case["event"], case["covariates"], start=case.get("start"),
                   strata=case.get("strata"), categorical=case.get("categorical", ()), ties=case.get("ties", "efron"))


def _check_cox_table(table, ref):
    assert list(table["term"]) == list(ref["term"])
    for col in ("coef", "hr", "se", "lower", "upper", "loglik", "concordance"):
        close(table[col], ref[col])
    np.testing.assert_allclose(table["p"], ref["p"], rtol=0, atol=1e-6)


COX_IDS = [c.get("ref") or c["model"] for c in CASES["cox"]]


@pytest.mark.parametrize("case", CASES["cox"], ids=COX_IDS)
def test_cox_against_R(case):
    fit = _cox(case)
    if "ref" in case:
        ref = read(case["ref"])
    else:
        ref = read("cox_models.csv").query("model == @case['model']").reset_index(drop=True)
    _check_cox_table(fit.table, ref)
    assert fit.converged and not fit.warnings


@pytest.mark.parametrize("case", CASES["cox"], ids=COX_IDS)
def test_cox_without_concordance_is_the_same_fit(case):
    """The cohort statistics skip Harrell's C (they do not report it): nothing else may change."""
    full, lean = _cox(case), cox_fit(read(case["data"]), case["time"], case["event"], case["covariates"],
                                     start=case.get("start"), strata=case.get("strata"),
                                     categorical=case.get("categorical", ()), ties=case.get("ties", "efron"),
                                     concordance=False)
    assert np.isnan(lean.concordance) and lean.table["concordance"].isna().all()
    pd.testing.assert_frame_equal(lean.table.drop(columns="concordance"), full.table.drop(columns="concordance"))
    assert (lean.lr_test, lean.wald_test, lean.score_test) == (full.lr_test, full.wald_test, full.score_test)


@pytest.mark.parametrize("case", [c for c in CASES["cox"] if "model" in c], ids=lambda c: c["model"])
def test_cox_tests_and_zph_against_R(case):
    fit = _cox(case)
    r = read("cox_tests.csv").set_index("model").loc[case["model"]]
    assert fit.n == r["n"] and fit.n_events == r["nevent"]
    close([fit.loglik_null, fit.loglik, fit.concordance], [r["loglik_null"], r["loglik"], r["concordance"]])
    for name, test in (("lr", fit.lr_test), ("wald", fit.wald_test), ("score", fit.score_test)):
        close(test["chisq"], r[f"{name}_chisq"])
        assert test["df"] == r[f"{name}_df"]
        assert abs(test["p"] - r[f"{name}_p"]) <= 1e-6
    zph = cox_zph(fit)
    zr = read("cox_zph.csv").query("model == @case['model']").reset_index(drop=True)
    assert list(zph["term"]) == list(zr["term"])
    assert list(zph["df"]) == list(zr["df"])
    close(zph["chisq"], zr["chisq"])
    np.testing.assert_allclose(zph["p"], zr["p"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", CASES["logrank"], ids=lambda c: c["model"])
def test_logrank_against_R(case):
    ref = read("logrank.csv").query("model == @case['model']").reset_index(drop=True)
    res = logrank_test(read("mgus2_derived.csv"), case["time"], case["event"], case["group"], strata=case.get("strata"))
    close(res["chisq"], ref["chisq"].iloc[0])
    assert res["df"] == ref["df"].iloc[0]
    assert abs(res["p"] - ref["p"].iloc[0]) <= 1e-6
    assert list(res["groups"]["group"]) == list(ref["group"])
    close(res["groups"]["observed"], ref["observed"])
    close(res["groups"]["expected"], ref["expected"])


def test_logrank_two_groups_against_shared_reference():
    ref = read("mgus2_os_logrank_sex.csv").iloc[0]
    res = logrank_test(read("mgus2.csv"), "futime", "death", "sex")
    close(res["chisq"], ref["chisq"])
    assert abs(res["p"] - ref["p"]) <= 1e-6


def mgus2_competing() -> pd.DataFrame:
    """README.md: pcm first (pstat == 1, at ptime) vs death without it (at futime); 0 = censored."""
    d = read("mgus2.csv")
    return pd.DataFrame({"etime": np.where(d["pstat"] == 1, d["ptime"], d["futime"]),
                         "cause": np.where(d["pstat"] == 1, "pcm", np.where(d["death"] == 1, "death", "0"))})


def test_cumulative_incidence_against_R():
    ref = read("mgus2_cif.csv")
    out = cumulative_incidence(mgus2_competing(), "etime", "cause")
    out = out[out["n_event"] > 0].reset_index(drop=True)  # the reference lists event times only
    for col in ref.columns:
        close(out[col], ref[col])


def test_tmerge_small_table_against_R():
    ref = read("tmerge_small.csv")
    out = tmerge(read("tmerge_small_base.csv"), read("tmerge_small_changes.csv"), id_col="id", time_col="futime",
                 event_col="status", tdc_name="x")
    got = out[["id", "age", "start", "stop", "event", "x"]].to_numpy(float)
    want = ref[["id", "age", "tstart", "tstop", "death", "x"]].to_numpy(float)
    np.testing.assert_array_equal(got, want)


def test_tmerge_mgus2_then_cox_against_R():
    d = read("mgus2.csv")
    changes = d.loc[d["pstat"] == 1, ["id", "ptime"]].rename(columns={"ptime": "time"}).assign(value=1)
    out = tmerge(d[["id", "age", "sex", "futime", "death"]], changes, time_col="futime", event_col="death",
                 tdc_name="pcm", initial=0)
    ref = read("mgus2_tmerge.csv")
    np.testing.assert_array_equal(out[["id", "start", "stop", "event", "pcm"]].to_numpy(float),
                                  ref[["id", "tstart", "tstop", "death", "pcm"]].to_numpy(float))
    fit = cox_fit(out, "stop", "event", ["age", "sex", "pcm"], start="start")
    _check_cox_table(fit.table, read("cox_models.csv").query("model == 'tmerge_pcm'").reset_index(drop=True))


def test_full_curve_with_censoring_times_against_R():
    ref = read("mgus2_pcm_km_curve_bysex.csv")
    out = km_curve(read("mgus2_derived.csv"), "ptime", "pstat", group="sex")
    assert list(r_strata(out, "sex")) == list(ref["strata"])
    for col in ("n_risk", "n_event", "n_censor"):
        assert (out[col].to_numpy() == ref[col].to_numpy()).all()
    for col in ("time", "survival", "std_err", "lower", "upper"):
        close(out[col], ref[col])
