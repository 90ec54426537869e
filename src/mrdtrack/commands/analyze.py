"""``mrdtrack analyze COHORT --out DIR`` (cli.md): validate, derive, summarise, write."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from mrdtrack import __version__
from mrdtrack.commands.common import (
    ConfigOpt,
    DataCutOpt,
    ExcludeOpt,
    ProfileOpt,
    PseudoOpt,
    err_console,
    guarded,
    resolve_config,
)
from mrdtrack.errors import UserError
from mrdtrack.io.outputs import write_analysis
from mrdtrack.pipeline import ASSESSMENT_COLUMNS, DEFAULT_BATCH_SIZE, MRD_COLUMNS, Analysis, analyze_cohort

BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Patients per batch (outputs do not depend on it).")]
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, help="Worker processes (outputs do not depend on it).")]
PartitionsOpt = Annotated[int | None, typer.Option(
    "--partitions", min=0,
    help="0: read the whole cohort into memory; N: stream a cohort folder into N buckets of whole patients "
         "and analyse one bucket per process at a time (memory bounded by a bucket). Default: in memory below "
         "2,000,000 input rows, else one bucket per 750,000 rows. Outputs do not depend on it.")]


def load_validated(cohort_path: Path, data_cut: str | None, exclude_invalid: bool):
    """Read and validate a cohort; on errors without --exclude-invalid print them and exit 2."""
    from mrdtrack.commands.validate import print_problems
    from mrdtrack.io.read import read_cohort

    try:
        result = read_cohort(cohort_path, data_cut=data_cut, exclude_invalid=exclude_invalid)
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        raise UserError(f"{cohort_path}: {exc}") from exc
    if result.cohort is None:
        print_problems(result.issues)
        n = int((result.issues["severity"] == "error").sum())
        raise UserError(f"{cohort_path}: {n} validation error(s); fix them, or rerun with --exclude-invalid "
                        "to leave the affected rows out (each listed in issues.csv)")
    return result


def _progress(total: int, label: str):
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console, transient=True)
    task = prog.add_task(label, total=total)
    return prog, (lambda n: prog.advance(task, n))


def provenance(result, config, cohort) -> dict:
    return {
        "inputs": result.sources,
        "version": __version__,
        "profile": config.profile,
        "data_cut": cohort.data_cut,
    }


def pseudonymized(analysis: Analysis) -> Analysis:
    """Every patient_id in every table replaced by its keyed pseudonym (cli.md --pseudonymize)."""
    from mrdtrack.pseudonym import pseudonym_key_from_env, pseudonymize_frames

    key = pseudonym_key_from_env()
    frames = {"anchors": analysis.anchors, "assessments": analysis.assessments, "mrd": analysis.mrd,
              "patients": analysis.patients, "issues": analysis.issues, "mrd_changes": analysis.mrd_changes}
    frames = pseudonymize_frames(frames, key)
    cohort_tables = pseudonymize_frames({n: analysis.cohort.table(n) for n in analysis.cohort.TABLE_NAMES}, key)
    return replace(analysis, cohort=replace(analysis.cohort, **cohort_tables), **frames)


def run_analyze(cohort_path: Path, out_dir: Path | None, profile: str = "imwg2016", config_file: Path | None = None,
                data_cut: str | None = None, exclude_invalid: bool = False, pseudonymize: bool = False,
                batch_size: int = DEFAULT_BATCH_SIZE, jobs: int = 1) -> Analysis:
    """The whole ``analyze`` job; writes the outputs when ``out_dir`` is given."""
    config = resolve_config(profile, config_file)
    if pseudonymize:
        from mrdtrack.pseudonym import pseudonym_key_from_env

        pseudonym_key_from_env()  # fail early (exit 2) when the key is missing
    result = load_validated(Path(cohort_path), data_cut, exclude_invalid)
    cohort = result.cohort
    prog, advance = _progress(len(cohort.patients), "analyzing patients")
    if prog:
        prog.start()
    try:
        analysis = analyze_cohort(cohort, config, batch_size=batch_size, jobs=jobs, progress=advance)
    finally:
        if prog:
            prog.stop()
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
                            batch_size: int = DEFAULT_BATCH_SIZE, jobs: int = 1):
    """``analyze`` through the partitioned path (``mrdtrack.scale``): same files, bounded memory."""
    from mrdtrack.commands.validate import print_problems
    from mrdtrack.scale import InvalidCohort, analyze_partitioned

    config = resolve_config(profile, config_file)
    key = None
    if pseudonymize:
        from mrdtrack.pseudonym import pseudonym_key_from_env

        key = pseudonym_key_from_env()
    err_console.print(f"streaming {cohort_path} into {buckets} buckets of whole patients", highlight=False)
    prog, advance = _progress(0, "analyzing patients")
    if prog:
        prog.update(prog.task_ids[0], total=None)
        prog.start()
    try:
        return analyze_partitioned(cohort_path, out_dir, config, buckets=buckets, jobs=jobs, data_cut=data_cut,
                                   exclude_invalid=exclude_invalid, batch_size=batch_size, pseudonym_key=key,
                                   progress=advance)
    except InvalidCohort as err:
        if prog:
            prog.stop()
            prog = None
        print_problems(err.issues)
        raise
    finally:
        if prog:
            prog.stop()


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    @guarded
    def analyze(
        cohort: Annotated[Path, typer.Argument(help="Cohort folder (csv/parquet tables) or .xlsx workbook.")],
        out: Annotated[Path, typer.Option("--out", help="Output folder.")],
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        data_cut: DataCutOpt = None,
        exclude_invalid: ExcludeOpt = False,
        pseudonymize: PseudoOpt = False,
        batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
        jobs: JobsOpt = 1,
        partitions: PartitionsOpt = None,
    ) -> None:
        """Validate, derive IMWG responses, MRD status and kinetics, endpoints and cohort statistics.

        Writes assessments.csv, mrd.csv, patients.csv, summary.json and issues.csv into --out.
        Registry-size cohort folders are streamed through buckets of whole patients (--partitions).

        Example: mrdtrack analyze examples/cohort --out out/ --profile alonso2020
        """
        from mrdtrack.scale import auto_buckets

        buckets = auto_buckets(cohort) if partitions is None else partitions
        if buckets and not cohort.is_dir():
            raise UserError(f"--partitions needs a cohort folder of csv/parquet tables, not '{cohort}'; "
                            "use --partitions 0 for a workbook")
        if buckets:
            run = run_analyze_partitioned(cohort, out, buckets, profile, config, data_cut, exclude_invalid,
                                          pseudonymize, batch_size, jobs)
            err_console.print(f"analyzed {run.patients} patients in {buckets} buckets; {run.excluded} exclusion(s) "
                              f"listed in issues.csv; outputs in {out}", highlight=False)
            return
        a = run_analyze(cohort, out, profile, config, data_cut, exclude_invalid, pseudonymize, batch_size, jobs)
        n_err = int((a.issues["severity"] == "excluded").sum())
        err_console.print(f"analyzed {len(a.patients)} patients, {len(a.assessments)} assessments, "
                          f"{len(a.mrd)} MRD samples; {n_err} exclusion(s) listed in issues.csv; "
                          f"outputs in {out}", highlight=False)
