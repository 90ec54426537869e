"""The study report: content, order, self-containment, empty groups, pseudonyms (hand-made Analysis)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from mrdtrack.pseudonym import pseudonymize_frames
from mrdtrack.report import SECTION_IDS, external_references, write_report
from mrdtrack.report import html as report_html
from test_report_data import make_analysis


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    analysis = make_analysis()
    path = write_report(analysis, out, "fixture-cohort")
    return analysis, out, path.read_text(encoding="utf-8")


def section_order(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def test_every_section_present_in_order(rendered):
    _, _, html = rendered
    assert section_order(html) == list(SECTION_IDS)


def test_no_external_resource_and_no_script(rendered):
    _, _, html = rendered
    assert external_references(html) == []
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "<img" not in html.lower()


@pytest.mark.parametrize("snippet", [
    '<img src="https://example.org/x.png">',
    '<link rel="stylesheet" href="http://cdn.example.org/a.css">',
    '<script src="//cdn.example.org/a.js"></script>',
    "<style>body { background: url('https://example.org/bg.png') }</style>",
    "<style>@import 'x.css';</style>",
    '<use xlink:href="https://example.org/sprite.svg#a"/>',
])
def test_external_reference_detector_catches_injections(snippet):
    assert external_references(f"<html><body>{snippet}</body></html>")


def test_local_references_and_quoted_text_are_allowed():
    ok = ('<a href="#methods">m</a><path clip-path="url(#p1)"/><use xlink:href="#m1"/><code>https://doi.org</code>'
          '<td>note: src=http://lab.example/x and url(//a)</td>')
    assert external_references(ok) == []


def test_inline_style_attribute_is_checked():
    assert external_references('<div style="background: url(//cdn.example.org/a.png)">x</div>')


def test_injected_external_url_makes_the_report_fail(tmp_path, monkeypatch):
    css = report_html.stylesheet()
    injected = css + "\nbody { background: url(https://evil.example/x.png) }"
    monkeypatch.setattr(report_html, "stylesheet", lambda: injected)
    with pytest.raises(RuntimeError, match="external"):
        write_report(make_analysis(n=9), tmp_path, "x")
    assert not (tmp_path / "report.html").exists()


def _at_risk_in_svg(html: str, figure: str) -> dict[tuple[str, float], int]:
    pat = re.compile(rf'<g id="{figure}--atrisk-([A-Za-z0-9_.]+)-([0-9.]+)">\s*<text[^>]*>(\d+)</text>')
    return {(s, float(t)): int(n) for s, t, n in pat.findall(html)}


@pytest.mark.parametrize("curve", ["km_pfs", "km_os", "km_pfs_by_trend", "km_landmark_12"])
def test_km_numbers_at_risk_equal_the_statistics_table(rendered, curve):
    analysis, _, html = rendered
    ar = analysis.statistics["at_risk"]
    expected = {(r.strata, float(r.time)): int(r.n_risk) for r in ar[ar["curve"] == curve].itertuples()}
    assert expected
    assert _at_risk_in_svg(html, curve) == expected


def test_headline_figures_come_from_the_summary(rendered):
    analysis, _, html = rendered
    s = analysis.summary
    assert "8/21 (38.1%" in html  # deepest_during_maintenance
    assert "3/9 (33.3%" in html  # mrd_conversion
    assert "2/12 (16.7%" in html  # progressed_after_mrd_negative
    assert "30.5 (95% CI 20.1 to NR)" in html  # median PFS, upper limit not reached
    assert "log-rank p = 0.031" in html
    assert s["time_varying_cox"]["hr"] == 0.4 and "HR 0.40 (95% CI 0.20 to 0.90)" in html


def test_provenance_and_configuration_in_header(rendered):
    _, _, html = rendered
    header = html.split('<section id="attrition"')[0]
    assert "ab" * 32 in header and "cd" * 32 in header
    assert "fixture-cohort" in header and "2020-06-30" in header and "imwg2016" in header
    assert "mrd_threshold" in header and "1e-05" in header


def test_attrition_lists_exclusions_with_reasons(rendered):
    _, out, html = rendered
    section = html.split('<section id="attrition"')[1].split('<section id="table1"')[0]
    # exclusions are grouped by their code, shown with the code's meaning
    assert "LAB_UNKNOWN_UNIT" in section and "PATIENT_LEFT_OUT" in section
    assert "a patient is left out whole" in section
    flow = pd.read_csv(out / "tables" / "attrition.csv")
    assert flow.set_index("table").loc["patients", ["in", "excluded", "used"]].tolist() == [25, 1, 24]


def test_table_one_by_trend_counts_patients(rendered):
    analysis, out, _ = rendered
    t1 = pd.read_csv(out / "tables" / "table1.csv", dtype=str)
    n_row = t1[t1["variable"] == "n"].iloc[0]
    assert int(n_row["Overall"]) == len(analysis.patients)
    for g in ("MRD negative", "MRD decreasing", "MRD not decreasing"):
        assert int(n_row[g]) == int((analysis.patients["mrd_trend"] == g.split(" ", 1)[1].replace(" ", "_")).sum())


def test_shift_table_counts_every_maintenance_patient(rendered):
    analysis, out, _ = rendered
    shift = pd.read_csv(out / "tables" / "response_shift.csv", index_col=0)
    assert shift.to_numpy().sum() == len(analysis.patients)
    assert shift.loc["VGPR"].sum() == int((analysis.patients["response_at_maintenance_start"] == "VGPR").sum())


def test_every_figure_is_inlined_and_written_as_svg(rendered):
    _, out, html = rendered
    names = re.findall(r'<figure id="fig-([^"]+)"', html)
    expected = {"response_depth", "mrd_spaghetti", "swimmer", "km_pfs", "km_os", "km_pfs_dx", "km_os_dx",
                "km_pfs_by_trend", "cox_forest", "km_landmark_12", "km_landmark_24",
                "cif_by_trend_progression", "cif_by_trend_death", "cif_spm_spm"}
    assert set(names) == expected
    for n in names:
        assert (out / "figures" / f"{n}.svg").stat().st_size > 1000
    assert not list((out / "figures").glob("*.png")), "PNG is opt-in (--png)"
    assert ".png</code>" not in html
    assert html.count("<svg ") == len(names)
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids across inlined figures"


def test_figures_drawn_in_worker_processes_give_the_same_files(rendered, tmp_path):
    """``jobs`` > 1 draws the figures in worker processes: report.html, figures/ and tables/ are the
    same bytes as when everything is drawn in one process."""
    analysis, out, html = rendered
    write_report(analysis, tmp_path, "fixture-cohort", jobs=2)
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == html
    for folder in ("figures", "tables"):
        names = sorted(p.name for p in (out / folder).iterdir())
        assert names == sorted(p.name for p in (tmp_path / folder).iterdir())
        for n in names:
            assert (tmp_path / folder / n).read_bytes() == (out / folder / n).read_bytes(), n


def test_methods_cite_the_references(rendered):
    _, _, html = rendered
    methods = html.split('<section id="methods"')[1]
    for ref in ("Kumar", "Lancet Oncol", "Durie", "Leukemia", "Rajkumar", "Blood", "Alonso", "Blood Adv",
                "Therneau", "survival"):
        assert ref in methods
    assert 'id="guarantee-time-bias"' in html and "immortal-time" in html


def test_data_quality_lists_disagreements(rendered):
    _, _, html = rendered
    dq = html.split('<section id="data-quality"')[1].split('<section id="methods"')[0]
    assert "recorded response CR differs from derived VGPR" in dq
    assert "recorded progression 2015-02-01 and derived progression" in dq


def test_empty_trend_group_is_said_not_crashed(tmp_path):
    a = make_analysis(n=12, trends=("negative", "not_decreasing"))
    html = write_report(a, tmp_path, "x").read_text(encoding="utf-8")
    assert section_order(html) == list(SECTION_IDS)
    assert "No patient in group(s): decreasing" in html


def test_no_mrd_trend_and_no_curves_at_all(tmp_path):
    a = make_analysis(n=6, trends=())
    stats = {k: v.iloc[0:0] for k, v in a.statistics.items()}
    a = replace(a, statistics=stats, summary={k: v for k, v in a.summary.items() if k != "pfs_by_mrd_trend"})
    html = write_report(a, tmp_path, "x").read_text(encoding="utf-8")
    assert section_order(html) == list(SECTION_IDS)
    assert "No survival curve" in html
    assert "No Cox model could be fitted" in html


def test_large_cohorts_are_sampled_and_say_so(tmp_path):
    a = make_analysis(n=90)
    html = write_report(a, tmp_path, "x").read_text(encoding="utf-8")
    assert "60 of 90 patients with samples are drawn" in html
    assert "40 of 90 maintenance-cohort patients are drawn" in html
    swimmer = (tmp_path / "figures" / "swimmer.svg").read_text(encoding="utf-8")
    assert len(set(re.findall(r">(MM-\d{4})</text>", swimmer))) == 40


def test_pseudonymized_analysis_leaves_no_original_id_in_any_output(tmp_path):
    a = make_analysis(n=12)
    frames = pseudonymize_frames({"anchors": a.anchors, "assessments": a.assessments, "mrd": a.mrd,
                                  "patients": a.patients, "issues": a.issues}, "test-key")
    a = replace(a, **frames)
    write_report(a, tmp_path, "x", pseudonymized=True)
    files = list(tmp_path.rglob("*.html")) + list(tmp_path.rglob("*.csv")) + list(tmp_path.rglob("*.svg"))
    assert files
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"MM-\d{4}", text), f
    assert re.search(r"P-[0-9a-f]{16}", (tmp_path / "report.html").read_text(encoding="utf-8"))


# --- the real pipeline, end to end on the example cohort -------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    from typer.testing import CliRunner

    from mrdtrack.cli import app

    out = tmp_path_factory.mktemp("example-report")
    r = CliRunner().invoke(app, ["report", str(EXAMPLE), "--out", str(out), "--profile", "alonso2020"])
    assert r.exit_code == 0, r.output
    return out


def test_png_on_request_beside_every_svg(tmp_path):
    """``--png`` (``png=True``): every figure also as PNG, named in its caption; a second report
    without it removes the stale PNGs."""
    from typer.testing import CliRunner

    from mrdtrack.cli import app

    r = CliRunner().invoke(app, ["report", str(EXAMPLE), "--out", str(tmp_path), "--png"])
    assert r.exit_code == 0, r.output
    svgs = sorted(p.stem for p in (tmp_path / "figures").glob("*.svg"))
    pngs = sorted(p.stem for p in (tmp_path / "figures").glob("*.png"))
    assert svgs == pngs and "km_pfs" in pngs
    for n in pngs:
        assert (tmp_path / "figures" / f"{n}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<code>figures/km_pfs.png</code>" in html
    r = CliRunner().invoke(app, ["report", str(EXAMPLE), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert not list((tmp_path / "figures").glob("*.png"))


def test_cli_report_writes_analyze_outputs_report_figures_and_tables(example_report):
    out = example_report
    for name in ("assessments.csv", "mrd.csv", "patients.csv", "summary.json", "issues.csv", "report.html"):
        assert (out / name).is_file(), name
    svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert {"km_pfs", "km_os", "swimmer", "mrd_spaghetti"} <= set(svgs)
    assert not list((out / "figures").glob("*.png"))
    assert (out / "tables" / "table1.csv").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert section_order(html) == list(SECTION_IDS)
    assert external_references(html) == []
    assert "alonso2020" in html and "1e-04" in html


def test_real_km_numbers_at_risk_equal_the_pipeline_table(example_report):
    from mrdtrack.commands.analyze import run_analyze

    analysis = run_analyze(EXAMPLE, None, profile="alonso2020")
    html = (example_report / "report.html").read_text(encoding="utf-8")
    ar = analysis.statistics["at_risk"]
    for curve in ("pfs", "os"):
        rows = ar[ar["curve"] == curve]
        expected = {(str(r.strata), float(r.time)): int(r.n_risk) for r in rows.itertuples()}
        assert expected
        assert _at_risk_in_svg(html, f"km_{curve}") == expected


def test_real_headline_shares_match_summary_json(example_report):
    summary = json.loads((example_report / "summary.json").read_text())
    html = (example_report / "report.html").read_text(encoding="utf-8")
    for key in ("deepest_during_maintenance", "mrd_conversion"):
        s = summary[key]
        if s["denominator"]:
            assert f"{s['numerator']}/{s['denominator']} (" in html


def test_cli_pseudonymized_report_contains_no_original_id(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mrdtrack.cli import app
    from mrdtrack.pseudonym import KEY_ENV, pseudonymize_id

    ids = pd.read_csv(EXAMPLE / "patients.csv", dtype=str)["patient_id"].tolist()
    monkeypatch.delenv(KEY_ENV, raising=False)
    r = CliRunner().invoke(app, ["report", str(EXAMPLE), "--out", str(tmp_path / "no-key"), "--pseudonymize"])
    assert r.exit_code == 2
    monkeypatch.setenv(KEY_ENV, "report-test-key")
    r = CliRunner().invoke(app, ["report", str(EXAMPLE), "--out", str(tmp_path / "out"), "--pseudonymize"])
    assert r.exit_code == 0, r.output
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w-])")
    files = [p for p in (tmp_path / "out").rglob("*") if p.suffix in (".html", ".csv", ".json", ".svg")]
    assert len(files) > 10
    for f in files:
        hit = pattern.search(f.read_text(encoding="utf-8"))
        assert hit is None, f"{f.name} contains {hit.group(0) if hit else ''}"
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert pseudonymize_id(ids[0], "report-test-key") in html


def test_attrition_reads_both_count_layouts():
    from mrdtrack.issues import issues_frame
    from mrdtrack.report.tables import attrition

    nested = {"counts": {"patients_in": 5, "patients_used": 4, "patients_excluded": 1,
                         "rows": {"mrd": {"in": 9, "used": 8, "excluded": 1}}}}
    flat = {"counts": {"patients_in": 5, "patients_used": 4, "patients_excluded": 1,
                       "mrd": {"rows_in": 9, "rows_used": 8, "rows_excluded": 1}}}
    for summary in (nested, flat):
        flow, reasons = attrition(summary, issues_frame())
        assert flow.set_index("table").loc["mrd rows"].tolist() == [9, 1, 8]
        assert flow.set_index("table").loc["patients"].tolist() == [5, 1, 4]
        assert reasons.empty


def test_excluded_rows_and_patients_are_counted_with_their_reasons(tmp_path):
    import shutil

    from mrdtrack.commands.report import run_report

    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLE, cohort)
    with open(cohort / "labs.csv", "a", encoding="utf-8") as f:
        f.write("P01,2019-05-05,serum_m_protein,0.5,mg\n")
    with open(cohort / "patients.csv", "a", encoding="utf-8") as f:
        f.write("P99,,60,F,IgG,kappa,I,standard,Centre A\n")
    html = run_report(cohort, tmp_path / "out", exclude_invalid=True).read_text(encoding="utf-8")
    flow = pd.read_csv(tmp_path / "out" / "tables" / "attrition.csv").set_index("table")
    assert flow.loc["patients", ["in", "excluded", "used"]].tolist() == [7, 1, 6]
    assert flow.loc["labs rows", "excluded"] == 1
    reasons = pd.read_csv(tmp_path / "out" / "tables" / "exclusions.csv")
    assert set(reasons["table"]) == {"labs", "patients"}
    assert {"LAB_UNKNOWN_UNIT", "VALUE_MISSING"} <= set(reasons["code"])  # grouped by code, not by wording
    assert "LAB_UNKNOWN_UNIT" in html and "not among the test" in html


def test_stylesheet_is_inlined_verbatim(rendered):
    _, _, html = rendered
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert '"Segoe UI"' in style and "&#34;" not in style and "&gt;" not in style


def test_a_rerun_leaves_no_stale_figure_or_table(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "tables").mkdir()
    (tmp_path / "figures" / "old_plot.svg").write_text("<svg/>")
    (tmp_path / "tables" / "old_table.csv").write_text("a\n")
    (tmp_path / "notes.txt").write_text("mine")
    write_report(make_analysis(n=6), tmp_path, "x")
    assert not (tmp_path / "figures" / "old_plot.svg").exists()
    assert not (tmp_path / "tables" / "old_table.csv").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "figures" / "km_pfs.svg").exists()


# --- the real pipeline on a simulated reference-size cohort ----------------------------------------

@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from mrdtrack.commands.analyze import run_analyze
    from mrdtrack.commands.simulate import write_simulated_cohort

    root = tmp_path_factory.mktemp("simulated")
    write_simulated_cohort(139, 2020, root / "cohort")
    analysis = run_analyze(root / "cohort", root / "out", profile="alonso2020")
    html = write_report(analysis, root / "out", "simulated").read_text(encoding="utf-8")
    return analysis, root / "out", html


def test_simulated_report_numbers_at_risk_match_every_curve(simulated):
    analysis, _, html = simulated
    ar = analysis.statistics["at_risk"]
    curves = sorted(set(ar["curve"]))
    assert {"pfs", "os", "pfs_by_trend"} <= set(curves)
    for curve in curves:
        rows = ar[ar["curve"] == curve]
        expected = {(str(r.strata), float(r.time)): int(r.n_risk) for r in rows.itertuples()}
        assert _at_risk_in_svg(html, f"km_{curve}") == expected, curve


def test_simulated_report_caps_the_busy_plots_and_says_so(simulated):
    analysis, out, html = simulated
    n_cohort = int(analysis.patients["in_maintenance_cohort"].astype(bool).sum())
    assert f"40 of {n_cohort} maintenance-cohort patients are drawn" in html
    assert re.search(r"60 of \d+ patients with samples are drawn", html)
    swimmer = (out / "figures" / "swimmer.svg").read_text(encoding="utf-8")
    assert len(set(re.findall(r">(SIM\d+)</text>", swimmer))) == 40


def test_simulated_report_shows_the_models(simulated):
    analysis, out, html = simulated
    assert 'id="fig-cox_forest"' in html
    s = analysis.summary
    assert s["time_varying_cox"] is not None
    assert f"HR {s['time_varying_cox']['hr']:.2f}" in html
    cox = pd.read_csv(out / "tables" / "cox_pfs_by_trend.csv")
    assert len(cox) == len(analysis.statistics["cox_pfs_by_trend"])


@pytest.mark.parametrize("curve", ["cif_by_trend_progression", "cif_by_trend_death", "cif_spm_spm"])
def test_cumulative_incidence_numbers_at_risk_equal_the_statistics_layer(rendered, curve):
    """The competing-risks figures show the numbers at risk of the statistics layer: the table the pipeline
    made (``cif_at_risk``), which equals the Aalen-Johansen table's own n_risk (event-free, in follow-up)."""
    analysis, _, html = rendered
    ar = analysis.statistics["cif_at_risk"]
    ar = ar[ar["curve"] == curve]
    expected = {(r.strata, float(r.time)): int(r.n_risk) for r in ar.itertuples()}
    assert expected
    assert _at_risk_in_svg(html, curve) == expected
    cif = analysis.statistics["cif_curves"]
    cif = cif[cif["curve"] == curve]
    for (group, t), n in expected.items():
        c = cif[cif["group"] == group]
        later = c[c["time"] >= t]
        assert n == (int(later["n_risk"].iloc[0]) if len(later) else 0)


