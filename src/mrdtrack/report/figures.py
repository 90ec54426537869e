"""The study report's figures (matplotlib, Agg): they draw what the pipeline computed.

Each builder takes tidy tables (the pipeline's curves and patient tables, or a tabulation from
``tables.py``) and returns a matplotlib Figure; ``svg.save_figure`` writes it as SVG and PNG.
Times on the x axes are months from the curve's origin (30.4375 days, ``Config.days_per_month``).
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from mrdtrack.report.drawing import TREND_ORDER
from mrdtrack.report.fmt import label, pvalue, sci
from mrdtrack.report.svg import styled

DEPTH_COLORS = {"SD": "#d9d9d9", "MR": "#bdd7e7", "PR": "#6baed6", "VGPR": "#3182bd", "CR": "#31a354",
                "sCR": "#006d2c", "MRD-negative CR": "#00441b", "not available": "#f7f7f7"}
TREND_COLORS = {"negative": "#1b9e77", "decreasing": "#7570b3", "not_decreasing": "#d95f02"}
OTHER_COLORS = ["#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928"]
MAX_TIME_TICKS = 12  # x tick labels on a KM plot; the numbers at risk are shown at every time
FOREST_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)
STATUS_COLORS = {"negative": "#1b9e77", "positive": "#d95f02", "not_evaluable": "#969696"}


def strata_name(strata) -> str:
    """The group of a strata label (``mrd_trend=negative`` -> ``negative``)."""
    s = str(strata)
    return s.split("=", 1)[1] if "=" in s else s


def gid(*parts) -> str:
    """An SVG-safe id built from parts (``atrisk``, strata, time)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_.]", "_", f"{p:g}" if isinstance(p, float) else str(p)) for p in parts)


def term_label(term) -> str:
    """A model term as words (``mrd_trenddecreasing`` -> 'MRD decreasing', as R names terms)."""
    t = str(term)
    if t in TREND_ORDER:
        return "MRD " + label(t)
    for prefix, name in (("mrd_trend", "MRD "), ("cytogenetic_risk", "cytogenetic risk "), ("iss_stage", "ISS ")):
        if t.startswith(prefix):
            return name + label(t[len(prefix):].lstrip("=_: "))
    return label(t)


def _strata_order(strata: list[str]) -> list[str]:
    known = [s for s in strata if strata_name(s) in TREND_ORDER]
    known.sort(key=lambda s: TREND_ORDER.index(strata_name(s)))
    return known + [s for s in strata if s not in known]


def _strata_color(s: str, i: int) -> str:
    return TREND_COLORS.get(strata_name(s), OTHER_COLORS[i % len(OTHER_COLORS)])


@styled
def km_figure(curves: pd.DataFrame, at_risk: pd.DataFrame, title: str, xlabel: str,
              logrank_p=None, ylabel: str = "Probability", rising: bool = False, test: str = "log-rank") -> plt.Figure:
    """Kaplan-Meier step curves with pointwise limits, censoring ticks and numbers at risk below.

    ``curves``: strata, time, n_risk, n_event, n_censor, survival, lower, upper. ``rising``: the
    curves start at 0 (a cumulative incidence in the ``survival`` column), the legend top left;
    ``test`` names the test whose p-value ``logrank_p`` is.
    ``at_risk``: strata, time, n_risk (the pipeline's table for this curve). Each number at risk
    is an SVG text in a group with id ``atrisk-<strata>-<time>``.
    """
    strata = _strata_order(list(dict.fromkeys(curves["strata"].astype(str))))
    n_rows = max(1, len(strata))
    fig = plt.figure(figsize=(7.2, 4.2 + 0.25 * n_rows))
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.45 + 0.28 * n_rows], hspace=0.45)
    ax = fig.add_subplot(grid[0])
    tab = fig.add_subplot(grid[1])  # the curves' time axis (limits set below), drawn without ticks
    risk = at_risk.copy()
    risk["strata"] = risk["strata"].astype(str)
    handles = []
    for i, s in enumerate(strata):
        c = curves[curves["strata"].astype(str) == s].sort_values("time")
        color = _strata_color(s, i)
        origin = 0.0 if rising else 1.0
        t = np.r_[0.0, c["time"].to_numpy(float)]
        surv = np.r_[origin, c["survival"].to_numpy(float)]
        lo = np.r_[origin, c["lower"].to_numpy(float)]
        hi = np.r_[origin, c["upper"].to_numpy(float)]
        ax.step(t, surv, where="post", color=color, lw=1.6)
        ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.13, lw=0)
        cens = c[c["n_censor"] > 0]
        ax.plot(cens["time"], cens["survival"], ls="none", marker="|", ms=7, color=color)
        r0 = risk[(risk["strata"] == s) & (risk["time"] == 0)]
        n0 = f" (n={int(r0['n_risk'].iloc[0])})" if len(r0) else ""
        text = "All patients" if strata_name(s) == "all" else label(strata_name(s))
        handles.append(Line2D([], [], color=color, lw=1.6, label=text + n0))
    ax.set_ylim(-0.02, 1.03)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    ax.legend(handles=handles, loc="upper left" if rising else "lower left", frameon=False, fontsize=8)
    if logrank_p is not None:
        ax.text(0.98, 0.95, f"{test} {pvalue(logrank_p)}", transform=ax.transAxes, ha="right", va="top")
    times = sorted(set(risk["time"].astype(float)))
    tmax = max([*times, float(curves["time"].max()) if len(curves) else 0.0, 1.0])
    ax.set_xlim(0, tmax * 1.02)
    tab.set_xlim(0, tmax * 1.02)
    step = max(1, int(np.ceil(len(times) / MAX_TIME_TICKS)))
    ax.set_xticks(times[::step] if times else ax.get_xticks())
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(xlabel)
    _at_risk_rows(tab, risk, strata, times)
    return fig


