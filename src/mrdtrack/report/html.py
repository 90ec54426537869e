"""Render the study report: one self-contained ``report.html`` (inline CSS and SVG, no script).

``write_report(analysis, out_dir)`` writes ``report.html``, ``figures/`` (SVG; PNG too with ``png=True``) and
``tables/`` (CSV) and returns the path of the HTML file. Nothing is fetched by the page: no
script, font, image or stylesheet, and no external URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mrdtrack.report import sections

#: The section ids of report.html, in order.
SECTION_IDS = ("header", "attrition", "table1", "response-depth", "mrd", "outcomes", "competing-risks", "data-quality",
               "methods")

_TAG = re.compile(r"<[A-Za-z][^>]*>")
_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_FETCHING_ATTRS = r"""\b(?:src|href|xlink:href|action|poster|srcset|data|background)\s*"""
_URL_START = r"""=\s*["']?\s*(?:https?:)?//"""
_EXTERNAL_ATTR = re.compile(_FETCHING_ATTRS + _URL_START, re.IGNORECASE)
_URL_VALUE = re.compile(_URL_START, re.IGNORECASE)
_ATTR_NAME = re.compile(_FETCHING_ATTRS + r"\Z", re.IGNORECASE)
_EXTERNAL_CSS = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", re.IGNORECASE)


def template_dir() -> Path:
    return Path(str(resources.files("mrdtrack.report") / "templates"))


def environment() -> Environment:
    """The jinja2 environment of the report and the patient page (autoescaping on)."""
    return Environment(loader=FileSystemLoader(str(template_dir())), autoescape=select_autoescape(["html", "j2"]),
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def stylesheet() -> str:
    return (template_dir() / "style.css").read_text(encoding="utf-8")


def external_references(html: str) -> list[str]:
    """Every place in ``html`` that would make a browser fetch from elsewhere (should be none).

    Looks at the attributes of every tag (``src``, ``href`` ... to ``http(s)://`` or ``//``, and
    ``url()`` in ``style``) and at every ``<style>`` block (``url()`` to elsewhere, ``@import``);
    text shown on the page (a message quoting a URL) is not a reference.
    """
    return _tag_references(html) if _may_reference(html) else []


def _tag_references(html: str) -> list[str]:
    """``external_references``, tag by tag."""
    found = []
    for tag in _TAG.finditer(html):
        found += [m.group(0) for m in _EXTERNAL_ATTR.finditer(tag.group(0))]
        found += [m.group(0) for m in _EXTERNAL_CSS.finditer(tag.group(0))]
    for block in _STYLE_BLOCK.finditer(html):
        found += [m.group(0) for m in _EXTERNAL_CSS.finditer(block.group(1))]
    return found


def _may_reference(html: str) -> bool:
    """False only where ``_tag_references`` finds nothing; known in a few milliseconds where that tag
    by tag search takes 40 ms on the demo report (700 KB, 6,000 tags, mostly SVG).

    Every attribute reference it finds is a ``=`` then a URL start (``_URL_VALUE``), with an
    attribute name of ``_EXTERNAL_ATTR`` right before it, after the last ``<``; every CSS one is
    matched by ``_EXTERNAL_CSS`` in the whole text."""
    for m in _URL_VALUE.finditer(html):
        if _ATTR_NAME.search(html, max(0, html.rfind("<", 0, m.start())), m.start()):
            return True
    return bool(_EXTERNAL_CSS.search(html))


#: (template variable, section builder, words for a progress display), in page order.
BUILDERS = (
    ("attrition", sections.attrition_section, "patients and samples"),
    ("table1", sections.table1_section, "Table 1"),
    ("response", sections.response_section, "response depth"),
    ("mrd", sections.mrd_section, "MRD figures"),
    ("outcomes", sections.outcomes_section, "survival figures"),
    ("competing", sections.competing_section, "competing risks"),
    ("quality", sections.quality_section, "data quality"),
    ("methods", sections.methods_section, "methods"),
)


def render_report(analysis, out_dir: Path, cohort_label: str, pseudonymized: bool = False,
                  progress: Callable[[str], None] | None = None, png: bool = False, jobs: int = 1,
                  pool=None) -> str:
    """The report's HTML text; figures and tables are written under ``out_dir`` on the way.

    ``progress``, when given, is called with the name of each section before it is built. With
    ``jobs`` > 1 the figures are drawn in that many worker processes while the sections are built
    (the files and the page are the same); ``pool``: such workers already started (``figure_pool``).
    """
    with (nullcontext(pool) if pool is not None else figure_pool(jobs)) as pool:
        jobs = report_figures(analysis, pool, Path(out_dir) / "figures", png)
        out = sections.Output(Path(out_dir), png=png, pool=pool, jobs=jobs)
        context = {"css": stylesheet(), "pseudonymized": pseudonymized, "png": png,
                   "header": sections.header_section(analysis, cohort_label)}
        for key, build, words in BUILDERS:
            if progress:
                progress(words)
            context[key] = build(analysis, out)
        return environment().get_template("report.html.j2").render(**context)


def report_figures(analysis, pool, fig_dir: Path, png: bool) -> dict:
    """The report's figure jobs by name (``sections.figure_jobs``), every one not started yet
    started on the workers ``pool`` (when there are some) before the sections are built, so the
    workers draw while this process builds the tables. The per-patient figures started with the
    analysis (``commands/report.py``) are taken as they were started, not built again."""
    started = pool.started_jobs() if pool is not None else {}
    jobs = sections.figure_jobs(analysis, started)
    if pool is not None:
        pool.start([job for name, job in jobs.items() if name not in started], fig_dir, png)
    return jobs


@contextmanager
def figure_pool(jobs: int):
    """``jobs`` worker processes for the figures (``drawing.FigureWorkers``), started now: matplotlib
    is imported at once, by the process they are forked from (``processes.WarmPool``). None with one job."""
    if jobs <= 1:
        yield None
        return
    from mrdtrack.processes import warm_pool
    from mrdtrack.report.drawing import FigureWorkers, warm_up

    with warm_pool(jobs, initializer=warm_up) as pool:  # matplotlib imported once, then the workers forked
        yield FigureWorkers(pool)


def remove_previous_outputs(out_dir: Path, keep: set[Path] = frozenset()) -> None:
    """Delete figures and tables an earlier report left in ``out_dir`` (so none is stale), but the
    files in ``keep`` (this report's figures, already being drawn: ``FigureWorkers.started_files``).

    Only ``figures/*.svg``, ``figures/*.png`` and ``tables/*.csv`` are touched: those folders
    belong to the report.
    """
    for folder, patterns in (("figures", ("*.svg", "*.png")), ("tables", ("*.csv",))):
        for pattern in patterns:
            for f in (out_dir / folder).glob(pattern):
                if f.is_file() and f not in keep:
                    f.unlink()


def write_report(analysis, out_dir: str | Path, cohort_label: str = "cohort", pseudonymized: bool = False,
                 progress: Callable[[str], None] | None = None, png: bool = False, jobs: int = 1,
                 pool=None) -> Path:
    """Write ``report.html`` (with ``figures/`` as SVG, and PNG with ``png``, and ``tables/``) into ``out_dir``;
    return its path. ``jobs``: worker processes drawing the figures (same files whatever it is);
    ``pool``: those workers, started earlier (``figure_pool``), perhaps drawing some figures already."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_previous_outputs(out_dir, pool.started_files() if pool is not None else frozenset())
    html = render_report(analysis, out_dir, cohort_label, pseudonymized, progress, png, jobs, pool)
    bad = external_references(html)
    if bad:  # a template or an input smuggled in a link: never write such a page
        raise RuntimeError(f"report.html would reference external resources: {bad[:3]}")
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
