"""``mrdtrack validate COHORT``: check a cohort against the data contract (docs/cli.md)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from mrdtrack.commands.common import (
    CohortArg,
    CohortIdOpt,
    ConfigOpt,
    DataCutOpt,
    EngineOpt,
    JobsOpt,
    MappingOpt,
    OmopSchemaOpt,
    ProfileOpt,
    ResultsSchemaOpt,
    SparkConfOpt,
    SparkMasterOpt,
    VocabSchemaOpt,
    default_jobs,
    guarded,
    resolve_config,
    source_options,
    spark_options,
)
from mrdtrack.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json")
SHOWN = ["file", "row", "column", "value", "message", "severity", "code"]
HEADERS = {"message": "problem"}


def count_line(issues: pd.DataFrame, counts: dict) -> str:
    """'2 errors, 1 warning, 0 excluded in 6 patients' (the line under the problem table)."""
    n = issues["severity"].value_counts()
    e, w, x = (int(n.get(k, 0)) for k in ("error", "warning", "excluded"))
    plural = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
    patients = counts.get("patients_in")
    where = f" in {plural(patients, 'patient')}" if patients is not None else ""
    verdict = "valid" if e == 0 else "not valid"
    return f"{plural(e, 'error')}, {plural(w, 'warning')}, {x} excluded{where}: cohort is {verdict}"


def render_table(issues: pd.DataFrame, console: Console) -> None:
    import pandas as pd
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for c in SHOWN:
        table.add_column(HEADERS.get(c, c), overflow="fold")
    colour = {"error": "red", "warning": "yellow", "excluded": "cyan"}
    for rec in issues[SHOWN].itertuples(index=False):
        cells = ["" if pd.isna(v) else str(v) for v in rec]
        cells[-1] = f"[{colour.get(cells[-1], 'white')}]{cells[-1]}[/]"
        table.add_row(*cells)
    console.print(table)


def print_problems(issues: pd.DataFrame, console: Console | None = None) -> None:
    """The problem table on stderr (used by the commands that stop on validation errors)."""
    from mrdtrack.commands.common import err_console

    render_table(issues, console or err_console)


def register(app: typer.Typer) -> None:
    @app.command(
        "validate",
        help="Check a cohort folder (or .xlsx workbook) against the data contract and list every problem.\n\n"
             "Exit status 2 when any problem is an error, 0 otherwise (warnings alone pass).\n\n"
             "Example: mrdtrack validate examples/cohort --format csv > problems.csv",
    )
    @guarded
    def validate(
        cohort: CohortArg,
        data_cut: DataCutOpt = None,
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        fmt: Annotated[str, typer.Option("--format", help="Output: table (default), csv or json.")] = "table",
        partitions: Annotated[int | None, typer.Option(
            "--partitions", min=0,
            help="0: read the whole cohort into memory; N: stream a cohort folder into N buckets of whole patients "
                 "and check one bucket at a time (same problems, memory bounded by a bucket). Default: in memory "
                 "below 2,000,000 input rows (an OMOP source: ranges of persons, docs/omop.md).")] = None,
        jobs: JobsOpt = None,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
        engine: EngineOpt = "native",
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        if fmt not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
        import pandas as pd

        from mrdtrack.executors import choose_executor
        from mrdtrack.executors.base import RunOptions
        from mrdtrack.io.read import parse_data_cut

        cfg = resolve_config(profile, config)
        source = source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping)
        executor = choose_executor(cohort, engine, partitions, spark_options(engine, spark_master, spark_conf), source)
        issues, counts = executor.validate(cohort, cfg, RunOptions(data_cut=parse_data_cut(data_cut), jobs=jobs or default_jobs(),
                                                                   source=source))
        line = count_line(issues, counts)
        if fmt == "csv":
            issues[SHOWN].to_csv(sys.stdout, index=False, lineterminator="\n")
            typer.echo(line, err=True)
        elif fmt == "json":
            recs = [{k: (None if pd.isna(v) else (int(v) if k == "row" else v)) for k, v in r.items()}
                    for r in issues[SHOWN + ["table", "patient_id"]].to_dict("records")]
            typer.echo(json.dumps({"issues": recs, "counts": counts, "summary": line}, indent=1))
        else:
            console = Console(soft_wrap=False)
            if len(issues):
                render_table(issues, console)
            console.print(line, highlight=False)
        if (issues["severity"] == "error").any():
            raise typer.Exit(2)
