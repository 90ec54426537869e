"""``mrdtrack patient COHORT PATIENT_ID --out FILE [--json] [--as-of DATE]``: one patient's page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mrdtrack.commands.common import (
    CohortArg,
    CohortIdOpt,
    ConfigOpt,
    DataCutOpt,
    ExcludeOpt,
    MappingOpt,
    OmopSchemaOpt,
    ProfileOpt,
    PseudoOpt,
    ResultsSchemaOpt,
    VocabSchemaOpt,
    err_console,
    guarded,
    output_file,
    resolve_config,
    source_options,
)
from mrdtrack.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from mrdtrack.config import Config

JsonOpt = Annotated[bool, typer.Option("--json", help="Write the patient's data as JSON instead of HTML.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Evaluate alerts as of this date (default: data cut).")]


def parse_as_of(text: str | None) -> pd.Timestamp | None:
    """``--as-of`` as a date (YYYY-MM-DD), or None; a UserError otherwise."""
    from mrdtrack.commands.alerts import parse_date

    return parse_date(text, "--as-of")


def find_patient(cohort, patient_id: str, key: str | None) -> str:
    """The cohort's own id for ``patient_id`` (which may be a pseudonym when a key is given)."""
    ids = cohort.patients["patient_id"].astype(str)
    if (ids == patient_id).any():
        return patient_id
    if key is not None:
        from mrdtrack.pseudonym import pseudonym_map

        reverse = {v: k for k, v in pseudonym_map(ids, key).items()}
        if patient_id in reverse:
            return reverse[patient_id]
    raise UserError(f"patient {patient_id!r} is not in the cohort ({len(ids)} patients; ids are case-sensitive)")


def build_patient_view(cohort, patient_id: str, config: Config, as_of: pd.Timestamp | None,
                       key: str | None = None) -> dict:
    """Derive one patient's tables and open alerts and gather them for the page (pseudonymised with a key)."""
    from mrdtrack.mrd.alerts import patient_alerts
    from mrdtrack.pipeline import derive_batch
    from mrdtrack.report.patient_page import patient_view

    pid = find_patient(cohort, patient_id, key)
    sub = cohort.subset([pid])
    d = derive_batch(sub, config)
    date = as_of if as_of is not None else cohort.data_cut
    alerts = patient_alerts(d.assessments, d.mrd, d.anchors, config, date)
    tables = {"patients": d.patients, "characteristics": sub.patients, "treatments": sub.treatments,
              "labs": sub.labs, "mrd": d.mrd, "assessments": d.assessments, "events": sub.events, "alerts": alerts}
    shown = pid
    if key is not None:
        from mrdtrack.pseudonym import pseudonymize_frames, pseudonymize_id

        tables = pseudonymize_frames(tables, key)
        shown = pseudonymize_id(pid, key)
    alerts = tables.pop("alerts")
    return patient_view(shown, tables, alerts, config, date, cohort.data_cut)


def register(app: typer.Typer) -> None:
    @app.command("patient")
    @guarded
    def patient(
        cohort: CohortArg,
        patient_id: Annotated[str, typer.Argument(help="The patient's patient_id.")],
        out: Annotated[Path, typer.Option("--out", help="Output file (HTML, or JSON with --json).")],
        as_json: JsonOpt = False,
        as_of: AsOfOpt = None,
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        data_cut: DataCutOpt = None,
        exclude_invalid: ExcludeOpt = False,
        pseudonymize: PseudoOpt = False,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
    ) -> None:
        """One patient's timeline (therapy phases, M-protein/FLC, MRD), confirmed responses, events and open alerts.

        Example: mrdtrack patient examples/cohort P01 --out P01.html --as-of 2022-06-30
        """
        from mrdtrack.executors.memory import load_validated
        from mrdtrack.report.patient_page import render_patient_html, view_json

        cfg = resolve_config(profile, config)
        key = None
        if pseudonymize:
            from mrdtrack.pseudonym import pseudonym_key_from_env

            key = pseudonym_key_from_env()
        date = parse_as_of(as_of)
        result = load_validated(cohort, data_cut, exclude_invalid, cfg,
                                source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping))
        view = build_patient_view(result.cohort, patient_id, cfg, date, key)
        text = view_json(view) if as_json else render_patient_html(view)
        output_file(out)
        out.write_text(text, encoding="utf-8")
        err_console.print(f"patient {view['patient_id']}: {len(view['alerts'])} open alert(s); wrote {out}",
                          highlight=False)
