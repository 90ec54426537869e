"""Drawing the report's figures, here or in worker processes, without importing matplotlib here.

The sections name a figure builder of ``report/figures.py`` (``"km_figure"``) with its arguments;
``render_figure`` imports matplotlib and draws it where it runs. The main process of ``mrdtrack
report`` with ``--jobs`` > 1 never imports matplotlib: its workers do, from the start of the
command, while the cohort is analysed (``warm_up``; issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass
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


class PendingFigure:
    """A figure being rendered in a worker process; reading any attribute of the ``SavedFigure``
    (``svg``, ``name``, ``caption`` ...) waits for it."""

    def __init__(self, future):
        self._future = future

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._future.result(), attr)


def render_figure(builder: str, args: tuple, kwargs: dict, name: str, fig_dir: Path, caption: str, alt: str,
                  png: bool = False) -> SavedFigure:
    """Build a figure with ``figures.<builder>(*args, **kwargs)`` and save it (what a worker runs)."""
    from mrdtrack.report import figures
    from mrdtrack.report.svg import save_figure

    return save_figure(getattr(figures, builder)(*args, **kwargs), name, fig_dir, caption, alt, png=png)


def warm_up() -> None:
    """Import matplotlib and the figure builders (a worker's initializer: done once, before any figure)."""
    from mrdtrack.report import figures, svg  # noqa: F401
