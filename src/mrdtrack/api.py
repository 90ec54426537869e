"""The Python API for notebooks (docs/api.md): read a cohort, analyze it, write the report.

The same code as the command line, with Python objects in and out: a ``ReadResult`` (``cohort``,
``issues``, ``counts``), an ``Analysis`` (``patients``, ``assessments``, ``mrd``, ``issues`` as
DataFrames, ``summary`` as a dict). Bad input raises ``mrdtrack.errors.UserError`` (validation
errors: ``InvalidCohort``, whose ``issues`` lists every problem).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mrdtrack.config import Config, ConfigError, load_config, make_config
from mrdtrack.errors import InvalidCohort, UserError


def resolve(profile: str | None = None, config: Config | dict | str | Path | None = None) -> Config:
    """A Config from a profile name and/or a Config, a dict of field overrides, or a TOML/YAML path."""
    try:
        if isinstance(config, Config):
            if profile is not None and profile != config.profile:
                raise UserError(f"profile {profile!r} given with a Config of profile {config.profile!r}")
            return config
        if isinstance(config, dict):
            return make_config(profile or config.get("profile", "imwg2016"), config)
        return load_config(profile or "imwg2016", config)
    except ConfigError as exc:
        raise UserError(str(exc)) from exc


def read_cohort(path: str | Path, config: Config | dict | str | Path | None = None, *, profile: str | None = None,
                data_cut: str | None = None, exclude_invalid: bool = False, source=None):
    """Read and validate a cohort folder or workbook, or an OMOP source (a ``.duckdb`` file, a
    ``postgresql://`` URL, a folder of OMOP tables: docs/omop.md; ``source`` an
    ``importers.source.SourceOptions``), with the resolved configuration.

    Returns the ``ReadResult`` (``.cohort``, ``.issues``, ``.counts``, ``.sources``); ``.cohort``
    is None when the cohort has errors (and ``exclude_invalid`` is false): look at ``.issues``.
    """
    from mrdtrack.importers.source import read_any_cohort

    return read_any_cohort(path, data_cut=data_cut, exclude_invalid=exclude_invalid, config=resolve(profile, config),
                           options=source)


def analyze(cohort_or_path: Any, profile: str | None = None, config: Config | dict | str | Path | None = None, *,
            data_cut: str | None = None, exclude_invalid: bool = False, jobs: int = 1, out_dir: str | Path | None = None,
            pseudonymize: bool = False, spark: Any = None):
    """Everything ``mrdtrack analyze`` derives, as an ``Analysis``.

    ``cohort_or_path``: a cohort folder or workbook path, or the ``ReadResult`` of ``read_cohort``.
    ``out_dir``: also write the five output files there. Raises ``InvalidCohort`` on validation
    errors (unless ``exclude_invalid``). ``spark``: a running SparkSession (or
    ``executors.spark_session.SparkOptions``) to run on Apache Spark, from a folder path of Parquet
    tables (docs/spark.md); the ``Analysis`` then has no ``assessments`` frame (they are in the
    files written to ``out_dir``).
    """
    from mrdtrack.commands.analyze import analyze_read

    cfg = resolve(profile, config)
    if spark is not None:
        return _on_spark(cohort_or_path, cfg, spark, data_cut, exclude_invalid, out_dir, pseudonymize)
    result = cohort_or_path if hasattr(cohort_or_path, "cohort") else \
        read_cohort(cohort_or_path, cfg, data_cut=data_cut, exclude_invalid=exclude_invalid)
    if result.cohort is None:
        raise InvalidCohort(getattr(cohort_or_path, "name", "cohort"), result.issues)
    if pseudonymize:
        from mrdtrack.pseudonym import pseudonym_key_from_env

        pseudonym_key_from_env()
    return analyze_read(result, cfg, Path(out_dir) if out_dir is not None else None, pseudonymize, jobs=jobs)


def _on_spark(path: Any, cfg: Config, spark: Any, data_cut, exclude_invalid: bool, out_dir, pseudonymize: bool):
    from mrdtrack.executors import analyze_with
    from mrdtrack.executors.base import RunOptions
    from mrdtrack.executors.spark import SparkExecutor
    from mrdtrack.io.read import parse_data_cut

    if hasattr(path, "cohort"):
        raise UserError("analyze(..., spark=...) reads a cohort folder: give its path, not a ReadResult")
    key = None
    if pseudonymize:
        from mrdtrack.pseudonym import pseudonym_key_from_env

        key = pseudonym_key_from_env()
    options = RunOptions(data_cut=parse_data_cut(data_cut), exclude_invalid=exclude_invalid, pseudonym_key=key)
    return analyze_with(SparkExecutor(spark), path, cfg, options, Path(out_dir) if out_dir is not None else None)


def write_report(analysis, out_dir: str | Path, cohort_label: str = "cohort", png: bool = False) -> Path:
    """The study report of an ``Analysis`` (``report.html``, ``figures/`` as SVG, and PNG with ``png``,
    ``tables/``); its path."""
    from mrdtrack.report.html import write_report as _write

    return _write(analysis, Path(out_dir), cohort_label, png=png)
