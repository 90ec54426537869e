"""Executors: where the per-batch derivation runs (in memory, local partitioned, Spark).

``base`` holds the seam (``Executor``, ``Derived``, ``RunOptions``) and the one step every
executor's result goes through (``finish``: cohort statistics, ``Analysis``, output files).
``choose_executor`` picks one for ``--engine`` and ``--partitions``; ``analyze_with`` runs one.
"""

from __future__ import annotations

from pathlib import Path

from mrdtrack.errors import UserError

ENGINES = ("native", "spark")


def choose_executor(cohort_path, engine: str = "native", partitions: int | None = None, spark=None):
    """The executor for ``--engine`` (native: in memory or partitioned, by ``--partitions`` or the
    cohort's size; spark: ``spark`` holds its SparkOptions or an existing SparkSession)."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    from mrdtrack.importers.source import CONTRACT, cohort_kind

    kind = cohort_kind(cohort_path)
    other = kind != CONTRACT  # an OMOP or FHIR source: read in memory through its importer
    if engine == "spark":
        if other:
            raise UserError(f"--engine spark reads contract Parquet folders only for now; '{cohort_path}' is a "
                            f"{kind} source: run it with --engine native (docs/spark.md)")
        from mrdtrack.executors.spark import SparkExecutor

        return SparkExecutor(spark, buckets=partitions)
    from mrdtrack.executors.partitioned import PartitionedExecutor, choose_buckets

    buckets = 0 if other else choose_buckets(Path(cohort_path), partitions)
    if buckets:
        return PartitionedExecutor(buckets)
    from mrdtrack.executors.memory import MemoryExecutor

    return MemoryExecutor()


def analyze_with(executor, cohort_path, config, options, out_dir=None):
    """An ``Analysis`` of ``cohort_path`` derived by ``executor`` (``RunOptions`` ``options``); the
    five files written into ``out_dir`` when given."""
    from mrdtrack.executors.base import finish

    with executor.derive(cohort_path, config, options) as derived:
        return finish(derived, config, out_dir, options.pseudonym_key)
