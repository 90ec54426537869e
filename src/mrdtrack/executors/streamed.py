"""An OMOP source of any size through the partitioned executor (docs/omop.md "Large sources").

``StreamedSourceExecutor`` imports the source range by range into a temporary contract folder
(``importers.omop.stream``: memory bounded by one range of persons), then runs the local
partitioned executor on that folder against the import's data cut. What ``read_any_cohort``
adds to an imported cohort in memory is added here the same way: the import log's errors and
warnings ahead of the validation problems (rows that could not be converted stop the run unless
``--exclude-invalid``), and the source's provenance. Validation problems name rows as an
imported table in memory does (first data row 2) and the table, not the temporary file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd

from mrdtrack.config import Config
from mrdtrack.errors import InvalidCohort
from mrdtrack.executors.base import Derived, RunOptions
from mrdtrack.executors.partitioned import PartitionedExecutor, auto_buckets


def as_in_memory(checked: pd.DataFrame) -> pd.DataFrame:
    """Validation problems of the imported folder numbered as ``io.read.validate_tables`` numbers an
    imported table (Parquet row + 1: first data row 2), with the table as their file."""
    out = checked.copy()
    out["row"] = pd.array(out["row"], dtype="Int64") + 1
    if "file" in out:
        named = out["file"].notna() & out["table"].notna()
        out.loc[named, "file"] = out.loc[named, "table"]
    return out


class StreamedSourceExecutor:
    """``executors.base.Executor`` for an OMOP source: streamed import, then ``buckets`` buckets
    (None: as many as ``auto_buckets`` gives the imported folder, at least 2)."""

    name = "partitioned"

    def __init__(self, buckets: int | None = None, work_dir: str | Path | None = None):
        self.buckets, self.work_dir = buckets, work_dir

    @contextmanager
    def _imported(self, cohort_path, config: Config, options: RunOptions):
        from mrdtrack.importers.omop.stream import stream_omop
        from mrdtrack.importers.source import SourceOptions

        work = Path(tempfile.mkdtemp(prefix=".mrdtrack-import-", dir=self.work_dir))
        try:
            streamed = stream_omop(cohort_path, options.source or SourceOptions(), work / "contract", "parquet",
                                   options.data_cut, config=config)
            cut = streamed.imported.data_cut
            run = replace(options, data_cut=None if pd.isna(cut) else cut)
            buckets = self.buckets or max(2, auto_buckets(work / "contract"))
            yield streamed.imported, work / "contract", run, PartitionedExecutor(buckets, work / "buckets")
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _issues(imported, checked: pd.DataFrame, exclude_invalid: bool) -> pd.DataFrame:
        from mrdtrack.importers.source import import_issues

        checked = as_in_memory(checked)
        iss = import_issues(imported.log, exclude_invalid, list(checked.columns))
        return pd.concat([x for x in (iss, checked) if len(x)] or [checked], ignore_index=True)

    @contextmanager
    def derive(self, cohort_path, config: Config, options: RunOptions) -> Iterator[Derived]:
        from mrdtrack.importers.source import source_provenance

        with self._imported(cohort_path, config, options) as (imported, folder, run, inner):
            if (imported.log["severity"] == "error").any() and not options.exclude_invalid:
                checked, _ = inner.validate(folder, config, run)  # rows that could not be converted stop the run
                raise InvalidCohort(cohort_path, self._issues(imported, checked, False))
            try:
                with inner.derive(folder, config, run) as derived:
                    derived.validation_issues = self._issues(imported, derived.validation_issues,
                                                             options.exclude_invalid)
                    derived.sources = source_provenance(imported)
                    yield derived
            except InvalidCohort as err:
                raise InvalidCohort(cohort_path, self._issues(imported, err.issues, options.exclude_invalid)) from None

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        """The import's problems, then the imported folder's, with the counts (``read_any_cohort``)."""
        with self._imported(cohort_path, config, options) as (imported, folder, run, inner):
            checked, counts = inner.validate(folder, config, run)
            return self._issues(imported, checked, False), counts
