"""An OMOP source of any size, range by range of persons, through the partitioned executor's
bucket step (docs/omop.md "Large sources").

What is global is found once (``importers.omop.read.plan_source``: the cohort in patient_id text
order, the data cut, the source-level warnings). The persons are then cut into K consecutive
ranges; each range is one bucket, and in ``jobs`` processes each bucket is imported from the
source (``import_range``: its own connection, only its persons) and analysed at once
(``partitioned.analyze_bucket``: validation against the global data cut, the derivation), so no
process ever holds more than one range and no contract folder is written. Since bucket k holds
the k-th range of sorted ids, the outputs are put together exactly as for a contract folder.
What ``read_any_cohort`` adds to an imported cohort in memory is added the same way: the import
log (ranges merged: ``read.merged_log``) ahead of the validation problems, whose rows are
numbered as in one imported table (first data row 2), and the source's provenance; rows that
could not be converted stop the run unless ``--exclude-invalid``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import TABLES
from mrdtrack.errors import InvalidCohort
from mrdtrack.executors.base import Derived, RunOptions
from mrdtrack.executors.partitioned import (
    _bucket_path,
    _gathered,
    _run_buckets,
    _sum_counts,
    analyze_bucket,
    save_bucket,
    validation_issues,
)
from mrdtrack.io.sources import RawTable
from mrdtrack.processes import WORKER_KEEP_BYTES, release_memory

#: Persons per bucket when the number of buckets is not given: one range of the import each
#: (about 1 GB peak per process with 100 result rows per person).
PERSONS_PER_BUCKET = 5_000


@dataclass(frozen=True)
class _RangeJob:
    cohort: str
    source: object  # importers.source.SourceOptions
    index: int
    persons: pd.DataFrame  # the range's rows of the plan's persons
    whole: bool  # the range is the whole cohort
    cut: pd.Timestamp  # the import's data cut (NaT: none)
    work: str
    exclude_invalid: bool
    config: Config
    batch_size: int
    pseudonym_key: str | None
    derive: bool


def _import(job: _RangeJob):
    from mrdtrack.importers.omop.connect import open_source
    from mrdtrack.importers.omop.read import SourcePlan, import_range
    from mrdtrack.importers.source import omop_options

    s = job.source
    conn = open_source(job.cohort, s.omop_schema, s.vocab_schema, s.results_schema)
    try:
        plan = SourcePlan(conn, omop_options(s), job.config, job.persons, job.cut, None)
        return import_range(plan, job.persons["person_id"].to_numpy(), whole=job.whole)
    finally:
        conn.close()


def _import_and_analyze(job: _RangeJob) -> dict:
    """One range imported, validated and derived; outputs saved as a bucket's (``save_bucket``)."""
    imported = _import(job)
    rows = {n: len(df) for n, df in imported.tables.items()}
    raw = {n: RawTable(n, df.reset_index(drop=True), np.arange(2, len(df) + 2, dtype="int64"), n)
           for n, df in imported.tables.items() if n in TABLES}  # as io.read.validate_tables
    imported.tables = {}
    cut = None if pd.isna(job.cut) else job.cut
    out = analyze_bucket(raw, cut, job.exclude_invalid, job.config, job.batch_size, job.pseudonym_key, job.derive)
    saved = save_bucket(job.work, job.index, out)
    del out, raw
    release_memory(above=WORKER_KEEP_BYTES)
    return {**saved, "log": imported.log, "unmapped": imported.unmapped, "rows": rows}


def _shifted(frame: pd.DataFrame, offsets: dict[str, int]) -> pd.DataFrame:
    """A bucket's validation problems with rows (and ``_order``) counted from the cohort's first row."""
    by = frame["table"].map(offsets).fillna(0).astype("int64").to_numpy()
    out = frame.copy()
    out["row"] = pd.array(out["row"], dtype="Int64") + by
    if "_order" in out:
        out["_order"] = out["_order"] + by
    return out


