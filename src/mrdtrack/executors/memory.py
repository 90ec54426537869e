"""The in-memory executor: the whole cohort read and validated at once, derived batch by batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from mrdtrack.config import Config
from mrdtrack.errors import InvalidCohort, UserError
from mrdtrack.executors.base import Derived, RunOptions
from mrdtrack.pipeline import derive_all


def load_validated(cohort_path, data_cut, exclude_invalid: bool, config: Config | None = None, source=None):
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


def derived_from_read(result, config: Config, options: RunOptions) -> Derived:
    """A validated cohort (a ``ReadResult`` whose ``cohort`` is set) derived batch by batch."""
    cohort = result.cohort
    d = derive_all(cohort, config, batch_size=options.batch_size, jobs=options.jobs, progress=options.progress)
    return Derived(patients=d.patients, anchors=d.anchors, mrd=d.mrd, mrd_changes=d.mrd_changes,
                   assessments=d.assessments, validation_issues=result.issues, derivation_issues=d.issues,
                   counts=result.counts, sources=result.sources, data_cut=cohort.data_cut, cohort=cohort)


class MemoryExecutor:
    """``executors.base.Executor`` holding the whole cohort: simple and fast below registry size."""

    name = "memory"

    @contextmanager
    def derive(self, cohort_path, config: Config, options: RunOptions) -> Iterator[Derived]:
        result = load_validated(cohort_path, options.data_cut, options.exclude_invalid, config, options.source)
        yield derived_from_read(result, config, options)

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        from mrdtrack.importers.source import read_any_cohort

        result = read_any_cohort(cohort_path, data_cut=options.data_cut, config=config, options=options.source)
        return result.issues, result.counts
