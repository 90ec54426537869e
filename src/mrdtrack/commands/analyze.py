"""``mrdtrack analyze COHORT --out DIR`` (docs/cli.md): validate, derive, summarise, write."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mrdtrack.commands.common import (
    DEFAULT_BATCH_SIZE,
    CohortArg,
    CohortIdOpt,
    ConfigOpt,
    DataCutOpt,
    EngineOpt,
    ExcludeOpt,
    JobsOpt,
    MappingOpt,
    OmopSchemaOpt,
    ProfileOpt,
    PseudoOpt,
    ResultsSchemaOpt,
    SparkConfOpt,
    SparkMasterOpt,
    VocabSchemaOpt,
    default_jobs,
    err_console,
    guarded,
    output_folder,
    resolve_config,
    source_options,
    spark_options,
)

if TYPE_CHECKING:  # imported inside the functions: `mrdtrack --help` must not load the pipeline
    from mrdtrack.config import Config
    from mrdtrack.pipeline import Analysis

BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Patients per batch (outputs do not depend on it).")]
PartitionsOpt = Annotated[int | None, typer.Option(
    "--partitions", min=0,
    help="0: read the whole cohort into memory; N: stream a cohort folder into N buckets of whole patients "
         "and analyse one bucket per process at a time (memory bounded by a bucket). Default: in memory below "
         "2,000,000 input rows, else about one bucket per 1,250,000 rows, a multiple of the cores (an OMOP source: a range of 5,000 persons per bucket, "
         "imported in the bucket's process; docs/omop.md). Outputs do not depend on it.")]


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


def _pseudonym_key(pseudonymize: bool) -> str | None:
    """The pseudonym key when ``--pseudonymize`` is asked for (a UserError when it is not set)."""
    if not pseudonymize:
        return None
    from mrdtrack.pseudonym import pseudonym_key_from_env

    return pseudonym_key_from_env()


def run_analyze(cohort_path: Path, out_dir: Path | None, profile: str = "imwg2016", config_file: Path | None = None,
                data_cut: str | None = None, exclude_invalid: bool = False, pseudonymize: bool = False,
                batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None, partitions: int | None = 0,
                engine: str = "native", spark=None, source=None, executor=None, on_derived=None) -> Analysis:
    """The whole ``analyze`` job through the executor ``--engine``/``--partitions`` choose
    (``partitions`` 0: in memory; None: by the cohort's size); writes the outputs when
    ``out_dir`` is given. ``spark``: SparkOptions or an existing SparkSession (engine spark);
    ``source``: the options of an OMOP source (docs/omop.md); ``executor``: the one
    ``choose_executor`` gave for these options, when the caller already asked; ``on_derived``:
    ``RunOptions.on_derived``."""
    from mrdtrack.executors import analyze_with, choose_executor
    from mrdtrack.executors.base import RunOptions
    from mrdtrack.io.read import parse_data_cut

    jobs = default_jobs() if jobs is None else jobs
    config = resolve_config(profile, config_file)
    key = _pseudonym_key(pseudonymize)  # fail early (exit 2) when the key is missing
    executor = executor or choose_executor(cohort_path, engine, partitions, spark, source)
    if getattr(executor, "buckets", None) and engine == "native":
        err_console.print(f"streaming {cohort_path} into {executor.buckets} buckets of whole patients", highlight=False)
    with _progress(None, "analyzing patients") as advance:
        options = RunOptions(data_cut=parse_data_cut(data_cut), exclude_invalid=exclude_invalid,
                             batch_size=batch_size, jobs=jobs, pseudonym_key=key, progress=advance, source=source,
                             on_derived=on_derived)
        return analyze_with(executor, cohort_path, config, options, out_dir)


def analyze_read(result, config: Config, out_dir: Path | None = None, pseudonymize: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None) -> Analysis:
    """Analyze a validated cohort (a ``ReadResult`` whose ``cohort`` is set) through the in-memory
    executor's seam: derivations, cohort statistics, the read's issues and counts in front;
    outputs written when ``out_dir`` is given."""
    from mrdtrack.executors.base import RunOptions, finish
    from mrdtrack.executors.memory import derived_from_read

    jobs = default_jobs() if jobs is None else jobs
    key = _pseudonym_key(pseudonymize)
    with _progress(len(result.cohort.patients), "analyzing patients") as advance:
        derived = derived_from_read(result, config, RunOptions(batch_size=batch_size, jobs=jobs, progress=advance))
    return finish(derived, config, out_dir, key)


def run_analyze_partitioned(cohort_path: Path, out_dir: Path, buckets: int, profile: str = "imwg2016",
                            config_file: Path | None = None, data_cut: str | None = None,
                            exclude_invalid: bool = False, pseudonymize: bool = False,
                            batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None):
    """``analyze`` through the partitioned executor, returning its timings (the benchmark's stage)."""
    from mrdtrack.executors.partitioned import analyze_partitioned

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
        engine: EngineOpt = "native",
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        """Validate, derive IMWG responses, MRD status and kinetics, endpoints and cohort statistics.

        Writes assessments.csv, mrd.csv, patients.csv, summary.json and issues.csv into --out.
        Registry-size cohort folders are streamed through buckets of whole patients (--partitions);
        --engine spark runs the same derivation on Apache Spark (docs/spark.md).

        Example: mrdtrack analyze examples/cohort --out out/ --profile alonso2020
        """
        output_folder(out)
        a = run_analyze(cohort, out, profile, config, data_cut, exclude_invalid, pseudonymize, batch_size, jobs,
                        partitions, engine, spark_options(engine, spark_master, spark_conf),
                        source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping))
        n_err = int((a.issues["severity"] == "excluded").sum())
        n_assessments = len(a.row_files.get("assessments", a.assessments))
        err_console.print(f"analyzed {len(a.patients)} patients, {n_assessments} assessments, "
                          f"{len(a.mrd)} MRD samples; {n_err} exclusion(s) listed in issues.csv; "
                          f"outputs in {out}", highlight=False)
