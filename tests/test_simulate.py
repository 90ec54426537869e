"""The synthetic cohort simulator: determinism, validity under the data contract, the command line,
scenario files, and the sanity of the latent truth (docs/simulator.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.contract import LAB_TESTS, TABLES
from mrdtrack.io.read import read_cohort, validate_tables
from mrdtrack.simulate import Scenario, ScenarioError, load_scenario, make_scenario, simulate_cohort
from mrdtrack.simulate.latent import YEAR, burden_at, draw_latent
from mrdtrack.simulate.scenario import packaged_scenario_text, scenario_toml

runner = CliRunner()


@pytest.fixture(scope="module")
def sim():
    return simulate_cohort(400, 7)


@pytest.fixture(scope="module")
def sim_null():
    return simulate_cohort(400, 7, "null")


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- determinism -------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_files(tmp_path):
    for d in ("a", "b"):
        r = runner.invoke(app, ["simulate", "--n", "60", "--seed", "11", "--out", str(tmp_path / d), "--truth"])
        assert r.exit_code == 0, r.output
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    assert set(a) == {f"{t}.csv" for t in TABLES} | {"truth/truth.csv"}


def test_same_seed_gives_identical_parquet_tables(tmp_path):
    for d in ("a", "b"):
        r = runner.invoke(app, ["simulate", "--n", "30", "--seed", "3", "--out", str(tmp_path / d),
                                "--format", "parquet"])
        assert r.exit_code == 0, r.output
    for t in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{t}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{t}.parquet"))


def test_another_seed_gives_another_cohort(sim):
    other = simulate_cohort(400, 8)
    assert not other.tables["labs"].equals(sim.tables["labs"])
    assert not other.tables["patients"]["diagnosis_date"].equals(sim.tables["patients"]["diagnosis_date"])


def test_a_cohort_is_a_prefix_free_function_of_n_and_seed():
    """Simulating twice in one process gives equal frames (no hidden global state)."""
    a, b = simulate_cohort(50, 5), simulate_cohort(50, 5)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.tables[t], b.tables[t])
    pd.testing.assert_frame_equal(a.truth, b.truth)


# --- validity under the contract -----------------------------------------------------------------

@pytest.mark.parametrize("which", ["sim", "sim_null"])
def test_simulated_tables_pass_validation_without_issues(which, request):
    s = request.getfixturevalue(which)
    res = validate_tables(s.tables)
    assert res.cohort is not None
    assert res.issues.empty, res.issues.head(10).to_string()
    assert len(res.cohort.patients) == 400


def test_written_folder_reads_back_without_errors(tmp_path):
    r = runner.invoke(app, ["simulate", "--n", "80", "--seed", "2", "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    res = read_cohort(tmp_path / "c")
    assert res.cohort is not None
    assert not (res.issues["severity"] == "error").any()


def test_raw_format_columns_and_types(sim):
    t = sim.tables
    for name, df in t.items():
        assert list(df.columns) == [c for c in TABLES[name].column_names if c in df.columns]
        for c in TABLES[name].columns:
            if c.always_required:
                assert c.name in df.columns and df[c.name].notna().all(), (name, c.name)
            if c.type == "date" and c.name in df.columns:
                assert pd.api.types.is_datetime64_any_dtype(df[c.name]), (name, c.name)
    labs = t["labs"]
    assert set(labs["test"]) <= set(LAB_TESTS)
    numeric = labs["test"].map(lambda x: LAB_TESTS[x].numeric)
    assert labs.loc[numeric, "value"].map(lambda v: isinstance(v, float)).all()
    assert labs.loc[~numeric, "value"].map(lambda v: isinstance(v, str)).all()
    assert (labs.loc[numeric, "unit"] == labs.loc[numeric, "test"].map(lambda x: LAB_TESTS[x].canonical_unit)).all()
    assert labs.loc[~numeric, "unit"].isna().all()


def test_every_patient_has_measurable_baseline_labs_before_induction(sim):
    t = sim.tables
    ind = t["treatments"].query("phase == 'induction'").set_index("patient_id")["start_date"]
    labs = t["labs"].join(ind.rename("ind"), on="patient_id")
    base = labs[(labs["date"] <= labs["ind"]) & (labs["date"] >= labs["ind"] - pd.Timedelta(days=60))]
    assert base["patient_id"].nunique() == len(t["patients"])
    wide = base.pivot_table(index="patient_id", columns="test", values="value", aggfunc="last")
    heavy = t["patients"].set_index("patient_id")["heavy_chain"]
    igg_iga = heavy[heavy.isin(["IgG", "IgA"])].index
    assert (wide.loc[igg_iga, "serum_m_protein"].astype(float) >= 1.0).mean() > 0.95
    light = heavy[heavy == "none"].index
    lc = t["patients"].set_index("patient_id").loc[light, "light_chain"]
    inv = np.where(lc == "kappa", wide.loc[light, "flc_kappa"].astype(float), wide.loc[light, "flc_lambda"].astype(float))
    ratio = wide.loc[light, "flc_kappa"].astype(float) / wide.loc[light, "flc_lambda"].astype(float)
    assert (inv >= 100).all()
    assert ((ratio < 0.26) | (ratio > 1.65)).all()


def test_population_mix():
    p = simulate_cohort(3000, 1).tables["patients"]
    assert abs(p["age_at_diagnosis"].median() - 60) <= 2
    share = p["heavy_chain"].value_counts(normalize=True)
    assert 0.50 < share["IgG"] < 0.60 and 0.16 < share["IgA"] < 0.25 and 0.16 < share["none"] < 0.25
    assert set(p["sex"]) == {"F", "M"} and set(p["iss_stage"]) == {"I", "II", "III"}


def test_mrd_samples_follow_their_lod(sim):
    m = sim.tables["mrd"]
    det = m["result"] == "detected"
    assert (m.loc[det, "level"] >= m.loc[det, "lod"]).all()
    assert m.loc[~det, "level"].isna().all()
    lod = m.groupby("method")["lod"].agg(["min", "max"])
    assert lod.loc["MFC", "min"] >= 4e-5 - 1e-12 and lod.loc["MFC", "max"] <= 1e-4
    assert lod.loc["NGF", "min"] >= 2e-6 - 1e-12 and lod.loc["NGF", "max"] <= 1e-5
    assert lod.loc["NGS", "max"] <= 2e-6
    per_patient = len(m) / len(sim.tables["patients"])
    assert 2.0 < per_patient < 3.6


def test_one_maintenance_row_per_patient_and_phases_in_order(sim):
    tr = sim.tables["treatments"]
    assert (tr["phase"] == "maintenance").groupby(tr["patient_id"]).sum().eq(1).all()
    ok = tr["end_date"].isna() | (tr["end_date"] >= tr["start_date"])
    assert ok.all()
    ended = tr[(tr["phase"] == "maintenance") & tr["end_date"].notna()]
    assert set(ended["end_reason"]) <= {"progression", "toxicity", "completed", "death", "mrd_guided_stop"}


# --- the command line ------------------------------------------------------------------------------

def test_cli_help_has_an_example():
    r = runner.invoke(app, ["simulate", "--help"])
    assert r.exit_code == 0
    assert "Example: mrdtrack simulate" in r.output


@pytest.mark.parametrize("args", [
    ["--n", "0", "--seed", "1"],
    ["--n", "10", "--seed", "-1"],
    ["--n", "ten", "--seed", "1"],
    ["--n", "10", "--seed", "1", "--format", "xlsx"],
    ["--n", "10", "--seed", "1", "--scenario", "no-such-file.toml"],
    ["--seed", "1"],
])
def test_cli_bad_arguments_exit_2(args, tmp_path):
    r = runner.invoke(app, ["simulate", *args, "--out", str(tmp_path / "c")])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_cli_bad_scenario_file_exits_2_naming_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "mine"\nmaintenance_slope = -1.0\n')
    r = runner.invoke(app, ["simulate", "--n", "10", "--seed", "1", "--out", str(tmp_path / "c"),
                            "--scenario", str(bad)])
    assert r.exit_code == 2
    assert "maintenance_slope" in r.output and "unknown scenario field" in r.output
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    r = runner.invoke(app, ["simulate", "--n", "10", "--seed", "1", "--out", str(tmp_path / "d"),
                            "--scenario", str(broken)])
    assert r.exit_code == 2 and "not valid TOML" in r.output


def test_cli_user_scenario_file_is_used(tmp_path):
    ngs = tmp_path / "ngs.yaml"
    ngs.write_text("name: ngs-only\nmethod_shares: [0, 0, 1]\n")
    r = runner.invoke(app, ["simulate", "--n", "40", "--seed", "1", "--out", str(tmp_path / "c"),
                            "--scenario", str(ngs)])
    assert r.exit_code == 0, r.output
    m = pd.read_csv(tmp_path / "c" / "mrd.csv")
    assert set(m["method"]) == {"NGS"}


def test_cli_writes_into_an_existing_file_path_fails(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = runner.invoke(app, ["simulate", "--n", "5", "--seed", "1", "--out", str(f)])
    assert r.exit_code == 2 and "exists and is a file" in r.output


# --- scenarios -------------------------------------------------------------------------------------

def test_packaged_scenarios_load():
    d, n = load_scenario("default"), load_scenario("null")
    assert d.name == "default" and not d.independent_progression
    assert n.name == "null" and n.independent_progression
    assert d == Scenario()  # default.toml spells out every default
    assert packaged_scenario_text("default") == scenario_toml(Scenario())
    assert n == make_scenario({"name": "null", "independent_progression": True, "independent_pfs_median_years": 4.3,
                               "independent_pfs_shape": 1.3, "independent_cap_margin": 1.0,
                               "progression_surge_per_year": 120.0})


@pytest.mark.parametrize("values, words", [
    ({"no_such_field": 1}, "unknown scenario field"),
    ({"age_median": "sixty"}, "expected a number"),
    ({"iss_shares": [0.5, 0.5, 0.5]}, "summing to 1"),
    ({"induction_days_range": [200, 100]}, "low <= high"),
    ({"male_share": 1.5}, "in [0, 1]"),
    ({"data_cut": "2016-01-01"}, "at least 2 years"),
    ({"independent_progression": "yes"}, "true or false"),
])
def test_bad_scenario_values_are_rejected(values, words):
    with pytest.raises(ScenarioError, match=None) as exc:
        make_scenario(values)
    assert words in str(exc.value)


def test_every_scenario_field_is_documented():
    docs = Scenario.docs()
    assert all(doc for _, doc in docs.values())
    text = (Path(__file__).parents[1] / "docs" / "simulator.md").read_text(encoding="utf-8")
    missing = [name for name in docs if f"`{name}`" not in text]
    assert not missing, missing


# --- the latent truth ------------------------------------------------------------------------------

def test_truth_has_one_row_per_patient_with_the_latent_parameters(sim):
    tr = sim.truth
    assert list(tr["patient_id"]) == list(sim.tables["patients"]["patient_id"])
    for col in ("burden_maintenance_start_log10", "maintenance_slope_per_year", "regrowth_delay_years",
                "true_progression_date", "true_mrd_kinetics_1e-04", "true_mrd_kinetics_1e-05"):
        assert col in tr.columns
    kinds = {"not_evaluable", "lost_negativity", "remained_negative", "converted_negative", "decreasing",
             "increasing", "stable"}
    assert set(tr["true_mrd_kinetics_1e-04"]) <= kinds
    assert (tr.loc[tr["latent_kinetics"] == "deepening", "maintenance_slope_per_year"] < 0).all()


def test_progression_is_observed_close_to_the_true_date(sim):
    tr = sim.truth[sim.truth["progression_observed"]]
    lag = (tr["detected_progression_date"] - tr["true_progression_date"]).dt.days
    assert (lag >= 0).all() and lag.quantile(0.95) <= 95
    events = sim.tables["events"].query("event == 'progression'").set_index("patient_id")["date"]
    det = tr.set_index("patient_id")["detected_progression_date"].reindex(events.index)
    assert ((events - det).dt.days.abs() <= 30).mean() > 0.99


def test_burden_reaches_the_progression_level_at_the_true_progression_time():
    sc = load_scenario("default")
    lat = draw_latent(np.random.default_rng(4), 2000, sc)
    idx = np.arange(lat.n)
    at = burden_at(lat, idx, lat.t_prog)
    assert np.allclose(at[~lat.clinical_prog], lat.b_prog[~lat.clinical_prog], atol=1e-6)
    before = burden_at(lat, idx, lat.t_prog - 5.0)
    assert (before < lat.b_prog + 1e-9).all()


def test_null_scenario_progression_is_independent_of_the_trajectory():
    sc = load_scenario("null")
    lat = draw_latent(np.random.default_rng(5), 20000, sc)
    years = (lat.t_prog - lat.t_maint) / YEAR
    by_class = [np.median(years[lat.kinetics == k]) for k in range(3)]
    assert max(by_class) - min(by_class) < 0.25
    assert abs(np.corrcoef(years, lat.slope)[0, 1]) < 0.03
    # the burden still produces the progression: at the drawn time it is at the progression level
    idx = np.arange(lat.n)
    assert np.allclose(burden_at(lat, idx, lat.t_prog), lat.b_prog, atol=1e-6)
    default = draw_latent(np.random.default_rng(5), 20000, load_scenario("default"))
    d_years = (default.t_prog - default.t_maint) / YEAR
    d_class = [np.median(d_years[default.kinetics == k]) for k in range(3)]
    assert max(d_class) - min(d_class) > 1.0


def test_observations_come_from_the_burden_not_the_class_labels():
    """Two patients with the same latent trajectory but different labels produce the same serology."""
    sc = load_scenario("default")
    lat = draw_latent(np.random.default_rng(9), 4, sc)
    for name in ("b0", "b_ind", "b_tx", "b_maint", "slope", "delay", "regrowth", "floor", "cap", "b_prog", "t_prog",
                 "t_dx", "t_ind_start", "t_ind_end", "t_tx", "t_cons_start", "t_cons_end", "t_maint"):
        getattr(lat, name)[1] = getattr(lat, name)[0]
    lat.kinetics[0], lat.kinetics[1] = 0, 2
    days = lat.t_maint[0] + np.arange(0, 3000, 90.0)
    a = burden_at(lat, np.zeros(len(days), int), days)
    b = burden_at(lat, np.ones(len(days), int), days)
    assert np.array_equal(a, b)

