"""The content of each report section, from an ``Analysis``: text, tables and figures.

Each ``*_section`` function returns a plain dict the template renders; figures are written to
``figures/`` (SVG, and PNG on request) and tables to ``tables/`` (CSV) on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mrdtrack.config import Config
from mrdtrack.io.outputs import write_csv
from mrdtrack.report import plotdata, tables
from mrdtrack.report.drawing import TREND_ORDER, FigureJob, PendingFigure, SavedFigure, render_figure
from mrdtrack.report.fmt import estimate, label, pvalue, sci, share

KEY_CONFIG_FIELDS = ("mrd_threshold", "progression_policy", "entry_window_before_days", "entry_window_after_days",
                     "kinetics_log_change", "mrd_sustained_days", "landmarks_months", "conf_level", "km_conf_type")


def to_html(df: pd.DataFrame, index: bool = False) -> str:
    """An HTML table of ``df``; missing values of any type (NaN, NA, None) shown as a dash."""
    shown = df.copy()
    for c in shown.columns:
        if not pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].astype(object).where(shown[c].notna(), "–")
    return shown.to_html(index=index, border=0, classes="tbl", na_rep="–", escape=True)


@dataclass
class Output:
    """Where the figures and tables go, and what has been written."""

    out_dir: Path
    figures: list[SavedFigure] = field(default_factory=list)
    tables: list[Path] = field(default_factory=list)
    png: bool = False  # also figures/<name>.png (``mrdtrack report --png``)
    pool: object = None  # drawing.FigureWorkers: figures are drawn there, in parallel with the rest
    jobs: dict[str, FigureJob] = field(default_factory=dict)  # the report's figures by name (``figure_jobs``)

    def draw_named(self, name: str) -> SavedFigure | PendingFigure | None:
        """The figure ``name`` of ``jobs`` drawn (None: it has nothing to draw)."""
        job = self.jobs.get(name)
        return self.draw(job) if job is not None else None

    def draw_present(self, names) -> list[SavedFigure | PendingFigure]:
        """The figures ``names`` of ``jobs`` drawn, in that order, those with something to draw."""
        return [self.draw(self.jobs[name]) for name in names if name in self.jobs]

    def draw(self, job: FigureJob) -> SavedFigure | PendingFigure:
        """Draw ``job`` into ``figures/`` (by the workers when there are some: perhaps started already)."""
        fig_dir = self.out_dir / "figures"
        saved = self.pool.submit(job, fig_dir, self.png) if self.pool else render_figure(job, fig_dir, self.png)
        self.figures.append(saved)
        return saved

    def csv(self, df: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write ``tables/name.csv`` (and nothing for the page)."""
        folder = self.out_dir / "tables"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.csv"
        write_csv(df.reset_index() if index else df, path)
        self.tables.append(path)
        return path

    def table(self, df: pd.DataFrame, name: str, index: bool = False, display: pd.DataFrame | None = None) -> dict:
        """Write ``tables/name.csv``; return the table for the template (HTML + file name).

        ``display``: an alternative layout of the same numbers for the page (default ``df``).
        """
        self.csv(df, name, index)
        html = to_html(df if display is None else display, index=index)
        return {"name": name, "html": html, "csv": f"tables/{name}.csv", "rows": len(df)}


def header_section(analysis, cohort_label: str) -> dict:
    summary = analysis.summary
    prov = summary.get("provenance", {}) or {}
    cfg = analysis.config.to_dict()
    inputs = [{"table": t, "path": v.get("path", ""), "sha256": v.get("sha256", "")}
              for t, v in sorted((prov.get("inputs") or {}).items())]
    return {
        "cohort": cohort_label,
        "data_cut": _date(prov.get("data_cut") or analysis.cohort.data_cut),
        "profile": prov.get("profile", analysis.config.profile),
        "version": prov.get("version", ""),
        "key_config": [(k, _config_value(k, cfg[k])) for k in KEY_CONFIG_FIELDS if k in cfg],
        "inputs": inputs,
    }


def _config_value(name: str, value) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v:g}" for v in value)
    return sci(value) if name == "mrd_threshold" else str(value)


