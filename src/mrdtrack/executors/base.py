"""The executor seam: how a cohort's per-batch derivation is run, apart from what is done with it.

An executor (in memory, local partitioned, Spark) reads and validates a cohort and runs the same
per-batch derivation (``pipeline.derive_batch`` on batches of whole patients) wherever it runs
it; it hands back a ``Derived``: the per-patient tables, the validation problems and the counts.
Then, whatever the executor, ``finish`` runs the cohort statistics once and assembles the
``Analysis`` the report reads and, given an output folder, writes the five ``analyze`` files. The
assessments (about 40 rows per patient) may stay on disk as formatted row files
(``RowPieces``) instead of a frame, so an executor never has to hold them whole.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from mrdtrack.cohort import Cohort, empty_table
from mrdtrack.config import Config
from mrdtrack.io.outputs import write_csv, write_json
from mrdtrack.issues import ISSUE_COLUMNS
from mrdtrack.pipeline import ASSESSMENT_COLUMNS, DEFAULT_BATCH_SIZE, MRD_COLUMNS, Analysis
from mrdtrack.processes import can_fork, run_in_child


@dataclass
class RunOptions:
    """The options of a run that do not change what is derived per patient."""

    data_cut: pd.Timestamp | None = None
    exclude_invalid: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    jobs: int = 1
    pseudonym_key: str | None = None  # --pseudonymize: ids replaced in every output
    progress: Callable[[int], None] | None = None  # called with the patients of each finished piece
    # called with the whole cohort's per-patient tables (and the Config) before the cohort statistics
    # (``mrdtrack report`` starts drawing the figures that need no more: ``analyze_with``)
    on_derived: Callable[[Derived, Config], None] | None = None
    source: object = None  # the options of an OMOP source (importers.source; docs/omop.md), in memory only


@dataclass
class RowPieces:
    """One output table kept on disk as formatted CSV row files (no header), in patient order."""

    paths: list[Path]
    rows: int = 0

    def write(self, out: Path, columns: list[str]) -> None:
        """``out`` = the header, then every piece appended in order (no parsing, no formatting)."""
        with out.open("wb") as f:
            f.write((",".join(columns) + "\n").encode("utf-8"))
            for piece in self.paths:
                if piece.exists():
                    with piece.open("rb") as src:
                        shutil.copyfileobj(src, f, 1 << 24)

    def __len__(self) -> int:
        return self.rows


@dataclass
class Derived:
    """What every executor hands over: the per-patient tables of the whole cohort and the
    validation outcome. ``assessments`` is a frame or ``RowPieces`` already pseudonymised when
    ``assessments_pseudonymized``; every frame is in patient order."""

    patients: pd.DataFrame
    anchors: pd.DataFrame
    mrd: pd.DataFrame
    mrd_changes: pd.DataFrame
    assessments: pd.DataFrame | RowPieces
    validation_issues: pd.DataFrame  # the validator's order (issues.ISSUE_COLUMNS + file)
    derivation_issues: pd.DataFrame  # pipeline.sort_issues order
    counts: dict
    sources: dict
    data_cut: pd.Timestamp | None
    cohort: Cohort | None = None  # the validated cohort, when the executor held it whole
    assessments_pseudonymized: bool = False
    timings: dict = field(default_factory=dict)


class Executor(Protocol):
    """An engine that validates a cohort and derives it, batch by batch of whole patients."""

    name: str

    def derive(self, cohort_path, config: Config, options: RunOptions) -> AbstractContextManager[Derived]:
        """The derived cohort, valid while the context is open (row files may live in a work folder).
        Validation errors without ``exclude_invalid`` raise ``errors.InvalidCohort``."""

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        """(every problem in the validator's order, counts), as ``read_cohort`` gives them."""


def provenance(derived: Derived, config: Config) -> dict:
    from mrdtrack import __version__

    cut = derived.data_cut
    return {"inputs": derived.sources, "version": __version__, "profile": config.profile,
            "data_cut": pd.Timestamp(cut) if cut is not None and pd.notna(cut) else pd.NaT}


def _shown(frames: dict[str, pd.DataFrame], key: str | None) -> dict[str, pd.DataFrame]:
    if not key:
        return frames
    from mrdtrack.pseudonym import pseudonymize_frames

    return pseudonymize_frames(frames, key)


def finish(derived: Derived, config: Config, out_dir: str | Path | None = None,
           pseudonym_key: str | None = None) -> Analysis:
    """The cohort statistics (once, on the per-patient tables) and the ``Analysis``; with
    ``out_dir``, the five files written (the per-patient files while the statistics run)."""
    from mrdtrack.outcomes.cohort_statistics import cohort_statistics, start_models

    # the models start in a child before the writer starts its thread (a fork needs a single thread)
    models = start_models(derived.patients, derived.mrd_changes, config)
    out = Path(out_dir) if out_dir is not None else None
    frames = {"anchors": derived.anchors, "mrd": derived.mrd, "patients": derived.patients,
              "mrd_changes": derived.mrd_changes}
    if isinstance(derived.assessments, pd.DataFrame):
        frames["assessments"] = derived.assessments
    writer = _Writer(out) if out is not None else None
    if writer is not None:
        shown = _shown({"patients": derived.patients, "mrd": derived.mrd}, pseudonym_key)
        writer.start(shown["patients"], shown["mrd"],
                     derived.assessments if isinstance(derived.assessments, RowPieces) else None)
    try:
        summary, statistics, stat_issues = cohort_statistics(derived.patients, derived.mrd_changes, config, models)
        derivation = derived.derivation_issues
        derivation = derivation if stat_issues.empty else pd.concat([derivation, stat_issues], ignore_index=True)
        issues = pd.concat([derived.validation_issues[list(derivation.columns)], derivation], ignore_index=True)
        if pseudonym_key:
            frames = _shown({**frames, "issues": issues}, pseudonym_key)
            issues = frames.pop("issues")
        full = {"config": config.to_dict(), "provenance": provenance(derived, config), "counts": derived.counts,
                **summary}
        if writer is not None:
            if isinstance(derived.assessments, pd.DataFrame):
                write_csv(frames["assessments"][ASSESSMENT_COLUMNS], out / "assessments.csv")
            write_csv(issues[ISSUE_COLUMNS], out / "issues.csv")
            write_json(full, out / "summary.json")
    finally:
        if writer is not None:
            writer.wait()
    cohort = derived.cohort if derived.cohort is not None else _cohort_stub(derived)
    if pseudonym_key and derived.cohort is not None:
        cohort = _pseudonymized_cohort(cohort, pseudonym_key)
    assessments = frames.get("assessments", pd.DataFrame(columns=ASSESSMENT_COLUMNS))
    return Analysis(config=config, cohort=cohort, anchors=frames["anchors"], assessments=assessments,
                    mrd=frames["mrd"], patients=frames["patients"], issues=issues, summary=full,
                    statistics=statistics, mrd_changes=frames["mrd_changes"],
                    row_files={"assessments": derived.assessments} if isinstance(derived.assessments, RowPieces)
                    else {})


def _cohort_stub(derived: Derived) -> Cohort:
    """A Cohort without rows (the executor did not hold the cohort whole): its data cut and sources."""
    cut = derived.data_cut if derived.data_cut is not None else pd.NaT
    return Cohort(**{n: empty_table(n) for n in Cohort.TABLE_NAMES}, data_cut=pd.Timestamp(cut) if pd.notna(cut)
                  else pd.NaT, sources=dict(derived.sources))


def _pseudonymized_cohort(cohort: Cohort, key: str) -> Cohort:
    from dataclasses import replace

    return replace(cohort, **_shown({n: cohort.table(n) for n in cohort.TABLE_NAMES}, key))


class _Writer:
    """Writes patients.csv, mrd.csv and the assessments row files while the statistics run:
    patients.csv and mrd.csv by a forked child when a fork is safe (``processes.can_fork``;
    formatting is CPU work and memory), the assessments row files by one thread."""

    def __init__(self, out: Path):
        self.out = out
        self.child: Callable[[], None] | None = None  # waits for the forked writer (``run_in_child``)
        self.pool: ThreadPoolExecutor | None = None
        self.futures: list = []

    def start(self, patients: pd.DataFrame, mrd: pd.DataFrame, pieces: RowPieces | None) -> None:
        """Start writing: patients.csv and mrd.csv by a forked child from its snapshot of the
        tables (no copy made; its formatting memory is not this process's), or by the thread from
        copies of its own (the statistics may add columns to theirs meanwhile)."""
        self.out.mkdir(parents=True, exist_ok=True)

        def write_tables(patients: pd.DataFrame, mrd: pd.DataFrame) -> None:
            write_csv(patients, self.out / "patients.csv")
            write_csv(mrd[MRD_COLUMNS], self.out / "mrd.csv")

        if can_fork():  # before the thread below exists
            self.child = run_in_child(lambda: write_tables(patients, mrd))
        self.pool = ThreadPoolExecutor(max_workers=1)
        if self.child is None:
            self.futures.append(self.pool.submit(write_tables, patients.copy(), mrd.copy()))
        if pieces is not None:
            self.futures.append(self.pool.submit(pieces.write, self.out / "assessments.csv", ASSESSMENT_COLUMNS))

    def wait(self) -> None:
        try:
            for f in self.futures:
                f.result()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            if self.child is not None:
                child, self.child = self.child, None
                try:
                    child()
                except Exception as err:
                    raise RuntimeError(f"writing patients.csv and mrd.csv in {self.out} failed in a child process: "
                                       f"{err}") \
                        from err

