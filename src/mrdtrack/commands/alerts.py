"""``mrdtrack alerts COHORT [--as-of DATE]``: the clinic worklist (docs/mrd.md section 5)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mrdtrack.commands.common import (
    CohortArg,
    CohortIdOpt,
    ConfigOpt,
    ExcludeOpt,
    MappingOpt,
    OmopSchemaOpt,
    ProfileOpt,
    PseudoOpt,
    ResultsSchemaOpt,
    VocabSchemaOpt,
    guarded,
    resolve_config,
    source_options,
)
from mrdtrack.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from mrdtrack.config import Config

ALERT_COLUMNS = ["patient_id", "alert", "since", "detail"]
FORMATS = ("table", "csv", "json")


def open_alerts(cohort, config: Config, as_of: pd.Timestamp) -> pd.DataFrame:
    """Open alerts at ``as_of`` using only data dated on or before it."""
    from mrdtrack.mrd.alerts import patient_alerts
    from mrdtrack.pipeline import derive_all

    derived = derive_all(cohort, config)
    return patient_alerts(derived.assessments, derived.mrd, derived.anchors, config, as_of)[ALERT_COLUMNS]


def parse_date(text: str | None, option: str) -> pd.Timestamp | None:
    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(pd.to_datetime(text, format="%Y-%m-%d"))
    except (ValueError, TypeError) as exc:
        raise UserError(f"{option}: {text!r} is not a date (expected YYYY-MM-DD)") from exc


def register(app: typer.Typer) -> None:
    @app.command("alerts")
    @guarded
    def alerts(
        cohort: CohortArg,
        as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this date (default: the data cut).")] = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        exclude_invalid: ExcludeOpt = False,
        pseudonymize: PseudoOpt = False,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
    ) -> None:
        """The clinic worklist: one row per open alert (patient_id, alert, since, detail).

        Alerts: loss_of_mrd_negativity, mrd_rising, pd_unconfirmed, progression, mrd_overdue,
        sustained_negative_reached.

        Example: mrdtrack alerts examples/cohort --as-of 2024-06-30 --format csv
        """
        from mrdtrack.executors.memory import load_validated
        from mrdtrack.io.outputs import format_table

        if fmt not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)}")
        cfg = resolve_config(profile, config)
        as_of_date = parse_date(as_of, "--as-of")
        result = load_validated(cohort, as_of, exclude_invalid, cfg,
                                source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping))
        date = as_of_date if as_of_date is not None else result.cohort.data_cut
        table = open_alerts(result.cohort, cfg, date)
        if pseudonymize:
            from mrdtrack.pseudonym import pseudonym_key_from_env, pseudonymize_frames

            table = pseudonymize_frames({"alerts": table}, pseudonym_key_from_env())["alerts"]
        out = format_table(table)
        if fmt == "csv":
            typer.echo(out.to_csv(index=False, lineterminator="\n"), nl=False)
        elif fmt == "json":
            typer.echo(json.dumps(out.to_dict(orient="records"), indent=2))
        else:
            t = Table(title=f"Open alerts as of {date.date()} ({len(out)})")
            for c in ALERT_COLUMNS:
                t.add_column(c)
            for row in out.itertuples(index=False):
                t.add_row(*[str(v) for v in row])
            Console().print(t)
