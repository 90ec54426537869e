"""``mrdtrack report`` with figure workers started before the analysis: the figures of the per-patient
tables are drawn while the cohort statistics run, and the files are those of a one-process report."""

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
    the names of the figures started before the sections asked for them."""
    root = tmp_path_factory.mktemp("report-workers")
    cohort = simulated_cohort(root / "cohort", 80, 5)
    single = root / "single"
    run_report(cohort, single, jobs=1)
    workers = root / "workers"
    (workers / "figures").mkdir(parents=True)
    for stale in ("swimmer.svg", "swimmer.png", "old_figure.svg"):
        (workers / "figures" / stale).write_text("<svg>stale</svg>", encoding="utf-8")
    started: list[str] = []
    start = drawing.FigureWorkers.start

    def recording_start(self, jobs, fig_dir, png=False):
        started.extend(job.name for job in jobs)
        return start(self, jobs, fig_dir, png)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(drawing.FigureWorkers, "start", recording_start)
        run_report(cohort, workers, jobs=2)
    return single, workers, started


def test_the_per_patient_figures_start_before_the_sections(reports):
    _, _, started = reports
    assert set(started) == PATIENT_FIGURES


def test_report_page_is_the_one_process_one(reports):
    single, workers, _ = reports
    assert _page(workers) == _page(single)


@pytest.mark.parametrize("folder", ["tables", "figures"])
def test_report_files_are_the_one_process_ones(reports, folder):
    """Same names and bytes: the early figures replaced an earlier report's files of the same name,
    and the earlier report's other files are gone."""
    single, workers, _ = reports
    names = sorted(p.name for p in (single / folder).iterdir())
    assert names == sorted(p.name for p in (workers / folder).iterdir())
    different = [n for n in names if (single / folder / n).read_bytes() != (workers / folder / n).read_bytes()]
    assert not different, f"{folder} differ: {different}"
