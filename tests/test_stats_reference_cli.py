"""``mrdtrack stats`` against R survival 3.5-3 (the same fixtures as test_stats_reference_api.py, through
typer's CliRunner on mrdtrack.cli.app): relative 1e-6, p-values 1e-6 absolute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app

R = Path(__file__).parent / "fixtures" / "r"
CASES = json.loads((R / "cases.json").read_text())
runner = CliRunner()


def run(*args) -> None:
    res = runner.invoke(app, ["stats", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=1e-6, atol=0)


def opt(flag, value):
    return [] if value is None else [flag, ",".join(value) if isinstance(value, list) else value]


@pytest.mark.parametrize("case", CASES["km"], ids=[c["ref"] for c in CASES["km"]])
def test_km_cli_against_R(case, tmp_path):
    out = tmp_path / "km.csv"
    run("km", R / case["data"], "--time", case["time"], "--event", case["event"], *opt("--start", case.get("start")),
        *opt("--group", case.get("group")), "--conf-type", case["conf_type"],
        "--conf-level", case.get("conf_level", 0.95), "--out", out)
    got, ref = pd.read_csv(out), pd.read_csv(R / case["ref"])
    assert list(got.columns) == list(ref.columns)
    assert list(got["strata"]) == list(ref["strata"])
    for col in ref.columns[1:]:
        close(got[col], ref[col])


@pytest.mark.parametrize("case", CASES["cox"], ids=[c.get("ref") or c["model"] for c in CASES["cox"]])
def test_cox_cli_against_R(case, tmp_path):
    out = tmp_path / "cox.csv"
    run("cox", R / case["data"], "--time", case["time"], "--event", case["event"], *opt("--start", case.get("start")),
        "--covariates", ",".join(case["covariates"]), *opt("--strata", case.get("strata")),
        *opt("--categorical", case.get("categorical")), "--ties", case.get("ties", "efron"), "--out", out)
    got = pd.read_csv(out)
    ref = pd.read_csv(R / case["ref"]) if "ref" in case else (
        pd.read_csv(R / "cox_models.csv").query("model == @case['model']").drop(columns="model").reset_index(drop=True))
    assert list(got.columns) == list(ref.columns)
    assert list(got["term"]) == list(ref["term"])
    for col in ("coef", "hr", "se", "lower", "upper", "loglik", "concordance"):
        close(got[col], ref[col])
    np.testing.assert_allclose(got["p"], ref["p"], rtol=0, atol=1e-6)


def test_cox_json_adds_tests_and_ph_test(tmp_path):
    out = tmp_path / "cox.json"
    run("cox", R / "heart.csv", "--start", "start", "--time", "stop", "--event", "event",
        "--covariates", "age,surgery,transplant", "--out", out)
    doc = json.loads(out.read_text())
    r = pd.read_csv(R / "cox_tests.csv").set_index("model").loc["heart_tv"]
    close(doc["likelihood_ratio_test"]["chisq"], r["lr_chisq"])
    close(doc["wald_test"]["chisq"], r["wald_chisq"])
    close(doc["score_test"]["chisq"], r["score_chisq"])
    close([doc["loglik_null"], doc["loglik"]], [r["loglik_null"], r["loglik"]])
    zph = pd.DataFrame(doc["ph_test"])
    zr = pd.read_csv(R / "cox_zph.csv").query("model == 'heart_tv'")
    assert list(zph["term"]) == list(zr["term"])
    close(zph["chisq"], zr["chisq"])
    assert [c["term"] for c in doc["coefficients"]] == ["age", "surgery", "transplant"]


@pytest.mark.parametrize("case", CASES["logrank"], ids=lambda c: c["model"])
def test_logrank_cli_against_R(case, tmp_path):
    out = tmp_path / "lr.csv"
    run("logrank", R / "mgus2_derived.csv", "--time", case["time"], "--event", case["event"], "--group", case["group"],
        *opt("--strata", case.get("strata")), "--out", out)
    got = pd.read_csv(out)
    ref = pd.read_csv(R / "logrank.csv").query("model == @case['model']").iloc[0]
    assert list(got.columns) == ["chisq", "df", "p"]
    close(got["chisq"].iloc[0], ref["chisq"])
    assert got["df"].iloc[0] == ref["df"] and abs(got["p"].iloc[0] - ref["p"]) <= 1e-6


def test_logrank_cli_shared_reference_json(tmp_path):
    out = tmp_path / "lr.json"
    run("logrank", R / "mgus2.csv", "--time", "futime", "--event", "death", "--group", "sex", "--out", out)
    doc = json.loads(out.read_text())
    ref = pd.read_csv(R / "mgus2_os_logrank_sex.csv").iloc[0]
    close(doc["chisq"], ref["chisq"])
    assert [g["group"] for g in doc["groups"]] == ["F", "M"]


def test_cif_cli_against_R(tmp_path):
    d = pd.read_csv(R / "mgus2.csv")
    events = pd.DataFrame({"etime": np.where(d["pstat"] == 1, d["ptime"], d["futime"]),
                           "cause": np.where(d["pstat"] == 1, "pcm", np.where(d["death"] == 1, "death", "0"))})
    src = tmp_path / "events.parquet"
    events.to_parquet(src)
    out = tmp_path / "cif.csv"
    run("cif", src, "--time", "etime", "--event", "cause", "--out", out)
    got, ref = pd.read_csv(out), pd.read_csv(R / "mgus2_cif.csv")
    got = got[got["n_event"] > 0].reset_index(drop=True)  # the reference lists event times only
    for col in ref.columns:
        close(got[col], ref[col])


def test_km_json_has_medians_against_R(tmp_path):
    out = tmp_path / "km.json"
    run("km", R / "mgus2_derived.csv", "--time", "futime", "--event", "death", "--group", "agegrp", "--out", out)
    med = pd.DataFrame(json.loads(out.read_text())["median"])
    ref = pd.read_csv(R / "km_medians.csv").query("data == 'os_age' and conf_type == 'log'")
    assert list(med["strata"]) == list(ref["strata"])
    close(med[["median", "lower", "upper"]], ref[["median", "lower", "upper"]])


def test_missing_rows_dropped_and_counted_on_stderr(tmp_path):
    out = tmp_path / "cox.csv"
    res = run("cox", R / "mgus2.csv", "--time", "futime", "--event", "death",
              "--covariates", "age,sex,hgb,creat,mspike", "--out", out)
    assert "dropped 46 row(s)" in res.output  # 1384 rows, 1338 complete (R's n)