def test_competing_risks_section_shows_the_summary(rendered):
    analysis, out, html = rendered
    cr = analysis.summary["competing_risks"]
    section = html.split('<section id="competing-risks"')[1].split('<section id="data-quality"')[0]
    assert "Why 1 − Kaplan-Meier overstates" in section
    assert f"{cr['events']['progression']} progressed and {cr['events']['death']} died without" in " ".join(
        section.split())
    gray = pd.read_csv(out / "tables" / "gray_tests.csv")
    p = cr["gray_test"]["progression"]["p"]
    assert f"Gray's test p = {p:.3f}" in html.replace("&#39;", "'")  # the figure's annotation
    assert len(gray) == 2
    fg = pd.read_csv(out / "tables" / "finegray_pfs_by_trend.csv")
    start = cr["fine_gray"]["maintenance_start"]["unadjusted"]
    row = fg[(fg["analysis"] == "from maintenance start") & (fg["model"] == "unadjusted") & (fg["term"] == "negative")]
    assert row["hr"].iloc[0] == pytest.approx(start["negative"]["value"], rel=1e-8)  # CSV keeps 10 digits
    assert set(fg["analysis"]) == {"from maintenance start", "landmark 12 months", "landmark 24 months"}
    assert "fig-cif_spm_spm" in section and "second primary malignancy" in section
    # the naive 1 - KM is never below the cumulative incidence (the note's claim, on these data)
    km, cif = cr["one_minus_km_progression_at_months"], cr["all_progression_cif_at_months"]
    assert all(km[t]["value"] >= cif[t]["value"] - 1e-12 for t in km)
