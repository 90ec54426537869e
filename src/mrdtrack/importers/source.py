"""The COHORT argument of every command: a contract folder or workbook, an OMOP source (docs/omop.md)
or a FHIR source (docs/fhir.md).

``read_any_cohort`` looks at the argument and returns the same ``ReadResult`` whatever the door:
an OMOP source is imported into contract tables (``importers.omop``) which then go through the
contract's own validation, so the analysis is the same code. The import log's errors and
warnings join the issues with their codes; the provenance names the source without credentials.
A new door (FHIR) adds its kind to ``cohort_kind`` and its branch to ``import_cohort``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mrdtrack.config import Config
from mrdtrack.errors import UserError
from mrdtrack.io.validate import ReadResult

CONTRACT, OMOP, FHIR = "contract", "omop", "fhir"


@dataclass(frozen=True)
class SourceOptions:
    """Options of a database source (``--omop-schema``, ``--vocab-schema``, ``--omop-cohort-id``,
    ``--results-schema``, ``--mapping``); ignored for a contract folder."""

    omop_schema: str | None = None
    vocab_schema: str | None = None
    omop_cohort_id: int | None = None
    results_schema: str | None = None
    mapping: Path | None = None


def cohort_kind(cohort: str | Path) -> str:
    """``omop`` for a PostgreSQL URL, a DuckDB file or a folder of OMOP tables; ``fhir`` for a folder
    of Bulk ndjson or Bundle files (or one such file); else ``contract``."""
    from mrdtrack.importers.fhir.source import is_fhir_source
    from mrdtrack.importers.omop.connect import is_omop_folder, is_postgres_url

    text = str(cohort)
    if is_postgres_url(text):
        return OMOP
    path = Path(text)
    if path.is_file() and path.suffix.lower() in (".duckdb", ".ddb", ".db"):
        return OMOP
    if path.is_dir() and is_omop_folder(path):
        return OMOP
    if is_fhir_source(path):
        return FHIR
    return CONTRACT


def import_cohort(cohort: str | Path, options: SourceOptions, data_cut=None, config: Config | None = None,
                  exclude_invalid: bool = False):
    """Import a database or FHIR source into contract tables (``Imported``: tables, log, data cut,
    label). ``exclude_invalid``: a FHIR source's malformed lines are logged and skipped, not an error."""
    from mrdtrack.importers.mapping import load_mapping
    from mrdtrack.importers.omop.read import import_omop

    kind = cohort_kind(cohort)
    if kind == FHIR:
        from mrdtrack.importers.fhir.convert import import_fhir

        return import_fhir(cohort, load_mapping(options.mapping), data_cut=data_cut, config=config,
                           exclude_invalid=exclude_invalid)
    if kind != OMOP:
        raise UserError(f"{cohort}: not an OMOP source (a postgresql:// URL, a .duckdb file or a folder with a "
                        "person table)")
    return import_omop(str(cohort), omop_options(options), data_cut=data_cut, config=config)


def omop_options(options: SourceOptions):
    """The OMOP reader's options (``OmopOptions``, the mapping file loaded) of a SourceOptions."""
    from mrdtrack.importers.mapping import load_mapping
    from mrdtrack.importers.omop.read import OmopOptions

    return OmopOptions(options.omop_schema, options.vocab_schema, options.omop_cohort_id, options.results_schema,
                       load_mapping(options.mapping))


def source_provenance(imported) -> dict:
    """The ``inputs`` entry of an imported source: path (no credentials), kind, schema, data cut."""
    cut = str(imported.data_cut.date()) if not pd.isna(imported.data_cut) else None
    return {FHIR if imported.kind == FHIR else OMOP: {"path": imported.source, "kind": imported.kind,
                                                     **imported.details, "data_cut": cut}}


def import_issues(log: pd.DataFrame, exclude_invalid: bool, columns) -> pd.DataFrame:
    from mrdtrack.importers.log import issues_from_log

    iss = issues_from_log(log)
    if exclude_invalid:
        iss["severity"] = iss["severity"].replace({"error": "excluded"})
    for c in columns:
        if c not in iss:
            iss[c] = None
    return iss[list(columns)]


def read_any_cohort(cohort: str | Path, data_cut=None, exclude_invalid: bool = False, config: Config | None = None,
                    options: SourceOptions | None = None) -> ReadResult:
    """Read and validate any COHORT (contract folder/workbook or OMOP source) into a ReadResult."""
    from mrdtrack.io.read import parse_data_cut, read_cohort, validate_tables

    if cohort_kind(cohort) == CONTRACT:
        return read_cohort(Path(cohort), data_cut=data_cut, exclude_invalid=exclude_invalid, config=config)
    imported = import_cohort(cohort, options or SourceOptions(), parse_data_cut(data_cut), config, exclude_invalid)
    result = validate_tables(imported.tables, data_cut=imported.data_cut, exclude_invalid=exclude_invalid, config=config)
    iss = import_issues(imported.log, exclude_invalid, list(result.issues.columns))
    issues = pd.concat([x for x in (iss, result.issues) if len(x)] or [result.issues], ignore_index=True)
    cohort_obj = result.cohort
    if cohort_obj is not None and (iss["severity"] == "error").any():
        cohort_obj = None  # rows that could not be converted stop the run, as validation errors do
    sources = source_provenance(imported)
    if cohort_obj is not None:
        from dataclasses import replace

        cohort_obj = replace(cohort_obj, sources=sources)
    return ReadResult(cohort_obj, issues, result.counts, sources)
