"""``analyze`` for registry-size cohorts, with peak memory bounded by one bucket of patients.

``analyze_partitioned`` writes the same five files as ``mrdtrack analyze`` (byte for byte):

1. partition pass (``io.partition``): every table is streamed into K bucket folders by a stable
   hash of patient_id, keeping the original row numbers; the global data cut is found on the way;
2. per bucket (in ``jobs`` processes): validation against the global data cut, then every
   per-patient derivation (``pipeline.derive_all``); the bucket's outputs go to a work folder;
3. the per-patient tables are put back in patient order: ``patients`` (needed whole by the cohort
   statistics) in memory; ``assessments`` and ``mrd`` by an external merge: each bucket's sorted
   rows are cut at the same patient boundaries into ranges, and each range (about one bucket of
   rows) is sorted and appended to the CSV;
4. cohort statistics on the whole patients table, then ``issues.csv`` and ``summary.json``.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import REQUIRED_TABLES, TABLES
from mrdtrack.errors import UserError
from mrdtrack.io import validate as _validate
from mrdtrack.io.outputs import FLOAT_FORMAT, format_table, write_csv, write_json
from mrdtrack.io.parse import as_text
from mrdtrack.io.partition import Partition, load_bucket, partition_cohort
from mrdtrack.io.read import parse_data_cut
from mrdtrack.io.sources import RawTable
from mrdtrack.issues import ISSUE_COLUMNS, issues_frame
from mrdtrack.pipeline import ASSESSMENT_COLUMNS, DEFAULT_BATCH_SIZE, MRD_COLUMNS, TV_COLUMNS, derive_all
from mrdtrack.pipeline import _sort_issues as sort_derivation_issues

DEFAULT_BUCKETS = 16
EXCLUSION_PREFIX = "patient left out ("


class InvalidCohort(UserError):
    """Validation errors (without ``exclude_invalid``): ``issues`` lists every problem."""

    def __init__(self, message: str, issues: pd.DataFrame):
        super().__init__(message)
        self.issues = issues


@dataclass
class PartitionedRun:
    """What ``analyze_partitioned`` did: output paths, counts, summary, stage wall times (s)."""

    out_dir: Path
    patients: int
    counts: dict
    summary: dict
    timings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _BucketJob:
    root: str
    index: int
    work: str
    data_cut: pd.Timestamp | None
    exclude_invalid: bool
    config: Config
    batch_size: int


def _missing_file(name: str) -> str:
    return f"{name}.csv"


def _bucket_path(work: str | Path, index: int, name: str) -> Path:
    """A bucket's intermediate table (a pickle: exact dtypes, nothing converted on the way back)."""
    return Path(work) / f"out-{index:04d}" / f"{name}.pkl"


def _analyze_bucket(job: _BucketJob) -> dict:
    """Validate and derive one bucket; outputs pickled under the work folder. Returns counts."""
    part = Partition.load(job.root)
    raw = load_bucket(part, job.index)
    result = _validate.check_tables(raw, [], {}, job.data_cut, job.exclude_invalid, job.config, _missing_file)
    _bucket_path(job.work, job.index, "validation").parent.mkdir(parents=True, exist_ok=True)
    with_exclusion_order(result.issues, raw).to_pickle(_bucket_path(job.work, job.index, "validation"))
    cohort = result.cohort
    if cohort is None or not len(cohort.patients):
        return {"index": job.index, "ok": cohort is not None, "counts": result.counts, "patients": 0}
    d = derive_all(cohort, job.config, batch_size=job.batch_size, jobs=1)
    frames = {"assessments": d.assessments[ASSESSMENT_COLUMNS], "mrd": d.mrd[MRD_COLUMNS], "patients": d.patients,
              "mrd_changes": d.mrd_changes, "issues": d.issues}
    for name, df in frames.items():
        df.to_pickle(_bucket_path(job.work, job.index, name))
    return {"index": job.index, "ok": True, "counts": result.counts, "patients": len(d.patients)}