def checked_issues(work: str, infos: list[dict]) -> pd.DataFrame:
    """Every bucket's validation problems in the validator's order over the whole imported cohort."""
    offsets: dict[str, int] = {}
    frames = []
    for info in infos:
        frames.append(_shifted(pd.read_pickle(_bucket_path(work, info["index"], "validation")), offsets))
        for name, n in info["rows"].items():
            offsets[name] = offsets.get(name, 0) + n
    return validation_issues(frames)


class StreamedSourceExecutor:
    """``executors.base.Executor`` for an OMOP source: ``buckets`` ranges of persons (None: one per
    PERSONS_PER_BUCKET persons), each imported and analysed in one process."""

    name = "partitioned"

    def __init__(self, buckets: int | None = None, work_dir: str | Path | None = None):
        self.buckets, self.work_dir = buckets, work_dir

    def _plan(self, cohort_path, config: Config, options: RunOptions):
        """The source's plan (connection closed), its options and the persons per bucket."""
        from mrdtrack.importers.omop.read import open_plan
        from mrdtrack.importers.source import SourceOptions, omop_options

        source = options.source or SourceOptions()
        plan = open_plan(str(cohort_path), omop_options(source), options.data_cut, None, config)
        plan.conn.close()
        n = len(plan.persons)
        k = self.buckets or math.ceil(n / PERSONS_PER_BUCKET)
        return plan, source, max(1, math.ceil(n / max(1, k)))

    def _buckets(self, cohort_path, config: Config, options: RunOptions, work: Path, derive: bool, timings: dict):
        """(plan, bucket infos, the import log, the problems in read_any_cohort's order)."""
        from mrdtrack.importers.omop.read import RangeResult, merged_log
        from mrdtrack.importers.source import import_issues

        t0 = time.perf_counter()
        plan, source, step = self._plan(cohort_path, config, options)
        starts = range(0, len(plan.persons), step)
        jobs_list = [_RangeJob(str(cohort_path), source, i, plan.persons.iloc[a:a + step], len(starts) == 1, plan.cut,
                               str(work), options.exclude_invalid, config, options.batch_size, options.pseudonym_key,
                               derive) for i, a in enumerate(starts)]
        infos = _run_buckets(jobs_list, options.jobs, options.progress, _import_and_analyze)
        timings["import_buckets_s"] = time.perf_counter() - t0
        log = merged_log(plan, [RangeResult({}, i["log"], i["unmapped"]) for i in infos])
        checked = checked_issues(str(work), infos)
        exclude = options.exclude_invalid and derive
        iss = import_issues(log, exclude, list(checked.columns))
        issues = pd.concat([x for x in (iss, checked) if len(x)] or [checked], ignore_index=True)
        return plan, infos, log, issues

    def _work(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=".mrdtrack-work-", dir=self.work_dir))

    @contextmanager
    def derive(self, cohort_path, config: Config, options: RunOptions) -> Iterator[Derived]:
        from mrdtrack.importers.omop.read import imported_of
        from mrdtrack.importers.source import source_provenance

        work, timings = self._work(), {}
        try:
            plan, infos, log, issues = self._buckets(cohort_path, config, options, work, True, timings)
            if not all(i["ok"] for i in infos) or (issues["severity"] == "error").any():
                raise InvalidCohort(cohort_path, issues)
            derived = _gathered(str(work), infos)
            derived.update(validation_issues=issues, counts=_sum_counts([i["counts"] for i in infos]),
                           sources=source_provenance(imported_of(plan, {}, log)), timings=timings,
                           data_cut=None if pd.isna(plan.cut) else pd.Timestamp(plan.cut))
            yield Derived(**derived)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        """The import's problems, then the validator's, with the counts (as ``read_any_cohort``)."""
        work = self._work()
        try:
            _, infos, _, issues = self._buckets(cohort_path, config, options, work, False, {})
            return issues, _sum_counts([i["counts"] for i in infos])
        finally:
            shutil.rmtree(work, ignore_errors=True)
