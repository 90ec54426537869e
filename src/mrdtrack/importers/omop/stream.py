"""A large OMOP source imported range by range into a contract folder (docs/omop.md "Large sources").

What is global (the cohort, the data cut, the DECIMAL warnings) is found first
(``read.plan_source``); then ``PERSONS_PER_RANGE`` persons at a time are read, converted and
appended to the folder's files (``io.write.TableWriter``: the same bytes however the rows were
split), so memory holds one range, never the cohort. The import log is merged at the end
(``read.merged_log``): the same lines, in the same order, as one read of the whole cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mrdtrack.config import Config
from mrdtrack.importers.log import write_log
from mrdtrack.importers.omop.read import Imported, RangeResult, import_range, imported_of, merged_log, open_plan

#: Persons read and converted at a time: about 0.5 GB of working memory with 100 result rows each.
PERSONS_PER_RANGE = 5_000
#: Source tables whose rows estimate the contract rows an import gives (``source_rows``).
ESTIMATE_TABLES = ("person", "measurement", "observation")


@dataclass
class Streamed:
    """What ``stream_omop`` wrote: the import (its tables not kept), the patients and the files."""

    imported: Imported
    patients: int
    paths: list[Path]


def file_tables(tables: dict[str, pd.DataFrame], fmt: str) -> dict[str, pd.DataFrame]:
    """Tables as a contract file holds them: in Parquet, lab values (numbers and words) as text."""
    if fmt == "parquet":
        return {**tables, "labs": tables["labs"].assign(value=tables["labs"]["value"].astype(str))}
    return tables


def stream_omop(cohort, options, out: Path, fmt: str = "parquet", data_cut=None, today=None,
                config: Config | None = None, persons_per_range: int | None = PERSONS_PER_RANGE) -> Streamed:
    """The OMOP source ``cohort`` (``importers.source.SourceOptions``) written into the contract
    folder ``out`` with ``import_log.csv``, ``persons_per_range`` persons at a time (None: all)."""
    from mrdtrack.importers.source import omop_options
    from mrdtrack.io.write import TableWriter

    plan = open_plan(str(cohort), omop_options(options), data_cut, today, config)
    try:
        logs, patients = [], 0
        with TableWriter(out, fmt) as writer:
            for ids in plan.ranges(persons_per_range):
                r = import_range(plan, ids)
                writer.write(file_tables(r.tables, fmt))
                patients += len(r.tables["patients"])
                logs.append(RangeResult({}, r.log, r.unmapped))
        log = merged_log(plan, logs)
        write_log(log, Path(out) / "import_log.csv")
        return Streamed(imported_of(plan, {}, log), patients, [*writer.paths, Path(out) / "import_log.csv"])
    finally:
        plan.conn.close()


def source_rows(cohort, options) -> int:
    """Rows of the source's person, measurement and observation tables (whole tables, not only the
    cohort): what ``auto`` compares with the contract folder's AUTO_PARTITION_MIN_ROWS."""
    from mrdtrack.importers.omop.connect import open_source

    conn = open_source(str(cohort), options.omop_schema, options.vocab_schema, options.results_schema)
    try:
        return sum(int(conn.query(f"SELECT COUNT(*) AS n FROM {conn.where[t]}").column(0)[0].as_py())
                   for t in ESTIMATE_TABLES if conn.has(t))
    finally:
        conn.close()
