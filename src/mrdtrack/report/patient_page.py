"""One patient's page: therapy phases, M-protein/FLC and MRD over time, responses, events, alerts.

``patient_view`` gathers the patient's rows from the derived tables into plain JSON-ready data
(``mrdtrack patient --json`` writes it as is); ``render_patient_html`` lays it out as one
self-contained HTML page with the timeline figure inlined as SVG.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.report.fmt import for_people, sci
from mrdtrack.report.html import environment, external_references, stylesheet
from mrdtrack.report.patient_figure import patient_timeline_figure
from mrdtrack.report.svg import save_figure

SUMMARY_FIELDS = (
    "followed", "maintenance_start", "maintenance_end", "response_at_maintenance_start", "best_response",
    "deepest_response", "deepest_response_date", "deepest_during_maintenance", "progression_date",
    "progression_source", "mrd_entry_status", "mrd_kinetics", "mrd_trend", "mrd_converted", "months_to_mrd_negative",
    "mrd_ever_negative", "mrd_sustained_negative", "mrd_lost_negativity", "mrd_samples", "mrd_log10_slope_per_year",
    "pfs_months", "pfs_event", "os_months", "os_event",
)
CHARACTERISTICS = ("diagnosis_date", "iss_stage", "cytogenetic_risk", "heavy_chain", "light_chain")
MARKER_TESTS = ("serum_m_protein", "urine_m_protein", "flc_kappa", "flc_lambda")


def plain(v):
    """A JSON-ready scalar: ISO dates, None for missing, Python numbers and booleans."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, (pd.Timestamp, datetime, date, np.datetime64)):
        t = pd.Timestamp(v)
        return None if pd.isna(t) else t.strftime("%Y-%m-%d")
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, str):
        return v
    try:
        return None if pd.isna(v) else v
    except (TypeError, ValueError):
        return v


def _records(df: pd.DataFrame, cols) -> list[dict]:
    cols = [c for c in cols if c in df.columns]
    return [{c: plain(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False, name=None)]


def patient_view(patient_id: str, tables: dict[str, pd.DataFrame], alerts: pd.DataFrame, config: Config,
                 as_of, data_cut) -> dict:
    """Everything the page shows about one patient, as plain data.

    ``tables``: the patient's ``patients`` (derived, one row), ``characteristics`` (the input
    patients row), ``treatments``, ``labs``, ``mrd`` (derived samples), ``assessments``,
    ``events`` (input rows).
    """
    p = tables["patients"]
    row = p.iloc[0] if len(p) else pd.Series(dtype=object)
    ch = tables["characteristics"]
    chrow = ch.iloc[0] if len(ch) else pd.Series(dtype=object)
    labs = tables["labs"]
    labs = labs[labs["test"].isin(MARKER_TESTS)].sort_values(["date", "test"])
    labs = labs.assign(value=labs["value_num"])
    a = tables["assessments"].sort_values("date")
    confirmed = a[a["confirmed_response"].notna() & (a["confirmed_response"].astype(str) != "")]
    return {
        "patient_id": patient_id,
        "as_of": plain(as_of),
        "data_cut": plain(data_cut),
        "profile": config.profile,
        "mrd_threshold": config.mrd_threshold,
        "mrd_threshold_text": sci(config.mrd_threshold),
        "characteristics": {c: plain(chrow.get(c)) for c in CHARACTERISTICS},
        "summary": {c: plain(row.get(c)) for c in SUMMARY_FIELDS},
        "treatments": _records(tables["treatments"].sort_values("start_date"),
                               ["phase", "regimen", "start_date", "end_date", "end_reason"]),
        "confirmed_responses": _records(confirmed, ["date", "confirmed_response", "basis"]),
        "assessments": _records(a, ["date", "phase", "response", "confirmed_response", "pd_confirmed", "basis",
                                    "note"]),
        "labs": _records(labs, ["date", "test", "value", "unit"]),
        "mrd": _records(tables["mrd"].sort_values("date"),
                        ["date", "phase", "method", "lod", "result", "level", "log10_level", "censored", "status"]),
        "events": _records(tables["events"].sort_values("date"), ["date", "event", "detail"]),
        "alerts": _records(alerts, ["alert", "since", "detail"]),
    }


def view_json(view: dict) -> str:
    """The view as pretty, stable JSON."""
    return json.dumps(view, indent=2, sort_keys=True) + "\n"


def _timeline_svg(view: dict, threshold: float) -> str:
    dates = [pd.Timestamp(d) for d in (view["data_cut"], view["as_of"]) if d]
    end = max(dates) if dates else pd.Timestamp.today().normalize()
    fig = patient_timeline_figure(view, threshold, end)
    with tempfile.TemporaryDirectory() as tmp:
        saved = save_figure(fig, "patient_timeline", Path(tmp), "", f"Timeline of patient {view['patient_id']}")
    return saved.svg


def render_patient_html(view: dict) -> str:
    """The patient page (one self-contained HTML file)."""
    shown = {**view, "summary": {k: for_people(k, x) for k, x in view["summary"].items()},
             "characteristics": {k: for_people(k, x) for k, x in view["characteristics"].items()}}
    html = environment().get_template("patient.html.j2").render(
        css=stylesheet(), v=shown, svg=_timeline_svg(view, view["mrd_threshold"]))
    bad = external_references(html)
    if bad:
        raise RuntimeError(f"patient page would reference external resources: {bad[:3]}")
    return html
