"""The analyze pipeline end to end (docs/cli.md outputs) and its per-patient building blocks."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from builders import make_cohort
from mrdtrack.cli import app
from mrdtrack.config import make_config
from mrdtrack.mrd.samples import sample_frame
from mrdtrack.pipeline import (
    ASSESSMENT_COLUMNS,
    MRD_COLUMNS,
    PATIENT_COLUMNS,
    derive_all,
    landmark_trends,
    mrd_covariate_changes,
)
from mrdtrack.timeline import patient_anchors

EXAMPLE = Path(__file__).parents[1] / "examples" / "cohort"
runner = CliRunner()


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze")
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(out), "--profile", "alonso2020"])
    assert res.exit_code == 0, res.output
    return out


def test_outputs_have_contract_columns(analyzed):
    assert list(pd.read_csv(analyzed / "assessments.csv").columns) == ASSESSMENT_COLUMNS
    assert list(pd.read_csv(analyzed / "mrd.csv").columns) == MRD_COLUMNS
    patients = pd.read_csv(analyzed / "patients.csv", dtype=str, keep_default_na=False)
    assert list(patients.columns[: len(PATIENT_COLUMNS)]) == PATIENT_COLUMNS
    assert set(patients["pfs_event"]) <= {"true", "false", ""}
    assert patients["maintenance_start"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    issues = pd.read_csv(analyzed / "issues.csv")
    assert list(issues.columns) == ["severity", "code", "table", "row", "patient_id", "column", "value", "message"]
    from mrdtrack.issue_codes import CODES

    assert issues["code"].notna().all() and set(issues["code"]) <= set(CODES)


def test_example_patients_as_their_stories_say(analyzed):
    p = pd.read_csv(analyzed / "patients.csv", dtype=str, keep_default_na=False).set_index("patient_id")
    assert p.loc["P01", "best_response"] == "sCR"
    assert p.loc["P03", "followed"] == "flc"
    assert p.loc["P05", "followed"] == "urine"
    assert p.loc["P02", "pfs_event"] == "true" and p.loc["P02", "progression_source"] == "derived"
    assert p.loc["P06", "os_event"] == "true"
    assert p.loc["P05", "mrd_kinetics"] == "converted_negative"


def test_summary_keys_and_config(analyzed):
    s = json.loads((analyzed / "summary.json").read_text())
    for key in ("config", "provenance", "counts", "deepest_during_maintenance", "mrd_conversion",
                "progressed_after_mrd_negative", "median_pfs_months", "median_os_months", "median_pfs_dx_months",
                "median_os_dx_months", "pfs_by_mrd_trend", "landmark", "time_varying_cox"):
        assert key in s, key
    assert s["config"]["mrd_threshold"] == 1e-4 and s["provenance"]["profile"] == "alonso2020"
    assert len(s["provenance"]["inputs"]["labs"]["sha256"]) == 64
    share = s["deepest_during_maintenance"]
    assert share["ci_low"] <= share["value"] <= share["ci_high"]


def test_outputs_identical_whatever_batch_size_and_jobs(analyzed, tmp_path):
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(tmp_path), "--profile", "alonso2020",
                              "--batch-size", "1", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    for name in ("assessments.csv", "mrd.csv", "patients.csv", "issues.csv", "summary.json"):
        assert (tmp_path / name).read_bytes() == (analyzed / name).read_bytes(), name


def test_invalid_cohort_exits_2_and_exclude_invalid_lists_rows(tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(EXAMPLE, bad)
    labs = (bad / "labs.csv").read_text().splitlines()
    labs[5] = ",".join(labs[5].split(",")[:3] + ["abc"] + labs[5].split(",")[4:])
    (bad / "labs.csv").write_text("\n".join(labs) + "\n")
    res = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2
    assert "validation error" in res.output
    res = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o2"), "--exclude-invalid"])
    assert res.exit_code == 0, res.output
    issues = pd.read_csv(tmp_path / "o2" / "issues.csv")
    excluded = issues[issues["severity"] == "excluded"]
    assert (excluded["row"] == 6).any() and (excluded["table"] == "labs").any()


def test_pseudonymize_needs_key(tmp_path, monkeypatch):
    monkeypatch.delenv("MRDTRACK_PSEUDONYM_KEY", raising=False)
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(tmp_path), "--pseudonymize"])
    assert res.exit_code == 2


def test_bad_profile_and_config_exit_2(tmp_path):
    assert runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(tmp_path), "--profile", "x"]).exit_code == 2
    cfg = tmp_path / "c.toml"
    cfg.write_text("mrd_threshold = 'high'\n")
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(tmp_path), "--config", str(cfg)])
    assert res.exit_code == 2 and "mrd_threshold" in res.output


def test_config_file_changes_threshold(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mrd_threshold: 0.001\n")
    res = runner.invoke(app, ["analyze", str(EXAMPLE), "--out", str(tmp_path / "o"), "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["config"]["mrd_threshold"] == 0.001


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_alerts_command(fmt):
    res = runner.invoke(app, ["alerts", str(EXAMPLE), "--as-of", "2020-09-10", "--format", fmt])
    assert res.exit_code == 0, res.output
    if fmt == "csv":
        rows = pd.read_csv(__import__("io").StringIO(res.output))
        assert list(rows.columns) == ["patient_id", "alert", "since", "detail"]
        assert ((rows["patient_id"] == "P06") & rows["alert"].isin(["progression", "pd_unconfirmed"])).any()


def test_alerts_bad_date_exits_2():
    assert runner.invoke(app, ["alerts", str(EXAMPLE), "--as-of", "2020-13-01"]).exit_code == 2


def _mrd_patient(samples):
    return make_cohort(
        patients=[("A", "2019-01-01")],
        treatments=[("A", "induction", "VRD", "2019-01-15", "2019-06-01"),
                    ("A", "maintenance", "lenalidomide", "2019-09-01", None)],
        mrd=[("A", d, "NGS", 1e-6, r, lvl) for d, r, lvl in samples],
        events=[("A", "2023-01-01", "last_contact")],
    )


def test_mrd_covariate_changes_carry_the_latest_status():
    cohort = _mrd_patient([("2019-08-20", "detected", 1e-3), ("2020-09-01", "detected", 1e-4),
                           ("2021-09-01", "not_detected", None)])
    config = make_config()
    d = derive_all(cohort, config)
    ch = mrd_covariate_changes(d.mrd, d.patients, d.anchors)
    # time 0: entry positive; 2020-09-01 still positive; 2021-09-01 negative (731 days)
    assert ch["time_days"].tolist() == [0.0, 366.0, 731.0]
    assert ch["mrd_negative"].tolist() == [0.0, 0.0, 1.0]


def test_landmark_trend_uses_only_samples_up_to_landmark():
    cohort = _mrd_patient([("2019-08-20", "detected", 1e-3), ("2020-06-01", "detected", 1e-4),
                           ("2021-08-01", "not_detected", None)])  # the 24-month landmark is 2021-08-31
    config = make_config()
    anchors, _ = patient_anchors(cohort)
    anchors["progression_date"] = pd.NaT
    samples = sample_frame(cohort.mrd, anchors["patient_id"].to_numpy(), config)[0]
    assert landmark_trends(samples, anchors, config, 12).tolist() == ["decreasing"]
    assert landmark_trends(samples, anchors, config, 24).tolist() == ["negative"]


def test_zero_pfs_time_does_not_break_time_varying_cox():
    from mrdtrack.outcomes.cohort_statistics import time_varying_mrd_cox

    patients = pd.DataFrame({
        "patient_id": ["A", "B", "C", "D"], "in_maintenance_cohort": [True] * 4,
        "pfs_days": [0.0, 300.0, 500.0, 700.0], "pfs_event": [True, True, False, True]})
    changes = pd.DataFrame({"patient_id": ["A", "B", "C", "D", "D"], "time_days": [0.0, 0.0, 0.0, 0.0, 200.0],
                            "mrd_negative": [0.0, 0.0, 1.0, 0.0, 1.0]})
    res, _ = time_varying_mrd_cox(patients, changes, make_config())
    assert res["n"] == 3 and res["events"] == 2