def _read_pieces(work: str, infos: list[dict], name: str) -> list[pd.DataFrame]:
    out = []
    for info in infos:
        p = _bucket_path(work, info["index"], name)
        if p.exists():
            df = pd.read_pickle(p)
            if len(df):
                out.append(df)
    return out


def _sum_counts(parts: list[dict]) -> dict:
    total: dict = {}
    for counts in parts:
        for key, value in counts.items():
            if isinstance(value, dict):
                slot = total.setdefault(key, {})
                for k, v in value.items():
                    slot[k] = slot.get(k, 0) + int(v)
            else:
                total[key] = total.get(key, 0) + int(value)
    return total


def with_exclusion_order(issues: pd.DataFrame, raw: dict[str, RawTable]) -> pd.DataFrame:
    """``issues`` plus ``_order``: for each "patient left out" line, the patient's first unused source row.

    The validator lists those lines (which have no row) in order of the patient's first row that
    was left out only because of the patient (rows with their own error or exclusion line are not
    counted); ``_order`` lets the bucket logs be merged back into that order.
    """
    out = issues.copy()
    out["_order"] = np.nan
    lines = (out["row"].isna() & out["patient_id"].notna()
             & out["message"].astype(str).str.startswith(EXCLUSION_PREFIX)).to_numpy()
    for name in out.loc[lines, "table"].unique():
        t = raw.get(name)
        if t is None or "patient_id" not in t.frame.columns:
            continue
        own = out[(out["table"] == name) & out["row"].notna() & out["severity"].isin(["error", "excluded"])]
        rows = pd.DataFrame({"pid": as_text(t.frame["patient_id"]).astype(object), "row": t.rows})
        rows = rows[~rows["row"].isin(own["row"].astype("int64"))]
        first = rows.groupby("pid")["row"].min()
        m = lines & (out["table"] == name).to_numpy()
        out.loc[m, "_order"] = out.loc[m, "patient_id"].map(first).astype(float).to_numpy()
    return out


