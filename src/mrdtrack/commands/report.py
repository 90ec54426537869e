"""``mrdtrack report COHORT --out DIR``: analyze, then the study report (report.html, figures/, tables/)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mrdtrack.commands.analyze import BatchOpt, PartitionsOpt, run_analyze
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
    source_options,
    spark_options,
)


def cohort_label(cohort_path) -> str:
    """How the report names the cohort: its folder or workbook name; a database by its name (no credentials)."""
    from mrdtrack.importers.omop.connect import is_postgres_url, safe_url

    if is_postgres_url(str(cohort_path)):
        return safe_url(str(cohort_path)).rsplit("/", 1)[-1] or "PostgreSQL"
    p = Path(cohort_path)
    if p.suffix.lower() in (".duckdb", ".ddb", ".db"):
        return p.stem
    return p.stem if p.suffix.lower() == ".xlsx" else (p.resolve().name or str(p))


#: Input rows up to which the figure workers of ``report`` start with the command (matplotlib is imported
#: while the cohort is analysed, and the per-patient figures drawn while its statistics are computed):
#: below it the analysis forks no child of its own, which the thread feeding the workers would prevent
#: (``processes.can_fork``; ``cohort_statistics.PARALLEL_MIN_PATIENTS``).
EARLY_FIGURE_WORKERS_MAX_ROWS = 250_000


def _small_in_memory(cohort_path, executor) -> bool:
    """A cohort folder analysed in memory with at most ``EARLY_FIGURE_WORKERS_MAX_ROWS`` input rows."""
    from mrdtrack.executors.partitioned import estimate_input_rows

    if executor.name != "memory" or not Path(str(cohort_path)).is_dir():
        return False
    return 0 < estimate_input_rows(cohort_path) <= EARLY_FIGURE_WORKERS_MAX_ROWS


def _early_figures(pool, out_dir: Path, png: bool):
    """The ``on_derived`` hook that starts the figures needing only the per-patient tables on the
    figure workers ``pool`` while the cohort statistics are computed (``sections.patient_figure_jobs``;
    not with ``--pseudonymize``: the report's tables are pseudonymised after the statistics)."""
    from mrdtrack.report.sections import patient_figure_jobs

    def start(derived, config) -> None:
        jobs = patient_figure_jobs(derived.patients, derived.anchors, derived.mrd, config)
        pool.start(jobs, out_dir / "figures", png)

    return start


def run_report(cohort_path, out_dir: Path, profile: str = "imwg2016", config_file: Path | None = None,
               data_cut: str | None = None, exclude_invalid: bool = False, pseudonymize: bool = False,
               batch_size: int = DEFAULT_BATCH_SIZE, jobs: int | None = None, partitions: int | None = 0,
               engine: str = "native", spark=None, source=None, png: bool = False) -> Path:
    """The whole ``report`` job: the analyze outputs plus report.html, figures/ (PNG too with ``png``) and
    tables/; returns the HTML path. The analysis runs through any executor (``run_analyze``'s
    ``partitions``, ``engine``, ``spark``)."""
    from mrdtrack.executors import choose_executor
    from mrdtrack.report.html import figure_pool, write_report

    jobs = default_jobs() if jobs is None else jobs
    executor = choose_executor(cohort_path, engine, partitions, spark, source)
    with figure_pool(jobs if jobs > 1 and _small_in_memory(cohort_path, executor) else 1) as pool:
        early = _early_figures(pool, Path(out_dir), png) if pool is not None and not pseudonymize else None
        analysis = run_analyze(cohort_path, Path(out_dir), profile, config_file, data_cut, exclude_invalid,
                               pseudonymize, batch_size, jobs, partitions, engine, spark, source, executor=executor,
                               on_derived=early)
        label = cohort_label(cohort_path)
        if not sys.stderr.isatty():
            return write_report(analysis, out_dir, label, pseudonymized=pseudonymize, png=png, jobs=jobs, pool=pool)
        with err_console.status("writing the report") as status:
            return write_report(analysis, out_dir, label, pseudonymized=pseudonymize, png=png, jobs=jobs, pool=pool,
                                progress=lambda words: status.update(f"writing the report: {words}"))


def register(app: typer.Typer) -> None:
    @app.command("report")
    @guarded
    def report(
        cohort: CohortArg,
        out: Annotated[Path, typer.Option("--out", help="Output folder.")],
        config: ConfigOpt = None,
        profile: ProfileOpt = "imwg2016",
        data_cut: DataCutOpt = None,
        exclude_invalid: ExcludeOpt = False,
        pseudonymize: PseudoOpt = False,
        batch_size: BatchOpt = DEFAULT_BATCH_SIZE,
        jobs: JobsOpt = None,
        omop_schema: OmopSchemaOpt = None,
        vocab_schema: VocabSchemaOpt = None,
        omop_cohort_id: CohortIdOpt = None,
        results_schema: ResultsSchemaOpt = None,
        mapping: MappingOpt = None,
        png: Annotated[bool, typer.Option("--png", help="Also write every figure as PNG (figures/<name>.png; "
                                                         "SVG is always written).")] = False,
        partitions: PartitionsOpt = None,
        engine: EngineOpt = "native",
        spark_master: SparkMasterOpt = "local[*]",
        spark_conf: SparkConfOpt = None,
    ) -> None:
        """Analyze the cohort, then write the study report: report.html (one self-contained file), figures/ (SVG;
        PNG too with --png), tables/.

        Also writes the analyze outputs (assessments.csv, mrd.csv, patients.csv, summary.json, issues.csv).

        Example: mrdtrack report examples/cohort --out out/ --profile alonso2020
        """
        output_folder(out)
        path = run_report(cohort, out, profile, config, data_cut, exclude_invalid, pseudonymize, batch_size, jobs,
                          partitions, engine, spark_options(engine, spark_master, spark_conf),
                          source_options(omop_schema, vocab_schema, omop_cohort_id, results_schema, mapping), png)
        err_console.print(f"wrote {path} (figures/ and tables/ beside it)", highlight=False)
