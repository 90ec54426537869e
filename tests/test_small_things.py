"""What a new user meets first: unusable output paths, simulate without --seed, numbers for people."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.report.fmt import for_people

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_out_naming_an_existing_file_is_a_clear_error(command, tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("x", encoding="utf-8")
    res = _run(command, EXAMPLE, "--out", target)
    assert res.exit_code == 2, res.output
    assert "exists and is a file" in res.output and "internal error" not in res.output
    under = _run(command, EXAMPLE, "--out", target / "sub")
    assert under.exit_code == 2 and "cannot create the folder" in under.output


def test_simulate_and_patient_out_errors(tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("x", encoding="utf-8")
    assert _run("simulate", "--n", "3", "--out", target).exit_code == 2
    res = _run("patient", EXAMPLE, "P01", "--out", tmp_path)  # a folder where a file is expected
    assert res.exit_code == 2 and "is a folder" in res.output


def test_simulate_without_seed_uses_the_documented_default(tmp_path):
    from mrdtrack.commands.simulate import DEFAULT_SEED

    assert _run("simulate", "--n", "5", "--out", tmp_path / "a").exit_code == 0
    assert _run("simulate", "--n", "5", "--seed", DEFAULT_SEED, "--out", tmp_path / "b").exit_code == 0
    for name in ("patients.csv", "labs.csv", "mrd.csv"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)
    assert str(DEFAULT_SEED) in _run("simulate", "--help").output


def test_numbers_for_people():
    assert for_people("pfs_months", 66.62833675564681) == "66.6"
    assert for_people("mrd_log10_slope_per_year", -0.712345678) == "-0.71"
    assert for_people("mrd_log10_slope_per_year", 0.0031234) == "0.0031"
    assert for_people("mrd_samples", 3.0) == "3"
    assert for_people("followed", "serum") == "serum" and for_people("x", True) is True


def test_patient_page_shows_no_raw_floats(tmp_path):
    res = _run("patient", EXAMPLE, "P01", "--out", tmp_path / "p.html")
    assert res.exit_code == 0, res.output
    html = (tmp_path / "p.html").read_text(encoding="utf-8")
    body = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)  # figure coordinates are not for reading
    long_decimals = re.findall(r"\d+\.\d{4,}", re.sub(r"<style.*?</style>", "", body, flags=re.S))
    assert not long_decimals, long_decimals[:5]