def validation_issues(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Bucket validation issues as one log in the validator's order (table, then source row).

    Lines without a row keep their place at the head of their table, table-level ones first, then
    "patient left out" lines in order of ``_order`` (``with_exclusion_order``). Table-level lines
    (no row, no patient: a reserved column name...) are found in every bucket and kept once.
    """
    frames = [f for f in frames if len(f)]
    if frames:
        df = pd.concat(frames, ignore_index=True)
        order = {n: i for i, n in enumerate(TABLES)}
        key = pd.DataFrame({"t": df["table"].map(order).fillna(-1).to_numpy(),
                            "r": pd.array(df["row"], dtype="Int64").fillna(-1).to_numpy(dtype="int64"),
                            "o": df["_order"].fillna(-1).to_numpy() if "_order" in df else 0.0})
        df = df.iloc[np.lexsort((key["o"], key["r"], key["t"]))]
        frames = [df.drop(columns=["_order"], errors="ignore")]
    df = _validate._finish_issues(frames)
    table_level = df["row"].isna() & df["patient_id"].isna()
    key = df[["severity", "table", "column", "value", "message", "file"]].astype(str).agg("\x1f".join, axis=1)
    return df[~(table_level & key.duplicated())].reset_index(drop=True)


def _header_check(part: Partition, data_cut, exclude_invalid: bool,
                  config: Config) -> tuple[pd.DataFrame, dict, bool]:
    """File- and table-level problems, found once: (issues, counts of unread lines, fatal).

    Fatal: a file cannot be read, a required table or column is missing (no bucket can be
    analysed). A bad CSV line is a row error: it is reported here (once) and, without
    ``exclude_invalid``, stops the run like any other row error.
    """
    empty = {name: RawTable(name, pd.DataFrame({c: pd.Series(dtype=object) for c in facts["columns"]}),
                            np.array([], dtype=np.int64), facts["file"]) for name, facts in part.tables.items()}

    def check(exclude: bool):
        return _validate.check_tables(empty, list(part.file_issues), dict(part.sources), data_cut, exclude,
                                      config, _missing_file)

    fatal = check(True).cohort is None or any(n not in part.tables for n in REQUIRED_TABLES)
    result = check(exclude_invalid)
    return result.issues, result.counts, fatal


def _range_starts(ids: np.ndarray, n_ranges: int) -> np.ndarray:
    """First patient_id of each of ``n_ranges`` equal ranges of the sorted ids."""
    step = max(1, math.ceil(len(ids) / max(1, n_ranges)))
    return ids[::step]


def _split_into_ranges(work: str, infos: list[dict], name: str, starts: np.ndarray) -> None:
    """Cut each bucket's (patient-sorted) rows at the range starts: work/ranges-<name>/<r>/<bucket>.pkl."""
    for info in infos:
        p = _bucket_path(work, info["index"], name)
        if not p.exists():
            continue
        df = pd.read_pickle(p)
        pid = df["patient_id"].astype(object).to_numpy()
        cuts = np.searchsorted(pid, starts[1:], side="left")
        edges = np.concatenate([[0], cuts, [len(df)]])
        for r in np.flatnonzero(np.diff(edges)):
            d = Path(work) / f"ranges-{name}" / f"{r:05d}"
            d.mkdir(parents=True, exist_ok=True)
            df.iloc[edges[r]:edges[r + 1]].to_pickle(d / f"{info['index']:04d}.pkl")
        p.unlink()


def _merge_ranges(work: str, name: str, n_ranges: int, columns: list[str], out: Path) -> int:
    """Append each range, sorted by patient_id (stable), to ``out`` with the writer's formatting."""
    n = 0
    with out.open("w", encoding="utf-8", newline="") as f:
        pd.DataFrame(columns=columns).to_csv(f, index=False, lineterminator="\n")
        for r in range(n_ranges):
            d = Path(work) / f"ranges-{name}" / f"{r:05d}"
            pieces = [pd.read_pickle(p) for p in sorted(d.glob("*.pkl"))] if d.exists() else []
            if not pieces:
                continue
            df = pd.concat(pieces, ignore_index=True).sort_values("patient_id", kind="stable")
            format_table(df[columns]).to_csv(f, index=False, header=False, lineterminator="\n",
                                             float_format=FLOAT_FORMAT, na_rep="")
            n += len(df)
            shutil.rmtree(d)
    return n


def _run_buckets(jobs_list: list[_BucketJob], jobs: int) -> list[dict]:
    if jobs > 1 and len(jobs_list) > 1:
        ctx = __import__("multiprocessing").get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            return list(pool.map(_analyze_bucket, jobs_list))
    return [_analyze_bucket(j) for j in jobs_list]


def analyze_partitioned(cohort_path: str | Path, out_dir: str | Path, config: Config | None = None,
                        buckets: int = DEFAULT_BUCKETS, jobs: int = 1, data_cut=None, exclude_invalid: bool = False,
                        batch_size: int = DEFAULT_BATCH_SIZE, work_dir: str | Path | None = None,
                        batch_rows: int | None = None) -> PartitionedRun:
    """``mrdtrack analyze`` on a cohort folder of any size, one bucket of patients in memory at a time.

    Writes assessments.csv, mrd.csv, patients.csv, issues.csv and summary.json into ``out_dir``,
    identical to ``commands.analyze.run_analyze`` on the same cohort and options. Validation
    errors without ``exclude_invalid`` raise InvalidCohort (a UserError carrying every problem)
    and write nothing. ``work_dir`` (default: a temporary folder beside ``out_dir``) holds the
    buckets and intermediate pieces; it is removed at the end.
    """
    from mrdtrack import __version__

    config = config or Config()
    cut = parse_data_cut(data_cut)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=".mrdtrack-work-", dir=out.parent))
    timings: dict = {}
    try:
        t0 = time.perf_counter()
        kw = {"batch_rows": batch_rows} if batch_rows else {}
        part = partition_cohort(cohort_path, work / "buckets", buckets,
                                exact_cut=exclude_invalid and cut is None, **kw)
        timings["partition_s"] = time.perf_counter() - t0
        if cut is None and part.data_cut:
            cut = pd.Timestamp(part.data_cut)
        header_issues, header_counts, fatal = _header_check(part, cut, exclude_invalid, config)
        if fatal:
            raise InvalidCohort(_error_message(cohort_path, header_issues), header_issues)

        t0 = time.perf_counter()
        job_list = [_BucketJob(part.root, i, str(work), cut, exclude_invalid, config, batch_size)
                    for i in range(part.buckets)]
        infos = _run_buckets(job_list, jobs)
        timings["buckets_s"] = time.perf_counter() - t0
        checked = validation_issues([header_issues] + [pd.read_pickle(_bucket_path(work, i["index"], "validation"))
                                                       for i in infos])
        if not all(i["ok"] for i in infos) or (checked["severity"] == "error").any():
            raise InvalidCohort(_error_message(cohort_path, checked), checked)

        from mrdtrack.outcomes.cohort_statistics import cohort_statistics

        t0 = time.perf_counter()
        patients = _concat_sorted(_read_pieces(str(work), infos, "patients"), ["patient_id"])
        changes = _concat_sorted(_read_pieces(str(work), infos, "mrd_changes"), ["patient_id", "time_days"],
                                 TV_COLUMNS)
        derived = _read_pieces(str(work), infos, "issues")
        derived = sort_derivation_issues(pd.concat(derived, ignore_index=True)) if derived else issues_frame()
        summary, _statistics, stat_issues = cohort_statistics(patients, changes, config)
        timings["statistics_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        ids = patients["patient_id"].astype(object).to_numpy() if len(patients) else np.array([], dtype=object)
        starts = _range_starts(ids, part.buckets)
        for name, columns in (("assessments", ASSESSMENT_COLUMNS), ("mrd", MRD_COLUMNS)):
            _split_into_ranges(str(work), infos, name, starts)
            _merge_ranges(str(work), name, len(starts), columns, out / f"{name}.csv")
        analysis_issues = derived if stat_issues.empty else pd.concat([derived, stat_issues], ignore_index=True)
        issues = pd.concat([checked[list(analysis_issues.columns)], analysis_issues], ignore_index=True)
        write_csv(patients, out / "patients.csv")
        write_csv(issues[ISSUE_COLUMNS], out / "issues.csv")
        counts = _sum_counts([header_counts] + [i["counts"] for i in infos])
        provenance = {"inputs": part.sources, "version": __version__, "profile": config.profile,
                      "data_cut": pd.Timestamp(cut) if cut is not None else pd.NaT}
        full = {"config": config.to_dict(), "provenance": provenance, "counts": counts, **summary}
        write_json(full, out / "summary.json")
        timings["merge_write_s"] = time.perf_counter() - t0
        return PartitionedRun(out_dir=out, patients=len(patients), counts=counts, summary=full, timings=timings)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _concat_sorted(frames: list[pd.DataFrame], by: list[str], columns: list[str] | None = None) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns or by)
    return pd.concat(frames, ignore_index=True).sort_values(by, kind="stable").reset_index(drop=True)


def _error_message(cohort_path, issues: pd.DataFrame) -> str:
    n = int((issues["severity"] == "error").sum())
    return (f"{cohort_path}: {n} validation error(s); fix them, or rerun with --exclude-invalid "
            "to leave the affected rows out (each listed in issues.csv)")


__all__ = ["DEFAULT_BUCKETS", "InvalidCohort", "PartitionedRun", "analyze_partitioned", "validation_issues"]
