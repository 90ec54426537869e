"""Bad input to mrdtrack.stats gives a clear StatsInputError (exit 2 at the command line, no traceback) or a
documented warning returned with the result, never a silent NaN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.errors import UserError
from mrdtrack.stats import (
    StatsInputError,
    cox_fit,
    cumulative_incidence,
    km_curve,
    km_median,
    km_table,
    number_at_risk,
    tmerge,
)
from mrdtrack.stats.logrank import logrank_test

R = Path(__file__).parent / "fixtures" / "r"
runner = CliRunner()


def small(**over) -> pd.DataFrame:
    d = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 0, 1, 1, 0, 1], "g": list("aabbab"),
                      "x": [0.5, 1.2, 0.3, 2.2, 1.9, 0.1], "s": [0.0, 0, 1, 0, 2, 0]})
    return d.assign(**over)


def test_stats_input_error_is_a_user_error():
    assert issubclass(StatsInputError, UserError)


@pytest.mark.parametrize(("frame", "kwargs", "words"), [
    (small(t=[1.0, -2, 3, 4, 5, 6]), {}, ["'t'", "negative"]),
    (small(e=[1, 2, 0, 1, 0, 1]), {}, ["'e'", "neither 0/1"]),
    (small(e=["yes", "no", "maybe", "no", "yes", "no"]), {}, ["'e'", "'maybe'"]),
    (small(s=[0.0, 2, 1, 0, 2, 0]), {"start": "s"}, ["'s'", "not after start"]),
    (small(t=[np.nan] * 6), {}, ["no rows left", "t"]),
    (small(), {"group": "nope"}, ["nope", "not in the table"]),
])
def test_km_rejects_bad_input_naming_the_column(frame, kwargs, words):
    with pytest.raises(StatsInputError) as exc:
        km_table(frame, "t", "e", **kwargs)
    for w in words:
        assert w in str(exc.value)


def test_event_accepts_booleans_and_words():
    a = km_table(small(), "t", "e")
    b = km_table(small(e=[True, False, True, True, False, True]), "t", "e")
    c = km_table(small(e=["TRUE", "false", "True", "1", "0", "true"]), "t", "e")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_missing_rows_are_dropped_and_counted():
    d = small(x=[0.5, np.nan, 0.3, 2.2, 1.9, 0.1])
    fit = cox_fit(d, "t", "e", ["x"])
    assert fit.n == 5 and fit.n_dropped == 1
    assert km_table(d, "t", "e", group="g").attrs["n_dropped"] == 0  # x is not used by km


def test_group_without_events_is_a_warning_and_still_computed():
    d = small(e=[1, 1, 0, 0, 1, 0], g=list("aabbab"))  # group b: no events
    t = km_table(d, "t", "e", group="g")
    assert any("'b'" in w and "no events" in w for w in t.attrs["warnings"])
    curve = km_curve(d, "t", "e", group="g")
    assert (curve.loc[curve["strata"] == "b", "survival"] == 1).all()
    lr = logrank_test(d, "t", "e", "g")
    assert any("no events" in w for w in lr["warnings"]) and np.isfinite(lr["chisq"])


def test_perfectly_separating_covariate_is_flagged_as_R_warns():
    d = pd.DataFrame({"t": range(1, 9), "e": [1, 1, 1, 1, 0, 0, 0, 0], "x": [1, 1, 1, 1, 0, 0, 0, 0],
                      "z": [0.1, .5, .2, .9, .4, .3, .8, .7]})
    fit = cox_fit(d, "t", "e", ["x", "z"])
    assert fit.flagged == ["x"]
    assert any("infinite" in w for w in fit.warnings)
    # R 3.5-3 stops at the same place: coef(x) 22.73253, coef(z) -3.30758, "Ran out of iterations"
    np.testing.assert_allclose(fit.coef, [22.73253, -3.30758], rtol=1e-5)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"covariates": ["g"], "categorical": (), "ties": "exact"}, ["ties", "efron"]),
    ({"covariates": ["k"]}, ["'k'", "constant"]),
    ({"covariates": ["x", "x2"]}, ["collinear"]),
    ({"covariates": []}, ["at least one covariate"]),
])
def test_cox_rejects_models_it_cannot_fit(kwargs, words):
    d = small().assign(k=1.0, x2=lambda f: 2 * f["x"])
    with pytest.raises(StatsInputError) as exc:
        cox_fit(d, "t", "e", **kwargs)
    for w in words:
        assert w in str(exc.value)


def test_cox_without_events_is_an_error():
    with pytest.raises(StatsInputError, match="no events"):
        cox_fit(small(e=[0] * 6), "t", "e", ["x"])


def test_categorical_names_follow_R():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"t": rng.exponential(size=40), "e": rng.integers(0, 2, 40), "g": rng.choice(list("abc"), 40),
                      "flag": rng.integers(0, 2, 40).astype(bool), "n": rng.integers(1, 4, 40)})
    fit = cox_fit(d, "t", "e", ["g", "flag", "n"], categorical=["n"])
    assert fit.terms == ["gb", "gc", "flagTRUE", "n2", "n3"]
    assert fit.assign == {"g": [0, 1], "flag": [2], "n": [3, 4]}


def test_number_at_risk_matches_the_curve():
    d = pd.read_csv(R / "mgus2_derived.csv")
    curve = km_table(d, "futime", "death", group="sex", start="entry")
    times = [1.0, 5.0, 30.0, 100.0]
    ar = number_at_risk(d, "futime", times=times, group="sex", start="entry")
    got = ar.merge(curve, on=["strata", "time"])
    assert len(got) == 8 and (got["n_risk_x"] == got["n_risk_y"]).all()
    assert ar.loc[ar["strata"] == "F", "n_risk"].iloc[0] == 414  # entry < 1 <= futime, R's n.risk


def test_curve_keeps_censoring_times():
    c = km_curve(small(), "t", "e")
    assert list(c["time"]) == [1, 2, 3, 4, 5, 6]
    assert int((c["n_event"] + c["n_censor"]).sum()) == 6
    assert list(c["n_risk"]) == [6, 5, 4, 3, 2, 1]


def test_median_not_reached_is_nan_not_a_number():
    m = km_median(small(e=[1, 0, 0, 0, 0, 0]), "t", "e").iloc[0]
    assert np.isnan(m["median"]) and m["events"] == 1


def test_tmerge_rejects_duplicate_baseline_ids():
    base = pd.DataFrame({"id": [1, 1], "futime": [5, 6], "status": [1, 0]})
    with pytest.raises(StatsInputError, match="more than once"):
        tmerge(base, pd.DataFrame({"id": [1], "time": [2], "value": [1]}))


def test_tmerge_ignores_unknown_ids_with_a_warning():
    base = pd.DataFrame({"id": [1, 2], "futime": [5.0, 6.0], "status": [1, 0]})
    out = tmerge(base, pd.DataFrame({"id": [1, 9], "time": [2, 3], "value": [1, 1]}), initial=0)
    assert out["x"].tolist() == [0, 1, 0] and out["event"].tolist() == [0, 1, 0]
    assert out.attrs["warnings"]


def test_cif_without_events_is_an_error():
    with pytest.raises(StatsInputError, match="no events"):
        cumulative_incidence(pd.DataFrame({"t": [1, 2], "c": [0, 0]}), "t", "c")


@pytest.mark.parametrize("args", [
    ["km", "{csv}", "--time", "t", "--event", "g", "--out", "{out}"],
    ["km", "{csv}", "--time", "t", "--event", "e", "--conf-type", "logit", "--out", "{out}"],
    ["km", "{missing}", "--time", "t", "--event", "e", "--out", "{out}"],
    ["cox", "{csv}", "--time", "t", "--event", "e", "--covariates", "zz", "--out", "{out}"],
    ["cox", "{csv}", "--time", "t", "--event", "e", "--covariates", "x", "--ties", "exact", "--out", "{out}"],
    ["logrank", "{csv}", "--time", "s", "--event", "e", "--group", "g", "--start", "s", "--out", "{out}"],
    ["cox", "{csv}", "--time", "t", "--event", "e", "--start", "t", "--covariates", "x", "--out", "{out}"],
])
def test_cli_bad_input_exits_2_without_traceback(args, tmp_path):
    csv = tmp_path / "d.csv"
    small().to_csv(csv, index=False)
    fill = {"csv": csv, "out": tmp_path / "o.csv", "missing": tmp_path / "nope.csv"}
    res = runner.invoke(app, ["stats", *[a.format(**fill) for a in args]])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_cli_help_has_an_example_for_each_command():
    for cmd in ("km", "logrank", "cox", "cif"):
        res = runner.invoke(app, ["stats", cmd, "--help"])
        assert res.exit_code == 0 and "Example: mrdtrack stats " + cmd in " ".join(res.output.split())


def test_stratum_without_events_is_a_warning():
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"t": rng.exponential(size=30), "e": rng.integers(0, 2, 30), "x": rng.normal(size=30),
                      "s": ["a"] * 25 + ["b"] * 5})
    d.loc[d["s"] == "b", "e"] = 0
    fit = cox_fit(d, "t", "e", ["x"], strata="s")
    assert any("s=b" in w and "no events" in w for w in fit.warnings)
    assert np.isfinite(fit.table["coef"]).all()


def test_cli_error_names_file_column_and_original_row(tmp_path):
    csv = tmp_path / "d.csv"
    small(t=[1.0, np.nan, 3, -4, 5, 6]).to_csv(csv, index=False)  # data row 2 dropped, row 4 negative
    res = runner.invoke(app, ["stats", "km", str(csv), "--time", "t", "--event", "e", "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "d.csv" in text and "'t'" in text and "negative time -4" in text and "row 4" in text