def _at_risk_rows(tab, risk: pd.DataFrame, strata: list[str], times: list[float]) -> None:
    size = 7 if len(times) > 12 else 8
    for row, s in enumerate(strata):
        y = len(strata) - 1 - row
        rows = risk[risk["strata"] == s]
        for time, n_risk in zip(rows["time"].to_numpy(float), rows["n_risk"].to_numpy()):
            t = tab.text(float(time), y, f"{int(n_risk)}", ha="center", va="center", fontsize=size,
                         color=_strata_color(s, row))
            t.set_gid(gid("atrisk", strata_name(s), float(time)))
    tab.set_ylim(-0.6, len(strata) - 0.4)
    tab.set_yticks(range(len(strata)))
    tab.set_yticklabels([("All" if strata_name(s) == "all" else label(strata_name(s))) for s in reversed(strata)],
                        fontsize=8)
    tab.set_title("Number at risk", loc="left", fontsize=8)
    tab.xaxis.set_major_locator(NullLocator())
    tab.tick_params(axis="y", left=False, pad=14)
    for side in ("left", "bottom", "top", "right"):
        tab.spines[side].set_visible(False)


@styled
def forest_figure(cox: pd.DataFrame) -> plt.Figure:
    """Hazard ratios with 95% limits on a log axis.

    ``cox``: model (unadjusted/adjusted), term, hr, lower, upper, p, and optionally ``analysis``
    (from maintenance start, or a landmark), which then labels each row too.
    """
    rows = cox.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.2, 0.9 + 0.42 * max(1, len(rows))))
    y = np.arange(len(rows))[::-1]
    for yi, (_, r) in zip(y, rows.iterrows()):
        color = "#333333" if r["model"] == "unadjusted" else "#3182bd"
        ax.plot([r["lower"], r["upper"]], [yi, yi], color=color, lw=1.5)
        ax.plot([r["hr"]], [yi], marker="s", color=color, ms=6)
        ax.text(1.02, yi, f"{r['hr']:.2f} ({r['lower']:.2f}-{r['upper']:.2f}); {pvalue(r['p'])}",
                transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    ax.axvline(1.0, color="#888888", ls="--", lw=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator([v for v in FOREST_TICKS]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo = min(float(rows["lower"].min()), 0.9) if len(rows) else 0.1
    hi = max(float(rows["upper"].max()), 1.1) if len(rows) else 10
    ax.set_xlim(lo / 1.3, hi * 1.3)
    ax.set_yticks(y)
    ax.set_yticklabels([_forest_label(r) for _, r in rows.iterrows()], fontsize=8)
    ax.set_xlabel("Hazard ratio for progression or death vs not decreasing (log scale; < 1 favours the group)")
    ax.set_title("Cox models of PFS by MRD trend", loc="left", fontsize=10, fontweight="bold")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    return fig


def _forest_label(r) -> str:
    where = f"; {r['analysis']}" if "analysis" in r.index and isinstance(r["analysis"], str) else ""
    return f"{term_label(r['term'])} ({r['model']}{where})"


@styled
def depth_bar_figure(shift_counts: pd.DataFrame) -> plt.Figure:
    """Stacked horizontal bars: response at maintenance start vs deepest response (shares).

    ``shift_counts``: index = response categories (depth order), one column per bar, counts.
    """
    fig, ax = plt.subplots(figsize=(7.2, 2.4))
    bars = list(shift_counts.columns)
    totals = shift_counts.sum(axis=0).replace(0, np.nan)
    left = np.zeros(len(bars))
    for cat in shift_counts.index:
        share = (shift_counts.loc[cat] / totals).fillna(0).to_numpy(float)
        ax.barh(range(len(bars)), share, left=left, color=DEPTH_COLORS.get(cat, "#cccccc"),
                edgecolor="white", label=cat)
        for i, (lft, w) in enumerate(zip(left, share)):
            if w >= 0.06:
                dark = cat in ("VGPR", "CR", "sCR", "MRD-negative CR")
                ax.text(lft + w / 2, i, f"{100 * w:.0f}%", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
        left += share
    ax.set_yticks(range(len(bars)))
    ax.set_yticklabels([f"{b} (n={int(shift_counts[b].sum())})" for b in bars])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Share of patients")
    ax.legend(ncol=len(shift_counts.index), fontsize=7, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.35))
    ax.set_title("Response at maintenance start and deepest response", loc="left", fontsize=10, fontweight="bold")
    return fig


@styled
def spaghetti_figure(points: pd.DataFrame, threshold: float) -> plt.Figure:
    """log10 MRD against months from maintenance start, one line per patient.

    ``points``: patient_id, months, y (log10 level, or log10 LOD when censored), censored,
    mrd_trend. Censored samples are open markers at their LOD; the dashed line is log10(T).
    """
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    for _pid, g in points.groupby("patient_id", sort=True):
        g = g.sort_values("months")
        trend = g["mrd_trend"].iloc[0]
        color = TREND_COLORS.get(trend, "#969696")
        ax.plot(g["months"], g["y"], color=color, lw=0.8, alpha=0.6)
        det = g[~g["censored"]]
        cen = g[g["censored"]]
        ax.plot(det["months"], det["y"], ls="none", marker="o", ms=3.5, color=color)
        ax.plot(cen["months"], cen["y"], ls="none", marker="o", ms=4.5, mfc="white", mec=color, mew=1.0)
    ax.axhline(np.log10(threshold), color="#333333", ls="--", lw=1)
    ax.text(1.0, np.log10(threshold), f" T = {sci(threshold)}", transform=ax.get_yaxis_transform(), va="bottom",
            ha="right", fontsize=8)
    ax.axvline(0, color="#bbbbbb", lw=0.8)
    ax.set_xlabel("Months from maintenance start")
    ax.set_ylabel("log10 MRD level (fraction of nucleated cells)")
    handles = [Line2D([], [], color=TREND_COLORS[t], lw=1.2, label=label(t)) for t in TREND_ORDER]
    handles += [Line2D([], [], color="#969696", lw=1.2, label="not evaluable"),
                Line2D([], [], ls="none", marker="o", mfc="white", mec="#333333", label="not detected (at LOD)")]
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Serial MRD during maintenance", loc="left", fontsize=10, fontweight="bold")
    return fig


@styled
def swimmer_figure(lanes: pd.DataFrame, marks: pd.DataFrame) -> plt.Figure:
    """One lane per patient: maintenance bar, follow-up line, MRD, response and event markers.

    ``lanes``: patient_id, maint_end (months), followup_end (months), in lane order.
    ``marks``: patient_id, months, kind (mrd_negative, mrd_positive, mrd_not_evaluable,
    deepest_response, progression, death).
    """
    n = len(lanes)
    fig, ax = plt.subplots(figsize=(7.2, 1.4 + 0.16 * max(n, 1)))
    ypos = {pid: n - 1 - i for i, pid in enumerate(lanes["patient_id"])}
    y = lanes["patient_id"].map(ypos).to_numpy(float)
    ax.hlines(y, 0, lanes["followup_end"].to_numpy(float), color="#bdbdbd", lw=1)
    ax.barh(y, lanes["maint_end"].to_numpy(float), left=0, height=0.6, color="#c6dbef", edgecolor="#6baed6", lw=0.5)
    style = {
        "mrd_negative": dict(marker="o", color=STATUS_COLORS["negative"], ms=4),
        "mrd_positive": dict(marker="o", color=STATUS_COLORS["positive"], ms=4),
        "mrd_not_evaluable": dict(marker="o", mfc="white", mec=STATUS_COLORS["not_evaluable"], color="#969696", ms=4),
        "deepest_response": dict(marker="D", color="#00441b", ms=4),
        "progression": dict(marker="X", color="#cb181d", ms=6),
        "death": dict(marker="s", color="black", ms=4.5),
    }
    names = {"mrd_negative": "MRD negative", "mrd_positive": "MRD positive", "mrd_not_evaluable": "MRD not evaluable",
             "deepest_response": "deepest response reached", "progression": "progression", "death": "death"}
    for kind, st in style.items():
        m = marks[marks["kind"] == kind]
        ax.plot(m["months"], m["patient_id"].map(ypos), ls="none", label=names[kind], **st)
    ax.set_yticks(list(ypos.values()))
    ax.set_yticklabels(list(ypos.keys()), fontsize=6 if n > 25 else 7)
    ax.set_ylim(-1, n)
    ax.set_xlabel("Months from maintenance start (bar: maintenance; line: follow-up)")
    ax.legend(fontsize=7, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 3.0 / max(n, 8)))
    ax.set_title("Patients during maintenance", loc="left", fontsize=10, fontweight="bold")
    return fig
