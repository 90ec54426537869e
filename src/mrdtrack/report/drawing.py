"""Drawing the report's figures, here or in worker processes, without importing matplotlib here.

The sections name a figure builder of ``report/figures.py`` (``"km_figure"``) with its arguments
(a ``FigureJob``); ``render_figure`` imports matplotlib and draws it where it runs. The main
process of ``mrdtrack report`` with ``--jobs`` > 1 never imports matplotlib: its workers
(``FigureWorkers``) do, from the start of the command, while the cohort is analysed (``warm_up``;
issue 15), and draw the figures that need only the per-patient tables while the cohort
statistics are computed (``FigureWorkers.start``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Response depth categories, shallowest first, and the MRD trend groups, in display order.
DEPTH_ORDER = ["SD", "MR", "PR", "VGPR", "CR", "sCR", "MRD-negative CR"]
TREND_ORDER = ["negative", "decreasing", "not_decreasing"]


@dataclass(frozen=True)
class SavedFigure:
    """One figure as written: its name, inline SVG text, file paths and caption."""

    name: str
    svg: str
    svg_path: Path
    png_path: Path | None  # None: no PNG written
    caption: str
    alt: str


@dataclass(frozen=True)
class FigureJob:
    """A figure to draw: ``figures.<builder>(*args, **kwargs)``, saved as ``figures/<name>.svg``."""

    builder: str
    args: tuple
    name: str
    caption: str
    alt: str
    kwargs: dict = field(default_factory=dict)


class PendingFigure:
    """A figure being rendered in a worker process; reading any attribute of the ``SavedFigure``
    (``svg``, ``name``, ``caption`` ...) waits for it."""

    def __init__(self, future):
        self._future = future

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._future.result(), attr)


def render_figure(job: FigureJob, fig_dir: Path, png: bool = False) -> SavedFigure:
    """Draw ``job`` and save it into ``fig_dir`` (what a worker runs)."""
    from mrdtrack.report import figures
    from mrdtrack.report.svg import save_figure

    fig = getattr(figures, job.builder)(*job.args, **job.kwargs)
    return save_figure(fig, job.name, fig_dir, job.caption, job.alt, png=png)


def warm_up() -> None:
    """Import matplotlib and the figure builders (a worker's initializer: done once, before any figure).

    Then every object the worker holds so far (the modules, and the parent's memory it was forked
    with) is frozen out of the garbage collector's reach: a full collection while drawing would
    otherwise walk all of them (about 0.1-0.2 s of CPU per worker on the demo cohort)."""
    import gc

    from mrdtrack.report import figures, svg  # noqa: F401

    gc.freeze()


class FigureWorkers:
    """The report's figure worker processes (a process pool) and the figures started on them ahead
    of the sections: a section asking for a started figure takes it instead of drawing it again."""

    def __init__(self, pool):
        self.pool = pool
        self.started: dict[str, tuple[FigureJob, PendingFigure, list[Path]]] = {}

    def submit(self, job: FigureJob, fig_dir: Path, png: bool = False) -> PendingFigure:
        """``job`` drawn by a worker: the figure of that name started earlier (``start``), else a new one."""
        if job.name not in self.started:
            return PendingFigure(self.pool.submit(render_figure, job, fig_dir, png))
        begun, pending, _ = self.started.pop(job.name)
        if (begun.builder, begun.caption, begun.alt) != (job.builder, job.caption, job.alt):
            raise RuntimeError(f"figure {job.name} was started from other tables than the report's")
        return pending

    def start(self, jobs: list[FigureJob], fig_dir: Path, png: bool = False) -> None:
        """Start drawing ``jobs`` now, before the sections ask for them (with the same jobs)."""
        for job in jobs:
            files = [fig_dir / f"{job.name}.svg", *([fig_dir / f"{job.name}.png"] if png else [])]
            self.started[job.name] = (job, PendingFigure(self.pool.submit(render_figure, job, fig_dir, png)), files)

    def started_jobs(self) -> dict:
        """The jobs started and not asked for yet, by name."""
        return {name: job for name, (job, _, _) in self.started.items()}

    def started_files(self) -> set[Path]:
        """The files the started figures write (an earlier report's leftovers are removed around them)."""
        return {f for _, _, files in self.started.values() for f in files}
