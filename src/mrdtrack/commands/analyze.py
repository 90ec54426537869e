"""``mrdtrack analyze COHORT --out DIR`` (docs/cli.md): validate, derive, summarise, write."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mrdtrack import __version__
from mrdtrack.commands.common import (
    DEFAULT_BATCH_SIZE,
    CohortArg,
    CohortIdOpt,
    ConfigOpt,
    DataCutOpt,
    ExcludeOpt,
    JobsOpt,
    MappingOpt,
    OmopSchemaOpt,
    ProfileOpt,
    PseudoOpt,
    ResultsSchemaOpt,
    VocabSchemaOpt,
    default_jobs,
    err_console,
    guarded,
    output_folder,
    resolve_config,
    source_options,
)
from mrdtrack.errors import InvalidCohort, UserError

if TYPE_CHECKING:
    from mrdtrack.config import Config
    from mrdtrack.pipeline import Analysis

BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Patients per batch (outputs do not depend on it).")]
PartitionsOpt = Annotated[int | None, typer.Option(
    "--partitions", min=0,
    help="0: read the whole cohort into memory; N: stream a cohort folder into N buckets of whole patients "
         "and analyse one bucket per process at a time (memory bounded by a bucket). Default: in memory below "
         "2,000,000 input rows, else one bucket per 750,000 rows. Outputs do not depend on it.")]


def load_validated(cohort_path, data_cut: str | None, exclude_invalid: bool, config: Config, source=None):
    """Read and validate a cohort (contract folder, workbook or OMOP source: docs/omop.md) with the
    resolved configuration (its validation settings, e.g. ``pre_diagnosis_days``, apply on every
    path); errors without --exclude-invalid raise InvalidCohort (exit 2, the problem table printed)."""
    from mrdtrack.importers.source import read_any_cohort

    try:
        result = read_any_cohort(cohort_path, data_cut=data_cut, exclude_invalid=exclude_invalid, config=config,
                                 options=source)
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        raise UserError(f"{cohort_path}: {exc}") from exc
    if result.cohort is None:
        raise InvalidCohort(cohort_path, result.issues)
    return result


@contextmanager
def _progress(total: int | None, label: str):
    """``advance(n)`` of a rich progress bar on stderr while the block runs, when stderr is a
    terminal (``total`` None: not known); None otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


def provenance(result, config, cohort) -> dict:
    return {
        "inputs": result.sources,
        "version": __version__,
        "profile": config.profile,
        "data_cut": cohort.data_cut,
    }


def pseudonymized(analysis: Analysis) -> Analysis:
    """Every patient_id in every table replaced by its keyed pseudonym (docs/cli.md --pseudonymize)."""
    from mrdtrack.pseudonym import pseudonym_key_from_env, pseudonymize_frames

    key = pseudonym_key_from_env()
    frames = {"anchors": analysis.anchors, "assessments": analysis.assessments, "mrd": analysis.mrd,
              "patients": analysis.patients, "issues": analysis.issues, "mrd_changes": analysis.mrd_changes}
    frames = pseudonymize_frames(frames, key)
    cohort_tables = pseudonymize_frames({n: analysis.cohort.table(n) for n in analysis.cohort.TABLE_NAMES}, key)
    return replace(analysis, cohort=replace(analysis.cohort, **cohort_tables), **frames)


def _pseudonym_key(pseudonymize: bool) -> str | None:
    """The pseudonym key when ``--pseudonymize`` is asked for (a UserError when it is not set)."""
    if not pseudonymize:
        return None
    from mrdtrack.pseudonym import pseudonym_key_from_env

    return pseudonym_key_from_env()


def run_analyze(cohort_path: Path, out_dir: Path | None, profile: str = "imwg2016", config_file: Path | None = None,
                data_cut: str | None = None, exclude_invalid: bool = False, pseudonymize: bool = False,
                batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None, source=None) -> Analysis:
    """The whole ``analyze`` job; writes the outputs when ``out_dir`` is given."""
    config = resolve_config(profile, config_file)
    _pseudonym_key(pseudonymize)  # fail early (exit 2) when the key is missing
    result = load_validated(cohort_path, data_cut, exclude_invalid, config, source)
    return analyze_read(result, config, out_dir, pseudonymize, batch_size, jobs)


