"""The patient page (``mrdtrack patient``) on the example cohort."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.config import make_config
from mrdtrack.errors import UserError
from mrdtrack.io.read import read_cohort
from mrdtrack.pseudonym import KEY_ENV, pseudonymize_id
from mrdtrack.report import external_references

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"
runner = CliRunner()


@pytest.fixture(scope="module")
def cohort():
    return read_cohort(EXAMPLE).cohort


@pytest.fixture(scope="module")
def view_p02(cohort):
    from mrdtrack.commands.patient import build_patient_view

    return build_patient_view(cohort, "P02", make_config(), None)


def test_view_holds_the_patients_own_rows(cohort, view_p02):
    v = view_p02
    assert v["patient_id"] == "P02"
    mrd = cohort.mrd[cohort.mrd["patient_id"] == "P02"]
    assert [m["date"] for m in v["mrd"]] == sorted(mrd["date"].dt.strftime("%Y-%m-%d"))
    tr = cohort.treatments[cohort.treatments["patient_id"] == "P02"]
    assert sorted(t["phase"] for t in v["treatments"]) == sorted(tr["phase"])
    labs = cohort.labs[(cohort.labs["patient_id"] == "P02") & (cohort.labs["test"] == "serum_m_protein")]
    shown = [x["value"] for x in v["labs"] if x["test"] == "serum_m_protein"]
    assert shown == labs.sort_values("date")["value_num"].tolist()
    assert all(r["confirmed_response"] for r in v["confirmed_responses"])
    assert v["as_of"] == v["data_cut"] == cohort.data_cut.strftime("%Y-%m-%d")


def test_view_is_plain_json(view_p02):
    from mrdtrack.report.patient_page import view_json

    back = json.loads(view_json(view_p02))
    assert back["patient_id"] == "P02"
    assert set(back) >= {"treatments", "labs", "mrd", "confirmed_responses", "events", "alerts", "summary"}


def test_alerts_follow_the_as_of_date(cohort):
    from mrdtrack.commands.patient import build_patient_view
    from mrdtrack.mrd.alerts import patient_alerts
    from mrdtrack.pipeline import derive_batch

    cfg = make_config()
    for pid in cohort.patients["patient_id"]:
        for as_of in (None, pd.Timestamp("2020-06-30")):
            v = build_patient_view(cohort, pid, cfg, as_of)
            d = derive_batch(cohort.subset([pid]), cfg)
            expected = patient_alerts(d.assessments, d.mrd, d.anchors, cfg,
                                      as_of if as_of is not None else cohort.data_cut)
            assert [a["alert"] for a in v["alerts"]] == expected["alert"].tolist()


def test_html_page_is_self_contained_with_the_timeline(view_p02):
    from mrdtrack.report.patient_page import render_patient_html

    html = render_patient_html(view_p02)
    assert external_references(html) == [] and "<script" not in html
    assert html.count("<svg ") == 1
    for sid in ("patient", "alerts", "timeline", "course", "treatments", "responses", "mrd-samples", "events"):
        assert f'<section id="{sid}"' in html
    assert "Minimal residual disease" in html and "threshold T = 1e-05" in html
    assert '"Segoe UI"' in html  # the stylesheet is inlined unescaped


def test_unknown_patient_is_a_user_error(cohort):
    from mrdtrack.commands.patient import build_patient_view

    with pytest.raises(UserError, match="NOPE"):
        build_patient_view(cohort, "NOPE", make_config(), None)


def test_pseudonym_or_original_id_finds_the_patient(cohort):
    from mrdtrack.commands.patient import build_patient_view

    p = pseudonymize_id("P03", "k")
    for asked in ("P03", p):
        v = build_patient_view(cohort, asked, make_config(), None, key="k")
        assert v["patient_id"] == p
        assert "P03" not in json.dumps(v)


def test_cli_writes_html_and_json(tmp_path):
    out = tmp_path / "p.html"
    r = runner.invoke(app, ["patient", str(EXAMPLE), "P01", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    js = tmp_path / "p.json"
    r = runner.invoke(app, ["patient", str(EXAMPLE), "P01", "--out", str(js), "--json", "--as-of", "2020-01-01"])
    assert r.exit_code == 0, r.output
    assert json.loads(js.read_text())["as_of"] == "2020-01-01"


@pytest.mark.parametrize("args", [["NOPE"], ["P01", "--as-of", "31/12/2020"], ["P01", "--profile", "nope"]])
def test_cli_user_errors_exit_2(tmp_path, args):
    r = runner.invoke(app, ["patient", str(EXAMPLE), *args, "--out", str(tmp_path / "x.html")])
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "x.html").exists()


def test_cli_pseudonymize_needs_the_key_and_hides_the_id(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    out = tmp_path / "x.html"
    r = runner.invoke(app, ["patient", str(EXAMPLE), "P01", "--out", str(out), "--pseudonymize"])
    assert r.exit_code == 2
    monkeypatch.setenv(KEY_ENV, "secret")
    r = runner.invoke(app, ["patient", str(EXAMPLE), "P01", "--out", str(out), "--pseudonymize"])
    assert r.exit_code == 0, r.output
    html = out.read_text(encoding="utf-8")
    assert pseudonymize_id("P01", "secret") in html
    assert not re.search(r"\bP01\b", html)
