"""Executors: where the per-batch derivation runs (in memory, local partitioned, Spark).

``base`` holds the seam (``Executor``, ``Derived``, ``RunOptions``) and the one step every
executor's result goes through (``finish``: cohort statistics, ``Analysis``, output files).
``choose_executor`` picks one for ``--engine`` and ``--partitions``; ``analyze_with`` runs one.
"""

from __future__ import annotations

from pathlib import Path

from mrdtrack.errors import UserError

ENGINES = ("native", "spark")


def choose_executor(cohort_path, engine: str = "native", partitions: int | None = None, spark=None, source=None):
    """The executor for ``--engine`` (native: in memory or partitioned, by ``--partitions`` or the
    cohort's size; spark: ``spark`` holds its SparkOptions or an existing SparkSession).
    ``source``: the OMOP options (``importers.source.SourceOptions``) an OMOP source's size is read with."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    from mrdtrack.importers.source import CONTRACT, OMOP, cohort_kind

    kind = cohort_kind(cohort_path)
    other = kind != CONTRACT  # an OMOP or FHIR source: read through its importer
    if engine == "spark":
        if other:
            raise UserError(f"--engine spark reads contract Parquet folders only for now; '{cohort_path}' is a "
                            f"{kind} source: run it with --engine native (docs/spark.md)")
        from mrdtrack.executors.spark import SparkExecutor

        return SparkExecutor(spark, buckets=partitions)
    from mrdtrack.executors.partitioned import PartitionedExecutor, choose_buckets

    if kind == OMOP:
        return omop_executor(cohort_path, partitions, source)
    buckets = 0 if other else choose_buckets(Path(cohort_path), partitions)  # FHIR: in memory
    if buckets:
        return PartitionedExecutor(buckets)
    from mrdtrack.executors.memory import MemoryExecutor

    return MemoryExecutor()


def omop_executor(cohort_path, partitions: int | None, source=None):
    """An OMOP source: in memory (``--partitions 0``, or below AUTO_PARTITION_MIN_ROWS source rows
    by default), else imported range by range and partitioned (docs/omop.md "Large sources")."""
    from mrdtrack.executors.partitioned import AUTO_PARTITION_MIN_ROWS

    if partitions is None:
        from mrdtrack.importers.omop.stream import source_rows
        from mrdtrack.importers.source import SourceOptions

        partitions = None if source_rows(cohort_path, source or SourceOptions()) >= AUTO_PARTITION_MIN_ROWS else 0
    if partitions == 0:
        from mrdtrack.executors.memory import MemoryExecutor

        return MemoryExecutor()
    from mrdtrack.executors.streamed import StreamedSourceExecutor

    return StreamedSourceExecutor(partitions)


def analyze_with(executor, cohort_path, config, options, out_dir=None):
    """An ``Analysis`` of ``cohort_path`` derived by ``executor`` (``RunOptions`` ``options``); the
    five files written into ``out_dir`` when given. ``options.on_derived`` sees the derived tables
    before the cohort statistics are computed."""
    from mrdtrack.executors.base import finish

    with executor.derive(cohort_path, config, options) as derived:
        if options.on_derived is not None:
            options.on_derived(derived, config)
        return finish(derived, config, out_dir, options.pseudonym_key)
