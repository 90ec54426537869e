"""``mrdtrack import omop SOURCE --out DIR`` (docs/omop.md): a database source written as a contract folder.

The folder holds the contract's tables (Parquet by default, ``--format csv``) and ``import_log.csv``,
so a user can look at, fix or version what was read; ``analyze`` on it gives the same outputs as
``analyze`` on the source. Each door is one subcommand (``omop``; ``fhir`` slots in beside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mrdtrack.commands.common import (
    CohortIdOpt,
    DataCutOpt,
    MappingOpt,
    OmopSchemaOpt,
    ResultsSchemaOpt,
    VocabSchemaOpt,
    err_console,
    guarded,
    source_options,
)
from mrdtrack.errors import UserError

import_app = typer.Typer(help="Write a database source (OMOP CDM) as a contract folder plus import_log.csv.",
                         no_args_is_help=True)
FormatOpt = Annotated[str, typer.Option("--format", help="parquet (default) or csv.")]


def write_imported(imported, out: Path, fmt: str) -> list[Path]:
    """The imported contract tables and the import log into ``out``."""
    from mrdtrack.importers.log import write_log
    from mrdtrack.io.write import FORMATS, write_tables

    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    tables = dict(imported.tables)
    if fmt == "parquet":  # a Parquet column has one type: lab values (numbers and words) as text
        tables["labs"] = tables["labs"].assign(value=tables["labs"]["value"].astype(str))
    paths = write_tables(tables, out, fmt)
    write_log(imported.log, out / "import_log.csv")
    return [*paths, out / "import_log.csv"]


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

    @import_app.command("omop")
    @guarded
    def import_omop(
        source: Annotated[str, typer.Argument(help="A .duckdb file, a postgresql:// URL or a folder of OMOP tables.")],
        out: Annotated[Path, typer.Option("--out", help="Contract folder to write.")],
        fmt: FormatOpt = "parquet",
        data_cut: DataCutOpt = None,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
    ) -> None:
        """Read an OMOP CDM v5.4 source and write the equivalent contract folder plus import_log.csv.

        Example: mrdtrack import omop cdm.duckdb --out cohort/ --format csv
        """
        from mrdtrack.importers.source import import_cohort
        from mrdtrack.io.read import parse_data_cut

        opts = source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping)
        imported = import_cohort(source, opts, parse_data_cut(data_cut))
        paths = write_imported(imported, out, fmt)
        n_err = int((imported.log["severity"] == "error").sum())
        err_console.print(f"imported {len(imported.tables['patients'])} patients from {imported.source} "
                          f"(data cut {imported.data_cut.date()}); {n_err} row(s) could not be converted "
                          f"(import_log.csv); wrote {len(paths)} files to {out}", highlight=False)
