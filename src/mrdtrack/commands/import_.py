"""``mrdtrack import omop SOURCE --out DIR`` (docs/omop.md): a database source written as a contract folder.

The folder holds the contract's tables (Parquet by default, ``--format csv``) and ``import_log.csv``,
so a user can look at, fix or version what was read; ``analyze`` on it gives the same outputs as
``analyze`` on the source. Each door is one subcommand: ``omop`` and ``fhir`` (docs/fhir.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mrdtrack.commands.common import (
    CohortIdOpt,
    DataCutOpt,
    ExcludeOpt,
    MappingOpt,
    OmopSchemaOpt,
    ResultsSchemaOpt,
    VocabSchemaOpt,
    err_console,
    guarded,
    source_options,
)
from mrdtrack.errors import UserError

import_app = typer.Typer(help="Write an OMOP CDM or FHIR R4 source as a contract folder plus import_log.csv.",
                         no_args_is_help=True)
FormatOpt = Annotated[str, typer.Option("--format", help="parquet (default) or csv.")]


def check_out(out: Path, fmt: str) -> None:
    """A UserError for an unknown --format or an --out that is not a folder."""
    from mrdtrack.io.write import FORMATS

    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")


def write_imported(imported, out: Path, fmt: str) -> list[Path]:
    """The imported contract tables and the import log into ``out``."""
    from mrdtrack.importers.log import write_log
    from mrdtrack.importers.omop.stream import file_tables
    from mrdtrack.io.write import write_tables

    check_out(out, fmt)
    paths = write_tables(file_tables(imported.tables, fmt), out, fmt)
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
        from mrdtrack.importers.omop.stream import stream_omop
        from mrdtrack.importers.source import OMOP, cohort_kind
        from mrdtrack.io.read import parse_data_cut

        if cohort_kind(source) != OMOP:
            raise UserError(f"{source}: not an OMOP source (a postgresql:// URL, a .duckdb file or a folder with a "
                            "person table)")
        check_out(out, fmt)
        opts = source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping)
        streamed = stream_omop(source, opts, out, fmt, parse_data_cut(data_cut))  # range by range (docs/omop.md)
        imported, paths = streamed.imported, streamed.paths
        n_err = int((imported.log["severity"] == "error").sum())
        err_console.print(f"imported {streamed.patients} patients from {imported.source} "
                          f"(data cut {imported.data_cut.date()}); {n_err} row(s) could not be converted "
                          f"(import_log.csv); wrote {len(paths)} files to {out}", highlight=False)

    @import_app.command("fhir")
    @guarded
    def import_fhir(
        source: Annotated[Path, typer.Argument(help="A folder of Bulk Data *.ndjson(.gz) files or of Bundle *.json "
                                                    "files (or one such file).")],
        out: Annotated[Path, typer.Option("--out", help="Contract folder to write.")],
        fmt: FormatOpt = "parquet",
        data_cut: DataCutOpt = None,
        mapping: MappingOpt = None,
        exclude_invalid: ExcludeOpt = False,
    ) -> None:
        """Read a FHIR R4 source (Bulk Data export or Bundles) and write the contract folder plus import_log.csv.

        A malformed JSON line stops the run naming its file and line, unless --exclude-invalid
        (then it is skipped and listed in import_log.csv). Rules: docs/fhir.md.

        Example: mrdtrack import fhir export/ --out cohort/ --format csv
        """
        from mrdtrack.importers.source import FHIR, cohort_kind, import_cohort
        from mrdtrack.io.read import parse_data_cut

        if cohort_kind(source) != FHIR:
            raise UserError(f"{source}: not a FHIR source (expected a folder of *.ndjson, *.ndjson.gz or Bundle "
                            "*.json files)")
        imported = import_cohort(source, source_options(mapping=mapping), parse_data_cut(data_cut),
                                 exclude_invalid=exclude_invalid)
        paths = write_imported(imported, out, fmt)
        n_err = int((imported.log["severity"] == "error").sum())
        err_console.print(f"imported {len(imported.tables['patients'])} patients from {source} "
                          f"(data cut {imported.data_cut.date()}); {n_err} resource(s) or line(s) could not be "
                          f"used (import_log.csv); wrote {len(paths)} files to {out}", highlight=False)
