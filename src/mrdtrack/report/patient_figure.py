"""The patient page's timeline figure: therapy phases and events, M-protein and FLC, MRD (log scale).

Three panels share a calendar x axis. Everything drawn comes from the patient's derived tables
and lab results; nothing is estimated here.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogFormatter

from mrdtrack.report.figures import STATUS_COLORS
from mrdtrack.report.fmt import sci
from mrdtrack.report.svg import log_axis, styled

PHASE_COLORS = {"induction": "#fdae6b", "transplant": "#e6550d", "consolidation": "#fd8d3c",
                "maintenance": "#6baed6", "later_line": "#9e9ac8"}
PHASE_ROWS = ("induction", "transplant", "consolidation", "maintenance", "later_line")


def _dates(s) -> pd.Series:
    return pd.to_datetime(pd.Series(s), errors="coerce")


@styled
def patient_timeline_figure(view: dict, threshold: float, end: pd.Timestamp) -> plt.Figure:
    """Phases/responses/events, serum M-protein and FLC, and MRD against calendar dates."""
    fig, (ax_t, ax_m, ax_r) = plt.subplots(3, 1, figsize=(8.0, 7.2), sharex=True,
                                           gridspec_kw={"height_ratios": [1.3, 1.6, 1.6], "hspace": 0.45})
    _phases(ax_t, view, end)
    _markers(ax_m, view)
    _mrd(ax_r, view, threshold)
    ax_r.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax_r.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax_r.xaxis.get_major_locator()))
    return fig


def _phases(ax, view: dict, end: pd.Timestamp) -> None:
    rows = [p for p in PHASE_ROWS if any(t["phase"] == p for t in view["treatments"])] or ["maintenance"]
    ypos = {p: len(rows) - 1 - i for i, p in enumerate(rows)}
    for t in view["treatments"]:
        start = pd.Timestamp(t["start_date"])
        color = PHASE_COLORS.get(t["phase"], "#cccccc")
        if t["phase"] == "transplant":  # one day: a marker, a bar would be invisible
            ax.plot([mdates.date2num(start)], [ypos["transplant"]], marker="*", ms=10, color=color)
            continue
        stop = pd.Timestamp(t["end_date"]) if t.get("end_date") else end
        width = max((stop - start).days, 4)
        ax.barh(ypos[t["phase"]], width, left=mdates.date2num(start), height=0.6, color=color, edgecolor="white")
    ax.set_yticks(list(ypos.values()))
    ax.set_yticklabels([p.replace("_", " ") for p in ypos])
    top = len(rows) - 0.4
    previous, changes = None, 0
    for r in view["confirmed_responses"]:
        x = mdates.date2num(pd.Timestamp(r["date"]))
        ax.plot([x], [top], marker="v", color="#31a354", ms=4)
        if r["confirmed_response"] != previous:  # label each change of level only, staggered in height
            ax.text(x, top + 0.12 + 0.3 * (changes % 2), r["confirmed_response"], fontsize=6.5, ha="left",
                    va="bottom", color="#006d2c")
            previous, changes = r["confirmed_response"], changes + 1
    for ev in view["events"]:
        x = mdates.date2num(pd.Timestamp(ev["date"]))
        if ev["event"] == "progression":
            ax.axvline(x, color="#cb181d", lw=1, ls="--")
        elif ev["event"] == "death":
            ax.axvline(x, color="black", lw=1.2)
    prog = view["summary"].get("progression_date")
    if prog:
        ax.axvline(mdates.date2num(pd.Timestamp(prog)), color="#cb181d", lw=1.6)
    ax.set_ylim(-0.6, len(rows) + 0.55)
    handles = [Line2D([], [], ls="none", marker="v", color="#31a354", label="confirmed response"),
               Line2D([], [], color="#cb181d", lw=1.6, label="analysis progression"),
               Line2D([], [], color="#cb181d", lw=1, ls="--", label="recorded progression"),
               Line2D([], [], color="black", lw=1.2, label="death")]
    ax.legend(handles=handles, fontsize=7, frameon=False, ncol=4, loc="lower left", bbox_to_anchor=(0, 1.0))
    ax.set_title("Therapy, responses and events", loc="left", fontsize=9, fontweight="bold", pad=18)


def _markers(ax, view: dict) -> None:
    labs = pd.DataFrame(view["labs"], columns=["date", "test", "value", "unit"])
    labs["date"] = _dates(labs["date"])
    serum = labs[labs["test"] == "serum_m_protein"]
    ax.plot(serum["date"], serum["value"], marker="o", ms=3, color="#08519c", label="serum M-protein (g/dL)")
    ax.set_ylabel("g/dL")
    ax2 = ax.twinx()
    for test, color in (("flc_kappa", "#d95f02"), ("flc_lambda", "#7570b3")):
        s = labs[labs["test"] == test]
        ax2.plot(s["date"], s["value"], marker=".", ms=3, lw=1, color=color, label=f"{test.split('_')[1]} FLC (mg/L)")
    has_flc = labs["test"].isin(["flc_kappa", "flc_lambda"]).any()
    if has_flc and (labs.loc[labs["test"].isin(["flc_kappa", "flc_lambda"]), "value"] > 0).all():
        ax2.set_yscale("log")
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax2.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1.5, 0.6)))
    ax2.set_ylabel("FLC, mg/L" + (" (log)" if has_flc else ""))
    ax2.spines["right"].set_visible(True)
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, frameon=False, ncol=3, loc="lower left",
              bbox_to_anchor=(0, 1.0))
    if serum.empty and not has_flc:
        ax.text(0.5, 0.5, "no M-protein or FLC results", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_title("M-protein and free light chains", loc="left", fontsize=9, fontweight="bold", pad=18)


def _mrd(ax, view: dict, threshold: float) -> None:
    m = pd.DataFrame(view["mrd"], columns=["date", "lod", "result", "level", "status"])
    m["date"] = _dates(m["date"])
    det = m[m["result"] == "detected"]
    nd = m[m["result"] != "detected"]
    for status, color in STATUS_COLORS.items():
        d = det[det["status"] == status]
        ax.plot(d["date"], d["level"].astype(float), ls="none", marker="o", ms=5, color=color)
        n = nd[nd["status"] == status]
        ax.plot(n["date"], n["lod"].astype(float), ls="none", marker="o", ms=5.5, mfc="white", mec=color, mew=1.2)
    ax.plot(m["date"], m["lod"].astype(float), ls="none", marker="_", ms=10, color="#969696")
    if len(m):
        order = m.sort_values("date")
        y = np.where(order["result"] == "detected", order["level"].astype(float), order["lod"].astype(float))
        ax.plot(order["date"], y, color="#bbbbbb", lw=0.8, zorder=0)
    ax.axhline(threshold, color="#333333", ls="--", lw=1)
    ax.set_yscale("log")
    log_axis(ax.yaxis)
    ax.set_ylabel("MRD (fraction, log)")
    handles = [Line2D([], [], ls="none", marker="o", color=STATUS_COLORS["positive"], label="detected, positive at T"),
               Line2D([], [], ls="none", marker="o", color=STATUS_COLORS["negative"], label="detected, below T"),
               Line2D([], [], ls="none", marker="o", mfc="white", mec="#333333", label="not detected (at LOD)"),
               Line2D([], [], ls="none", marker="_", ms=10, color="#969696", label="LOD of the sample"),
               Line2D([], [], color="#333333", ls="--", label=f"threshold T = {sci(threshold)}")]
    ax.legend(handles=handles, fontsize=7, frameon=False, ncol=5, loc="lower left", bbox_to_anchor=(0, 1.0),
              handletextpad=0.3, columnspacing=1.0)
    if m.empty:
        ax.text(0.5, 0.5, "no MRD samples", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_title("Minimal residual disease", loc="left", fontsize=9, fontweight="bold", pad=18)
