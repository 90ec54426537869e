"""Options and error handling shared by the commands (docs/cli.md)."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from mrdtrack.errors import InvalidCohort, PseudonymCollision, UserError

if TYPE_CHECKING:
    from mrdtrack.config import Config

err_console = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML or YAML file overriding configuration fields.")]
ProfileOpt = Annotated[str, typer.Option("--profile", help="Configuration profile: imwg2016 or alonso2020.")]
DataCutOpt = Annotated[str | None, typer.Option("--data-cut", help="Data cut YYYY-MM-DD (default: latest date in the cohort).")]
ExcludeOpt = Annotated[bool, typer.Option("--exclude-invalid", help="Leave out rows/patients with errors (listed in issues.csv) instead of stopping.")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="native: this machine (in memory or partitioned, see --partitions); spark: Apache Spark "
                     "(pip install 'mrdtrack[spark]'; cohort folder of Parquet tables; docs/spark.md).")]
SparkMasterOpt = Annotated[str, typer.Option("--spark-master", help="Spark master URL for --engine spark "
                                             "(local[*], spark://host:7077, yarn, k8s://...).")]
SparkConfOpt = Annotated[list[str] | None, typer.Option("--spark-conf", help="KEY=VALUE Spark setting for --engine "
                                                        "spark (repeatable).")]
PseudoOpt = Annotated[bool, typer.Option("--pseudonymize", help="Replace patient_id by P-<HMAC-SHA256> (key from MRDTRACK_PSEUDONYM_KEY).")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", min=1, help="Worker processes (default: the cores available to "
                                                                   "this process; outputs do not depend on it).")]

#: Patients per derivation batch: mirrors ``mrdtrack.pipeline.DEFAULT_BATCH_SIZE`` so that ``--help`` need not
#: import the pipeline (tests/test_cli_startup.py checks the two agree).
DEFAULT_BATCH_SIZE = 10_000


def default_jobs() -> int:
    """The default of every ``--jobs`` (``processes.default_jobs``: the cores this process may use)."""
    from mrdtrack.processes import default_jobs as cores

    return cores()


def output_folder(path: Path) -> Path:
    """``--out`` as a folder that can be written: created when missing; a UserError (exit 2) when
    it names an existing file, lies under a file, or cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {path}: exists and is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: the folder is not writable")
    return path


def output_file(path: Path) -> Path:
    """``--out`` as a file that can be written (its folder created when missing); a UserError
    (exit 2) when it names a folder or its folder cannot be made or written."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out {path}: is a folder; give a file name")
    output_folder(path.parent if str(path.parent) else Path("."))
    return path


def spark_options(engine: str, master: str, conf: list[str] | None):
    """The Spark settings of ``--spark-master`` and ``--spark-conf KEY=VALUE`` (None unless engine spark)."""
    if engine != "spark":
        if conf or master != "local[*]":
            raise UserError("--spark-master and --spark-conf need --engine spark")
        return None
    from mrdtrack.executors.spark_session import SparkOptions

    pairs = {}
    for item in conf or []:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise UserError(f"--spark-conf expects KEY=VALUE, not '{item}'")
        pairs[k.strip()] = v.strip()
    return SparkOptions(master=master, conf=pairs)


def resolve_config(profile: str, config_file: Path | None) -> Config:
    from mrdtrack.config import ConfigError, load_config

    try:
        return load_config(profile, config_file)
    except ConfigError as exc:
        raise UserError(str(exc)) from exc


def guarded(fn):
    """Run a command body: UserError -> message + exit 2; other faults -> exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except UserError as exc:
            if isinstance(exc, InvalidCohort):
                from mrdtrack.commands.validate import print_problems

                print_problems(exc.issues)
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except PseudonymCollision as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            err_console.print(f"[bold red]internal error[/] ({type(exc).__name__}): {escape(str(exc))}", highlight=False)
            if "--debug" in sys.argv or __import__("os").environ.get("MRDTRACK_DEBUG"):
                traceback.print_exc()
            raise typer.Exit(1) from None

    return wrapper


# ------------------------------------------------------------------ the COHORT argument and its source options
CohortArg = Annotated[str, typer.Argument(
    help="Cohort: a folder of csv/parquet tables or an .xlsx workbook (the data contract); or an OMOP CDM "
         "source: a .duckdb file, a postgresql:// URL or a folder of OMOP tables (docs/omop.md); or a FHIR R4 "
         "export: a folder of Bulk Data *.ndjson or Bundle *.json files (docs/fhir.md).")]
OmopSchemaOpt = Annotated[str | None, typer.Option("--omop-schema", help="OMOP: schema of the CDM tables (default: the first holding person).")]
VocabSchemaOpt = Annotated[str | None, typer.Option("--vocab-schema", help="OMOP: schema of concept/concept_ancestor (default: the CDM schema).")]
CohortIdOpt = Annotated[int | None, typer.Option("--omop-cohort-id", help="OMOP: read the persons of this cohort_definition_id from the cohort table.")]
ResultsSchemaOpt = Annotated[str | None, typer.Option("--results-schema", help="OMOP: schema of the cohort table (default: the CDM schema).")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="OMOP/FHIR: TOML or YAML file extending or replacing the default mapping (docs/mapping.md).")]


def source_options(omop_schema=None, vocab_schema=None, omop_cohort_id=None, results_schema=None, mapping=None):
    """The database-source options of a command (docs/omop.md), as one object."""
    from mrdtrack.importers.source import SourceOptions

    return SourceOptions(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping)
