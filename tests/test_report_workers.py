"""``mrdtrack report`` with figure workers started before the analysis: the figures of the per-patient
tables are drawn while the cohort statistics run, those of the statistics are started before the
sections are built, and the files are those of a one-process report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mrdtrack.commands.report import run_report
from mrdtrack.report import drawing
from test_scale import simulated_cohort

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
PATIENT_FIGURES = {"response_depth", "mrd_spaghetti", "swimmer"}


def _page(out: Path) -> str:
    return _TIMESTAMP.sub("<time>", (out / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One report in one process, one with two figure workers over an earlier report's leftovers;
    the names of the figures started, batch by batch, and of those a section asked for that had not
    been started."""
    root = tmp_path_factory.mktemp("report-workers")
    cohort = simulated_cohort(root / "cohort", 80, 5)
    single = root / "single"
    run_report(cohort, single, jobs=1)
    workers = root / "workers"
    (workers / "figures").mkdir(parents=True)
    for stale in ("swimmer.svg", "swimmer.png", "old_figure.svg"):
        (workers / "figures" / stale).write_text("<svg>stale</svg>", encoding="utf-8")
    batches: list[list[str]] = []
    not_started: list[str] = []
    start, submit = drawing.FigureWorkers.start, drawing.FigureWorkers.submit

    def recording_start(self, jobs, fig_dir, png=False):
        batches.append([job.name for job in jobs])
        return start(self, jobs, fig_dir, png)

    def recording_submit(self, job, fig_dir, png=False):
        if job.name not in self.started:
            not_started.append(job.name)
        return submit(self, job, fig_dir, png)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(drawing.FigureWorkers, "start", recording_start)
        mp.setattr(drawing.FigureWorkers, "submit", recording_submit)
        run_report(cohort, workers, jobs=2)
    return single, workers, batches, not_started


def test_the_per_patient_figures_start_before_the_sections(reports):
    _, _, batches, _ = reports
    assert set(batches[0]) == PATIENT_FIGURES


def test_every_figure_is_started_before_a_section_asks_for_it(reports):
    """The statistics' figures are started together, after the per-patient ones and before the
    sections: no section waits for a figure that was not being drawn already."""
    _, workers, batches, not_started = reports
    drawn = {p.stem for p in (workers / "figures").glob("*.svg")}
    assert len(batches) == 2
    assert set(batches[1]) == drawn - PATIENT_FIGURES
    assert {"km_pfs", "cox_forest", "cif_by_trend_progression"} <= set(batches[1])
    assert not_started == []


def test_report_page_is_the_one_process_one(reports):
    single, workers, _, _ = reports
    assert _page(workers) == _page(single)


@pytest.mark.parametrize("folder", ["tables", "figures"])
def test_report_files_are_the_one_process_ones(reports, folder):
    """Same names and bytes: the early figures replaced an earlier report's files of the same name,
    and the earlier report's other files are gone."""
    single, workers, _, _ = reports
    names = sorted(p.name for p in (single / folder).iterdir())
    assert names == sorted(p.name for p in (workers / folder).iterdir())
    different = [n for n in names if (single / folder / n).read_bytes() != (workers / folder / n).read_bytes()]
    assert not different, f"{folder} differ: {different}"
