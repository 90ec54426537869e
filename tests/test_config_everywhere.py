"""The resolved configuration governs validation on every path and every command.

A lab dated 103 days before diagnosis breaks the contract's default (pre_diagnosis_days = 90) and
is accepted with pre_diagnosis_days = 120 given by --config: for `validate` and `analyze`, in
memory (--partitions 0) and partitioned (--partitions 2).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("early") / "cohort"
    shutil.copytree(EXAMPLE, dst)
    with open(dst / "labs.csv", "a", encoding="utf-8") as f:  # P01 diagnosed 2018-01-15: 103 days before
        f.write("P01,2017-10-04,serum_m_protein,3.0,g/dL\n")
    return dst


@pytest.fixture(scope="module")
def lenient(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "lenient.toml"
    path.write_text("pre_diagnosis_days = 120\n", encoding="utf-8")
    return path


def _run(args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})


@pytest.mark.parametrize("partitions", ["0", "2"])
def test_validate_honours_config(cohort, lenient, partitions):
    strict = _run(["validate", cohort, "--format", "csv", "--partitions", partitions])
    assert strict.exit_code == 2
    assert "more than 90 days before diagnosis_date" in strict.output
    relaxed = _run(["validate", cohort, "--format", "csv", "--partitions", partitions, "--config", lenient])
    assert relaxed.exit_code == 0, relaxed.output
    assert "days before diagnosis_date" not in relaxed.output


@pytest.mark.parametrize("partitions", ["0", "2"])
def test_analyze_honours_config(cohort, lenient, partitions, tmp_path):
    strict = _run(["analyze", cohort, "--out", tmp_path / "strict", "--partitions", partitions])
    assert strict.exit_code == 2 and "validation error" in strict.output
    assert not (tmp_path / "strict" / "assessments.csv").exists()
    relaxed = _run(["analyze", cohort, "--out", tmp_path / "relaxed", "--partitions", partitions,
                    "--config", lenient])
    assert relaxed.exit_code == 0, relaxed.output
    assert (tmp_path / "relaxed" / "assessments.csv").exists()


def test_read_cohort_applies_the_configuration(cohort, lenient):
    from mrdtrack.config import load_config
    from mrdtrack.io.read import read_cohort

    strict = read_cohort(cohort)
    assert list(strict.issues.loc[strict.issues["severity"] == "error", "code"]) == ["DATE_BEFORE_DIAGNOSIS"]
    relaxed = read_cohort(cohort, config=load_config("imwg2016", lenient))
    assert relaxed.cohort is not None and not (relaxed.issues["severity"] == "error").any()


def test_validate_takes_a_profile(cohort):
    res = _run(["validate", cohort, "--profile", "alonso2020", "--format", "csv"])
    assert res.exit_code == 2  # the profile changes MRD thresholds, not the contract window
    bad = _run(["validate", cohort, "--profile", "nonsense"])
    assert bad.exit_code == 2 and "profile" in bad.output