def _date(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def attrition_section(analysis, out: Output) -> dict:
    flow, reasons = tables.attrition(analysis.summary, analysis.issues)
    counts = analysis.summary.get("counts", {}) or {}
    return {
        "flow": out.table(flow, "attrition"),
        "reasons": out.table(reasons, "exclusions") if len(reasons) else None,
        "patients_in": counts.get("patients_in"),
        "patients_used": counts.get("patients_used"),
        "patients_excluded": counts.get("patients_excluded"),
        "maintenance_cohort": len(tables.maintenance_cohort(analysis.patients)),
        "analysed": len(analysis.patients),
    }


def table1_section(analysis, out: Output) -> dict:
    t1 = tables.table_one(analysis.patients)
    return {"table": out.table(t1, "table1", display=tables.for_display(t1)),
            "n": len(tables.maintenance_cohort(analysis.patients))}


def patient_figure_jobs(patients: pd.DataFrame, anchors: pd.DataFrame, mrd: pd.DataFrame,
                        config: Config) -> list[FigureJob]:
    """The figures drawn from the per-patient tables alone (response depth, MRD spaghetti, swimmer),
    those ``response_section`` and ``mrd_section`` draw: ``mrdtrack report`` starts them while the
    cohort statistics are computed (``drawing.FigureWorkers.start``)."""
    jobs = [depth_figure_job(tables.shift_table(patients)), *mrd_figure_jobs(patients, anchors, mrd, config)]
    return [job for job in jobs if job is not None]


def depth_figure_job(shift: pd.DataFrame) -> FigureJob | None:
    """The response depth bars of the shift table (None when it counts nobody)."""
    counts = tables.depth_counts(shift)
    if counts.to_numpy().sum() == 0:
        return None
    return FigureJob("depth_bar_figure", (counts,), "response_depth",
                     "Share of maintenance-cohort patients by confirmed response at maintenance start and by "
                     "deepest response before progression (depth scale up to MRD-negative CR).",
                     "Stacked bars of response at maintenance start and deepest response")


def response_section(analysis, out: Output) -> dict:
    shift = tables.shift_table(analysis.patients)
    fig = out.draw_named("response_depth")
    shown = shift.rename_axis(index=None, columns="at maintenance start ↓ / deepest →")
    return {"shift": out.table(shift, "response_shift", index=True, display=shown), "figure": fig,
            "deepest_during_maintenance": share(analysis.summary.get("deepest_during_maintenance")),
            "empty": shift.to_numpy().sum() == 0}


def mrd_figure_jobs(patients: pd.DataFrame, anchors: pd.DataFrame, mrd: pd.DataFrame,
                    cfg: Config) -> tuple[FigureJob | None, FigureJob | None]:
    """The MRD section's spaghetti and swimmer plots (None for a plot with no patient to draw)."""
    pf = plotdata.patient_frame(patients, anchors)
    return _spaghetti_job(pf, mrd, cfg), _swimmer_job(pf, mrd, cfg)


def _drawn_note(drawn: int, total: int, who: str, why: str = "") -> str:
    """Which of the ``total`` patients (``who``) a plot draws: all, or a seeded sample of ``drawn``."""
    if drawn == total:
        return f"All {total} {who} are drawn."
    return f"{drawn} of {total} {who} are drawn (a reproducible random sample, seed {plotdata.SAMPLE_SEED}){why}."


def _spaghetti_job(pf: pd.DataFrame, mrd: pd.DataFrame, cfg: Config) -> FigureJob | None:
    points, drawn, total = plotdata.spaghetti_points(mrd, pf, cfg)
    if not drawn:
        return None
    note = _drawn_note(drawn, total, "patients with samples", ", to keep the lines readable")
    return FigureJob(
        "spaghetti_figure", (points, cfg.mrd_threshold), "mrd_spaghetti",
        f"log10 MRD level against months from maintenance start, coloured by MRD trend group, from the entry "
        f"window to the end of maintenance (or progression or a later line, if earlier). Samples with no "
        f"clone detected are open circles at their limit of detection (the true level is below it). Dashed line: "
        f"the analysis threshold T = {sci(cfg.mrd_threshold)}. {note}",
        "Serial MRD levels per patient")


def _swimmer_job(pf: pd.DataFrame, mrd: pd.DataFrame, cfg: Config) -> FigureJob | None:
    lanes, marks, drawn, total = plotdata.swimmer_lanes(pf, mrd, cfg)
    if not drawn:
        return None
    note = _drawn_note(drawn, total, "maintenance-cohort patients")
    return FigureJob(
        "swimmer_figure", (lanes, marks), "swimmer",
        "Each lane is one patient: the bar is maintenance, the line follow-up after it; circles are MRD "
        "samples (filled green negative, filled orange positive, open grey not evaluable at T), the diamond "
        f"the date the deepest response was reached, X progression, square death. {note}",
        "Swimmer plot of patients during maintenance")


def mrd_section(analysis, out: Output) -> dict:
    cfg: Config = analysis.config
    overview = tables.mrd_overview(analysis.patients)
    s = analysis.summary
    return {
        "overview": out.table(overview, "mrd_overview", display=tables.mrd_overview_display(overview)),
        "conversion": share(s.get("mrd_conversion")),
        "threshold": f"{sci(cfg.mrd_threshold)}",
        "spaghetti": out.draw_named("mrd_spaghetti"),
        "swimmer": out.draw_named("swimmer"),
        "no_samples": "mrd_spaghetti" not in out.jobs,
    }


def _at_risk(statistics: dict, key: str) -> pd.DataFrame:
    ar = statistics.get("at_risk")
    if ar is None or ar.empty:
        return pd.DataFrame(columns=["strata", "time", "n_risk"])
    names = {key, key.removeprefix("km_")}
    return ar[ar["curve"].astype(str).isin(names)][["strata", "time", "n_risk"]].reset_index(drop=True)


def _km_job(analysis, key: str, title: str, xlabel: str, caption: str, logrank_p=None) -> FigureJob | None:
    """The Kaplan-Meier figure of ``statistics[key]`` with its numbers at risk (None without a curve)."""
    curves = analysis.statistics.get(key)
    if curves is None or curves.empty:
        return None
    at_risk = _at_risk(analysis.statistics, key)
    return FigureJob("km_figure", (curves, at_risk, title, xlabel), key, caption, title, {"logrank_p": logrank_p})


def _missing_groups(block: dict | None) -> list[str]:
    groups = (block or {}).get("groups") or {}
    return [label(g) for g in TREND_ORDER if not (groups.get(g) or {}).get("n")]


def outcome_figure_jobs(analysis) -> dict[str, FigureJob]:
    """The outcomes section's figures by name, those with something to draw: Kaplan-Meier curves by
    endpoint and by MRD trend, the forest plot of the Cox models, the landmark curves."""
    s, cfg = analysis.summary, analysis.config
    band = f"shaded: pointwise {cfg.conf_level:.0%} limits ({cfg.km_conf_type} transform)"
    trend = s.get("pfs_by_mrd_trend") or {}
    jobs = [
        _km_job(analysis, "km_pfs", "Progression-free survival from maintenance start",
                "Months from maintenance start",
                f"Kaplan-Meier estimate of PFS (progression or death) from maintenance start; {band}; ticks: censored. "
                f"Median {estimate(s.get('median_pfs_months'), 'months')}."),
        _km_job(analysis, "km_os", "Overall survival from maintenance start", "Months from maintenance start",
                f"Kaplan-Meier estimate of OS from maintenance start; {band}. "
                f"Median {estimate(s.get('median_os_months'), 'months')}."),
        _km_job(analysis, "km_pfs_dx", "Progression-free survival from diagnosis", "Months from diagnosis",
                f"PFS from diagnosis; {band}. Median {estimate(s.get('median_pfs_dx_months'), 'months')}."),
        _km_job(analysis, "km_os_dx", "Overall survival from diagnosis", "Months from diagnosis",
                f"OS from diagnosis; {band}. Median {estimate(s.get('median_os_dx_months'), 'months')}."),
        _km_job(analysis, "km_pfs_by_trend", "PFS from maintenance start by MRD trend",
                "Months from maintenance start",
                "The naive comparison the seed study made: PFS from maintenance start by MRD trend during "
                "maintenance. It is prone to guarantee-time bias (see the note below).",
                logrank_p=trend.get("logrank_p")),
    ]
    cox = analysis.statistics.get("cox_pfs_by_trend")
    if cox is not None and len(tables.finite_hazard_ratios(cox)):
        jobs.append(FigureJob(
            "forest_figure", (tables.finite_hazard_ratios(cox),), "cox_forest",
            "Hazard ratios of progression or death against the not-decreasing group, unadjusted and "
            "adjusted for cytogenetic risk and ISS where recorded (Cox proportional hazards, "
            "Efron ties); from maintenance start (the naive comparison) and from each landmark. "
            "Hazard ratios that could not be estimated are left out of the plot (see the table).",
            "Forest plot of Cox hazard ratios"))
    for lm in cfg.landmarks_months:
        key = f"{lm:g}"
        block = (s.get("landmark") or {}).get(key) or {}
        jobs.append(_km_job(
            analysis, f"km_landmark_{key}", f"PFS from the {key}-month landmark by MRD trend",
            f"Months from the {key}-month landmark",
            f"Patients alive and progression-free {key} months after maintenance start, grouped by the MRD "
            f"trend seen in samples up to that landmark; time counted from the landmark.",
            logrank_p=block.get("logrank_p")))
    return {job.name: job for job in jobs if job is not None}


def outcomes_section(analysis, out: Output) -> dict:
    s, cfg = analysis.summary, analysis.config
    km = out.draw_present(("km_pfs", "km_os", "km_pfs_dx", "km_os_dx"))
    trend = s.get("pfs_by_mrd_trend") or {}
    by_trend = out.draw_named("km_pfs_by_trend")
    cox = analysis.statistics.get("cox_pfs_by_trend")
    forest = out.draw_named("cox_forest")
    landmarks = []
    for lm in cfg.landmarks_months:
        key = f"{lm:g}"
        block = (s.get("landmark") or {}).get(key) or {}
        landmarks.append({"months": key, "figure": out.draw_named(f"km_landmark_{key}"), "n_at_landmark": block.get("n_at_landmark"),
                          "logrank": pvalue(block.get("logrank_p")),
                          "table": out.table(tables.trend_groups(block), f"landmark_{key}"),
                          "missing": _missing_groups(block)})
    return {
        "km": km,
        "medians": out.table(tables.medians(s), "medians"),
        "by_trend": by_trend,
        "trend_table": out.table(tables.trend_groups(trend), "pfs_by_mrd_trend"),
        "trend_logrank": pvalue(trend.get("logrank_p")),
        "trend_missing": _missing_groups(trend),
        "forest": forest,
        "cox_table": (out.table(cox, "cox_pfs_by_trend", display=tables.cox_display(cox))
                      if cox is not None and len(cox) else None),
        "landmarks": landmarks,
        "time_varying": out.table(tables.time_varying(s.get("time_varying_cox")), "time_varying_cox"),
        "progressed_after_negative": share(s.get("progressed_after_mrd_negative")),
        "headline": out.table(tables.headline_shares(s).drop(columns=["text"]), "headline_shares"),
    }


def _cif_job(analysis, curve: str, title: str, caption: str, gray_p=None) -> FigureJob | None:
    """A cumulative incidence figure from the pipeline's long CIF table and its numbers at risk (None
    without that curve)."""
    cif = analysis.statistics.get("cif_curves")
    if cif is None or cif.empty or not (cif["curve"] == curve).any():
        return None
    c = cif[cif["curve"] == curve].rename(columns={"group": "strata", "cif": "survival"})
    ar = analysis.statistics.get("cif_at_risk")
    ar = ar[ar["curve"] == curve][["strata", "time", "n_risk"]].reset_index(drop=True)
    return FigureJob("km_figure", (c, ar, title, "Months from maintenance start"), curve, caption, title,
                     {"logrank_p": gray_p, "ylabel": "Cumulative incidence", "rising": True, "test": "Gray's test"})


def competing_figure_jobs(analysis) -> dict[str, FigureJob]:
    """The competing-risks section's figures by name, those with something to draw: cumulative
    incidence of progression and of death without progression by MRD trend, and of a second
    primary malignancy."""
    cr = analysis.summary.get("competing_risks") or {}
    gray = cr.get("gray_test") or {}
    band = f"shaded: pointwise {analysis.config.conf_level:.0%} limits ({analysis.config.km_conf_type} transform)"
    jobs = [
        _cif_job(analysis, "cif_by_trend_progression", "Cumulative incidence of progression by MRD trend",
                 f"Aalen-Johansen cumulative incidence of progression from maintenance start, death without "
                 f"progression competing; {band}; ticks: censored. Gray's test across the groups.",
                 (gray.get("progression") or {}).get("p")),
        _cif_job(analysis, "cif_by_trend_death", "Cumulative incidence of death without progression by MRD trend",
                 f"Aalen-Johansen cumulative incidence of death without progression from maintenance start, "
                 f"progression competing; {band}. Gray's test across the groups.",
                 (gray.get("death") or {}).get("p")),
        _cif_job(analysis, "cif_spm_spm", "Cumulative incidence of second primary malignancy",
                 f"Aalen-Johansen cumulative incidence of a first second primary malignancy from "
                 f"maintenance start, death competing; {band}."),
    ]
    return {job.name: job for job in jobs if job is not None}


def figure_jobs(analysis, started: dict[str, FigureJob] | None = None) -> dict[str, FigureJob]:
    """Every figure of the report with something to draw, by name, in page order, each built once:
    the per-patient ones (those ``started`` with the analysis when given: ``commands/report.py``)
    and those of the cohort statistics. The sections draw them by name (``Output.draw_named``)."""
    patient = started or {job.name: job for job in patient_figure_jobs(analysis.patients, analysis.anchors,
                                                                       analysis.mrd, analysis.config)}
    return {**patient, **outcome_figure_jobs(analysis), **competing_figure_jobs(analysis)}


def competing_section(analysis, out: Output) -> dict:
    """Progression vs death without progression, Fine-Gray by MRD trend, SPM (docs/statistics.md)."""
    cr = analysis.summary.get("competing_risks") or {}
    figs = out.draw_present(("cif_by_trend_progression", "cif_by_trend_death"))
    fg = analysis.statistics.get("finegray_pfs_by_trend")
    spm = cr.get("spm") or {}
    cif_tab = pd.concat([tables.cif_at(cr, "progression_cif_at_months", "progression"),
                         tables.cif_at(cr, "death_without_progression_cif_at_months", "death")], ignore_index=True)
    naive = tables.naive_versus_cif(cr)
    return {
        "figures": figs,
        "n": cr.get("n"), "events": cr.get("events") or {},
        "cif_table": out.table(cif_tab, "cif_by_mrd_trend") if len(cif_tab) else None,
        "gray": out.table(tables.gray_tests(cr), "gray_tests"),
        "finegray": (out.table(fg, "finegray_pfs_by_trend", display=tables.cox_display(fg))
                     if fg is not None and len(fg) else None),
        "naive": out.table(naive, "progression_km_vs_cif") if len(naive) else None,
        "spm": spm,
        "spm_figure": out.draw_named("cif_spm_spm"),
        "spm_table": (out.table(tables.cif_at({"x": spm.get("cif_at_months")}, "x", "spm"), "cif_spm")
                      if spm.get("cif_at_months") else None),
    }


def quality_section(analysis, out: Output) -> dict:
    issues = analysis.issues
    cap = 200
    resp = tables.disagreements(issues, "response")
    prog = tables.disagreements(issues, "progression")
    out.csv(resp, "response_disagreements")  # every row in the file; the page shows the first ``cap``
    out.csv(prog, "progression_disagreements")
    return {
        "warnings": out.table(tables.issues_by(issues, "warning"), "warnings"),
        "n_warnings": int((issues["severity"] == "warning").sum()),
        "n_errors": int((issues["severity"] == "error").sum()),
        "errors": out.table(tables.issues_by(issues, "error"), "errors"),
        "response": {"html": to_html(resp.head(cap)),
                     "rows": len(resp), "shown": min(cap, len(resp))},
        "progression": {"html": to_html(prog.head(cap)),
                        "rows": len(prog), "shown": min(cap, len(prog))},
    }


def methods_section(analysis, out: Output) -> dict:
    cfg = analysis.config
    return {"config": out.table(tables.configuration(cfg.to_dict(), Config.sources()), "configuration"),
            "threshold": f"{sci(cfg.mrd_threshold)}", "landmarks": ", ".join(f"{m:g}" for m in cfg.landmarks_months),
            "conf_type": cfg.km_conf_type, "policy": cfg.progression_policy}
