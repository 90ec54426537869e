"""The report and the patient page in a real browser (Debian's chromium, driven by playwright).

The network is blocked: any request that is not ``file:`` or ``data:`` is aborted and recorded,
and the test fails if there was one. Skipped only when /usr/bin/chromium is missing and
MRDTRACK_REQUIRE_BROWSER is unset; with MRDTRACK_REQUIRE_BROWSER set a missing browser fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mrdtrack.report import SECTION_IDS, write_report
from test_report_data import make_analysis

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort"
PATIENT_SECTIONS = ("patient", "alerts", "timeline", "course", "treatments", "responses", "mrd-samples", "events")

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("MRDTRACK_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and MRDTRACK_REQUIRE_BROWSER is set")
        pytest.skip(f"{CHROMIUM} is missing (set MRDTRACK_REQUIRE_BROWSER to make this a failure)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def open_offline(browser, path: Path):
    """A page showing ``path`` with the network blocked; returns (page, console errors, blocked URLs)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors, blocked = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def guard(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page, errors, blocked


def figure_sizes(page) -> list[dict]:
    return page.eval_on_selector_all(
        "figure svg", "els => els.map(e => { const r = e.getBoundingClientRect();"
                      " return {id: e.closest('figure').id, w: r.width, h: r.height}; })")


def check_page(browser, path: Path, sections, shot: Path) -> list[dict]:
    page, errors, blocked = open_offline(browser, path)
    try:
        ids = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
        assert ids == list(sections)
        for sid in sections:
            assert page.locator(f"#{sid}").is_visible()
        sizes = figure_sizes(page)
        assert sizes, "no figure on the page"
        for s in sizes:
            assert s["w"] > 100 and s["h"] > 100, s
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        page.close()
    assert errors == []
    assert blocked == []
    return sizes


def test_report_renders_offline(browser, tmp_path):
    path = write_report(make_analysis(n=50), tmp_path, "browser-fixture")
    sizes = check_page(browser, path, SECTION_IDS, tmp_path / "report.png")
    assert {s["id"] for s in sizes} >= {"fig-km_pfs", "fig-swimmer", "fig-mrd_spaghetti", "fig-cox_forest",
                                        "fig-cif_by_trend_progression", "fig-cif_by_trend_death", "fig-cif_spm_spm"}


def test_competing_risks_figures_show_the_statistics_numbers_at_risk(browser, tmp_path):
    """In the rendered page, the numbers under each cumulative incidence curve are the statistics layer's."""
    analysis = make_analysis(n=50)
    path = write_report(analysis, tmp_path, "browser-fixture")
    page, errors, blocked = open_offline(browser, path)
    try:
        for curve in ("cif_by_trend_progression", "cif_by_trend_death", "cif_spm_spm"):
            shown = page.eval_on_selector_all(
                f"#fig-{curve} g[id*='--atrisk-']", "els => els.map(e => [e.id, e.textContent.trim()])")
            ar = analysis.statistics["cif_at_risk"]
            ar = ar[ar["curve"] == curve]
            assert len(shown) == len(ar) > 0
            got = sorted(int(text) for _, text in shown)
            assert got == sorted(ar["n_risk"].astype(int).tolist())
            assert page.locator(f"#fig-{curve} svg").bounding_box()["height"] > 100
        assert page.locator("#why-not-one-minus-km").is_visible()
    finally:
        page.close()
    assert errors == [] and blocked == []


def test_real_pipeline_report_renders_offline(browser, tmp_path):
    from mrdtrack.commands.report import run_report

    path = run_report(EXAMPLE, tmp_path / "out")
    sizes = check_page(browser, path, SECTION_IDS, tmp_path / "report.png")
    assert {"fig-km_pfs", "fig-km_os", "fig-cif_by_trend_progression"} <= {s["id"] for s in sizes}


def test_patient_page_renders_offline(browser, tmp_path):
    from mrdtrack.commands.patient import build_patient_view
    from mrdtrack.config import make_config
    from mrdtrack.io.read import read_cohort
    from mrdtrack.report.patient_page import render_patient_html

    cohort = read_cohort(EXAMPLE).cohort
    path = tmp_path / "patient.html"
    path.write_text(render_patient_html(build_patient_view(cohort, "P02", make_config(), None)), encoding="utf-8")
    sizes = check_page(browser, path, PATIENT_SECTIONS, tmp_path / "patient.png")
    assert [s["id"] for s in sizes] == ["fig-patient_timeline"]


def test_the_guards_catch_network_requests_and_console_errors(browser, tmp_path):
    """The checks above can fail: a fetch from elsewhere is blocked and recorded, an error is seen."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="https://example.org/x.png">'
                   '<script>console.error("boom")</script></body></html>', encoding="utf-8")
    page, errors, blocked = open_offline(browser, bad)
    page.close()
    assert blocked == ["https://example.org/x.png"]
    assert "boom" in errors