def analyze_read(result, config: Config, out_dir: Path | None = None, pseudonymize: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None) -> Analysis:
    """Analyze a validated cohort (a ``ReadResult`` whose ``cohort`` is set): derivations, cohort
    statistics, the read's issues and counts in front; outputs written when ``out_dir`` is given."""
    from mrdtrack.io.outputs import write_analysis
    from mrdtrack.pipeline import ASSESSMENT_COLUMNS, MRD_COLUMNS, analyze_cohort

    cohort = result.cohort
    jobs = default_jobs() if jobs is None else jobs
    with _progress(len(cohort.patients), "analyzing patients") as advance:
        analysis = analyze_cohort(cohort, config, batch_size=batch_size, jobs=jobs, progress=advance)
    import pandas as pd

    issues = pd.concat([result.issues[[c for c in analysis.issues.columns]], analysis.issues], ignore_index=True)
    summary = {"config": config.to_dict(), "provenance": provenance(result, config, cohort),
               "counts": result.counts, **analysis.summary}
    analysis = replace(analysis, issues=issues, summary=summary)
    if pseudonymize:
        analysis = pseudonymized(analysis)
    if out_dir is not None:
        write_analysis(analysis, out_dir, ASSESSMENT_COLUMNS, MRD_COLUMNS)
    return analysis


def run_analyze_partitioned(cohort_path: Path, out_dir: Path, buckets: int, profile: str = "imwg2016",
                            config_file: Path | None = None, data_cut: str | None = None,
                            exclude_invalid: bool = False, pseudonymize: bool = False,
                            batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None):
    """``analyze`` through the partitioned path (``mrdtrack.scale``): same files, bounded memory."""
    from mrdtrack.scale import analyze_partitioned

    config = resolve_config(profile, config_file)
    key = _pseudonym_key(pseudonymize)
    jobs = default_jobs() if jobs is None else jobs
    err_console.print(f"streaming {cohort_path} into {buckets} buckets of whole patients", highlight=False)
    with _progress(None, "analyzing patients") as advance:
        return analyze_partitioned(cohort_path, out_dir, config, buckets=buckets, jobs=jobs, data_cut=data_cut,
                                   exclude_invalid=exclude_invalid, batch_size=batch_size, pseudonym_key=key,
                                   progress=advance)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    @guarded
    def analyze(
        cohort: CohortArg,
        out: Annotated[Path, typer.Option("--out", help="Output folder.")],
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        data_cut: DataCutOpt = None,
        exclude_invalid: ExcludeOpt = False,
        pseudonymize: PseudoOpt = False,
        batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
        jobs: JobsOpt = None,
        partitions: PartitionsOpt = None,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
    ) -> None:
        """Validate, derive IMWG responses, MRD status and kinetics, endpoints and cohort statistics.

        Writes assessments.csv, mrd.csv, patients.csv, summary.json and issues.csv into --out.
        Registry-size cohort folders are streamed through buckets of whole patients (--partitions).

        Example: mrdtrack analyze examples/cohort --out out/ --profile alonso2020
        """
        from mrdtrack.importers.source import CONTRACT, cohort_kind
        from mrdtrack.scale import choose_buckets

        output_folder(out)

        buckets = 0 if cohort_kind(cohort) != CONTRACT else choose_buckets(cohort, partitions)
        if buckets:
            run = run_analyze_partitioned(cohort, out, buckets, profile, config, data_cut, exclude_invalid,
                                          pseudonymize, batch_size, jobs)
            err_console.print(f"analyzed {run.patients} patients in {buckets} buckets; {run.excluded} exclusion(s) "
                              f"listed in issues.csv; outputs in {out}", highlight=False)
            return
        a = run_analyze(cohort, out, profile, config, data_cut, exclude_invalid, pseudonymize, batch_size, jobs,
                        source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping))
        n_err = int((a.issues["severity"] == "excluded").sum())
        err_console.print(f"analyzed {len(a.patients)} patients, {len(a.assessments)} assessments, "
                          f"{len(a.mrd)} MRD samples; {n_err} exclusion(s) listed in issues.csv; "
                          f"outputs in {out}", highlight=False)
