"""``analyze`` for registry-size cohorts, with peak memory bounded by one bucket of patients.

``analyze_partitioned`` writes the same five files as ``mrdtrack analyze`` (byte for byte):

1. partition pass (``io.partition``): every table is streamed into K bucket folders, each a range
   of patient ids, keeping the original row numbers; the global data cut is found on the way;
2. per bucket (in ``jobs`` processes): validation against the global data cut, every per-patient
   derivation (``pipeline.derive_all``), and the bucket's rows of ``assessments.csv`` and
   ``mrd.csv`` formatted as the writer does; ``patients`` and the MRD covariate changes are kept
   for the cohort statistics;
3. since bucket k holds the k-th range of sorted ids, ``assessments.csv`` and ``mrd.csv`` are the
   buckets' pieces appended in bucket order (no merge, no second pass over the rows);
4. cohort statistics on the whole patients table, then ``patients.csv``, ``issues.csv`` and
   ``summary.json``.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import REQUIRED_TABLES, TABLES
from mrdtrack.errors import InvalidCohort, UserError
from mrdtrack.io import validate as _validate
from mrdtrack.io.outputs import write_csv, write_json
from mrdtrack.io.parse import as_text
from mrdtrack.io.partition import Partition, load_bucket, partition_cohort
from mrdtrack.io.read import parse_data_cut
from mrdtrack.io.sources import RawTable
from mrdtrack.issues import ISSUE_COLUMNS, issues_frame
from mrdtrack.pipeline import (
    ASSESSMENT_COLUMNS,
    DEFAULT_BATCH_SIZE,
    MRD_COLUMNS,
    PATIENT_COLUMNS,
    TV_COLUMNS,
    derive_all,
)
from mrdtrack.pipeline import sort_issues as sort_derivation_issues
from mrdtrack.processes import process_pool

DEFAULT_BUCKETS = 16
#: ``analyze`` streams a cohort folder through buckets (instead of loading it whole) from this many
#: input rows on (all tables; about 20,000 patients of a registry export)...
AUTO_PARTITION_MIN_ROWS = 2_000_000
#: ...with one bucket per this many input rows: about 1.2 GB peak per worker process.
ROWS_PER_BUCKET = 750_000


@dataclass
class PartitionedRun:
    """What ``analyze_partitioned`` did: output paths, counts, summary, stage wall times (s)."""

    out_dir: Path
    patients: int
    counts: dict
    summary: dict
    excluded: int = 0  # lines of severity "excluded" in issues.csv
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
    pseudonym_key: str | None = None
    derive: bool = True  # False: validation only (``validate_partitioned``)


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
    if cohort is None or not len(cohort.patients) or not job.derive:
        n = len(cohort.patients) if cohort is not None else 0
        return {"index": job.index, "ok": cohort is not None, "counts": result.counts, "patients": n}
    d = derive_all(cohort, job.config, batch_size=job.batch_size, jobs=1)
    rows = {"assessments": d.assessments[ASSESSMENT_COLUMNS], "mrd": d.mrd[MRD_COLUMNS]}
    if job.pseudonym_key:
        from mrdtrack.pseudonym import pseudonymize_frames

        rows = pseudonymize_frames(rows, job.pseudonym_key)
    for name, df in rows.items():
        write_csv(df, _bucket_path(job.work, job.index, name).with_suffix(".csv"), header=False)
    for name, df in {"patients": d.patients, "mrd_changes": d.mrd_changes, "issues": d.issues}.items():
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
    lines = (out["code"] == "PATIENT_LEFT_OUT").to_numpy()
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
    df = _validate.finish_issues(frames)
    table_level = df["row"].isna() & df["patient_id"].isna()
    key = df[["severity", "code", "table", "column", "value", "message", "file"]].astype(str).agg("\x1f".join, axis=1)
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

    lenient = check(True)
    fatal = lenient.cohort is None or any(n not in part.tables for n in REQUIRED_TABLES)
    result = lenient if exclude_invalid else check(False)
    return result.issues, result.counts, fatal


def _append_pieces(work: str, infos: list[dict], name: str, columns: list[str], out: Path) -> None:
    """``out`` = the header, then each bucket's formatted rows in bucket (= patient) order."""
    with out.open("wb") as f:
        f.write((",".join(columns) + "\n").encode("utf-8"))
        for info in infos:
            piece = _bucket_path(work, info["index"], name).with_suffix(".csv")
            if piece.exists():
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, f, 1 << 24)
                piece.unlink()


def _run_buckets(jobs_list: list[_BucketJob], jobs: int, progress=None) -> list[dict]:
    """Every bucket analysed (in ``jobs`` processes); results in bucket order."""
    def done(info: dict) -> dict:
        if progress:
            progress(info["patients"])
        return info

    if jobs > 1 and len(jobs_list) > 1:
        with process_pool(jobs) as pool:
            return [done(i) for i in pool.map(_analyze_bucket, jobs_list)]
    return [done(_analyze_bucket(j)) for j in jobs_list]


def analyze_partitioned(cohort_path: str | Path, out_dir: str | Path, config: Config | None = None,
                        buckets: int = DEFAULT_BUCKETS, jobs: int = 1, data_cut=None, exclude_invalid: bool = False,
                        batch_size: int = DEFAULT_BATCH_SIZE, work_dir: str | Path | None = None,
                        batch_rows: int | None = None, pseudonym_key: str | None = None,
                        progress=None) -> PartitionedRun:
    """``mrdtrack analyze`` on a cohort folder of any size, one bucket of patients in memory at a time.

    Writes assessments.csv, mrd.csv, patients.csv, issues.csv and summary.json into ``out_dir``,
    identical to ``commands.analyze.run_analyze`` on the same cohort and options. Validation
    errors without ``exclude_invalid`` raise InvalidCohort (a UserError carrying every problem)
    and write nothing. ``work_dir`` (default: a temporary folder beside ``out_dir``) holds the
    buckets and intermediate pieces; it is removed at the end. ``pseudonym_key``: every patient_id
    in the outputs replaced by its keyed pseudonym (``--pseudonymize``). ``progress(n)`` is
    called with the number of patients of each bucket as it finishes.
    """
    from mrdtrack import __version__

    config = config or Config()
    cut = parse_data_cut(data_cut)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=".mrdtrack-work-", dir=out.parent))
    timings: dict = {}
    appending = writer = None
    try:
        part, cut, checked, counts, infos = _partition_and_check(
            cohort_path, work, config, buckets, jobs, cut, exclude_invalid, batch_size, batch_rows, pseudonym_key,
            progress, timings, derive=True, exact_cut=exclude_invalid and cut is None)
        if not all(i["ok"] for i in infos) or (checked["severity"] == "error").any():
            raise InvalidCohort(cohort_path, checked)

        from mrdtrack.outcomes.cohort_statistics import cohort_statistics

        t0 = time.perf_counter()
        patients = _concat_sorted(_read_pieces(str(work), infos, "patients"), ["patient_id"], PATIENT_COLUMNS)
        shown = patients
        if pseudonym_key:
            from mrdtrack.pseudonym import pseudonymize_frames

            shown = pseudonymize_frames({"patients": patients}, pseudonym_key)["patients"]
        # while the statistics run: patients.csv is formatted and written by a forked child (before
        # any thread starts), and the row files, plain appends, by a thread
        writer = _fork_writer(lambda: write_csv(shown, out / "patients.csv"))
        appending = ThreadPoolExecutor(max_workers=1)
        appended = [appending.submit(_append_pieces, str(work), infos, name, columns, out / f"{name}.csv")
                    for name, columns in (("assessments", ASSESSMENT_COLUMNS), ("mrd", MRD_COLUMNS))]
        changes = _concat_sorted(_read_pieces(str(work), infos, "mrd_changes"), ["patient_id", "time_days"],
                                 TV_COLUMNS)
        derived = _read_pieces(str(work), infos, "issues")
        derived = sort_derivation_issues(pd.concat(derived, ignore_index=True)) if derived else issues_frame()
        summary, _statistics, stat_issues = cohort_statistics(patients, changes, config)
        timings["statistics_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for future in appended:
            future.result()
        analysis_issues = derived if stat_issues.empty else pd.concat([derived, stat_issues], ignore_index=True)
        issues = pd.concat([checked[list(analysis_issues.columns)], analysis_issues], ignore_index=True)
        if pseudonym_key:
            ids = patients[["patient_id"]]  # the ids of the whole analysis, as the in-memory path maps them
            issues = pseudonymize_frames({"ids": ids, "issues": issues}, pseudonym_key)["issues"]
        write_csv(issues[ISSUE_COLUMNS], out / "issues.csv")
        _wait_for(writer, out / "patients.csv")
        writer = None
        provenance = {"inputs": part.sources, "version": __version__, "profile": config.profile,
                      "data_cut": pd.Timestamp(cut) if cut is not None else pd.NaT}
        full = {"config": config.to_dict(), "provenance": provenance, "counts": counts, **summary}
        write_json(full, out / "summary.json")
        timings["merge_write_s"] = time.perf_counter() - t0
        return PartitionedRun(out_dir=out, patients=len(patients), counts=counts, summary=full,
                              excluded=int((issues["severity"] == "excluded").sum()), timings=timings)
    finally:
        if appending is not None:
            appending.shutdown(wait=True)
        if writer is not None:
            _wait_for(writer, out / "patients.csv", raise_error=False)
        shutil.rmtree(work, ignore_errors=True)


def _partition_and_check(cohort_path, work: Path, config: Config, buckets: int, jobs: int, cut, exclude_invalid: bool,
                         batch_size: int, batch_rows: int | None, pseudonym_key: str | None, progress, timings: dict,
                         derive: bool, exact_cut: bool):
    """Partition pass, file checks, then every bucket validated (and derived when ``derive``):
    (partition, data cut, validation issues in the validator's order, summed counts, bucket infos).
    A fatal file problem raises InvalidCohort."""
    t0 = time.perf_counter()
    kw = {"batch_rows": batch_rows} if batch_rows else {}
    part = partition_cohort(cohort_path, work / "buckets", buckets, exact_cut=exact_cut, jobs=jobs, config=config,
                            **kw)
    timings["partition_s"] = time.perf_counter() - t0
    if cut is None and part.data_cut:
        cut = pd.Timestamp(part.data_cut)
    header_issues, header_counts, fatal = _header_check(part, cut, exclude_invalid, config)
    if fatal:
        raise InvalidCohort(cohort_path, header_issues)
    t0 = time.perf_counter()
    job_list = [_BucketJob(part.root, i, str(work), cut, exclude_invalid, config, batch_size, pseudonym_key, derive)
                for i in range(part.buckets)]
    infos = _run_buckets(job_list, jobs, progress)
    timings["buckets_s"] = time.perf_counter() - t0
    checked = validation_issues([header_issues] + [pd.read_pickle(_bucket_path(work, i["index"], "validation"))
                                                   for i in infos])
    return part, cut, checked, _sum_counts([header_counts] + [i["counts"] for i in infos]), infos


def validate_partitioned(cohort_path: str | Path, config: Config | None = None, buckets: int = DEFAULT_BUCKETS,
                         jobs: int = 1, data_cut=None, work_dir: str | Path | None = None,
                         progress=None) -> tuple[pd.DataFrame, dict]:
    """``mrdtrack validate`` on a cohort folder of any size, one bucket of patients in memory at a
    time: (every problem, in the validator's order; counts), the same as ``read_cohort`` gives.
    A fatal file problem (unreadable file, missing table) gives its lines alone, as there."""
    config = config or Config()
    cut = parse_data_cut(data_cut)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix=".mrdtrack-work-"))
    try:
        _, _, checked, counts, _ = _partition_and_check(
            cohort_path, work, config, buckets, jobs, cut, False, DEFAULT_BATCH_SIZE, None, None, progress, {},
            derive=False, exact_cut=cut is None)
        return checked, counts
    except InvalidCohort as err:
        return err.issues, {}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fork_writer(write) -> int | None:
    """Run ``write()`` in a forked child process (it formats and writes while this process goes on):
    the child's pid; where there is no fork, ``write()`` runs here and None is returned."""
    if not hasattr(os, "fork"):
        write()
        return None
    pid = os.fork()
    if pid == 0:  # the child: write, report any failure on stderr, never return into the caller
        code = 0
        try:
            write()
        except BaseException:  # noqa: BLE001 - reported through the exit status
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def _wait_for(pid: int | None, path: Path, raise_error: bool = True) -> None:
    """Wait for a ``_fork_writer`` child; a failed child is an error (its traceback is on stderr)."""
    if pid is None:
        return
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 and raise_error:
        raise RuntimeError(f"writing {path} failed in a child process (see the error above)")


def _concat_sorted(frames: list[pd.DataFrame], by: list[str], columns: list[str] | None = None) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns or by)
    return pd.concat(frames, ignore_index=True).sort_values(by, kind="stable").reset_index(drop=True)


def estimate_input_rows(cohort_path: str | Path) -> int:
    """Input rows of a cohort folder, without reading it: Parquet metadata; CSV size / sampled line length."""
    import pyarrow.parquet as pq

    total = 0
    for p in Path(cohort_path).iterdir():
        try:
            if p.suffix == ".parquet":
                total += pq.ParquetFile(p).metadata.num_rows
            elif p.suffix == ".csv":
                size = p.stat().st_size
                with p.open("rb") as f:
                    head = f.read(1 << 20)
                total += int(size / max(1, len(head)) * max(1, head.count(b"\n")))
        except Exception:  # noqa: BLE001 - an unreadable file is reported by validation, not here
            continue
    return total


def choose_buckets(cohort_path: str | Path, partitions: int | None) -> int:
    """Buckets for ``--partitions`` (None: ``auto_buckets``); 0 means the in-memory path. A
    UserError when buckets are asked for a cohort that is not a folder (an .xlsx workbook)."""
    buckets = auto_buckets(cohort_path) if partitions is None else partitions
    if buckets and not Path(cohort_path).is_dir():
        raise UserError(f"--partitions needs a cohort folder of csv/parquet tables, not '{cohort_path}'; "
                        "use --partitions 0 for a workbook")
    return buckets


def auto_buckets(cohort_path: str | Path) -> int:
    """Buckets ``analyze`` uses by default: 0 (in memory) for a workbook or a cohort below
    AUTO_PARTITION_MIN_ROWS input rows, else one bucket per ROWS_PER_BUCKET rows (at least 2)."""
    path = Path(cohort_path)
    if not path.is_dir():
        return 0
    rows = estimate_input_rows(path)
    return 0 if rows < AUTO_PARTITION_MIN_ROWS else max(2, math.ceil(rows / ROWS_PER_BUCKET))


__all__ = ["AUTO_PARTITION_MIN_ROWS", "DEFAULT_BUCKETS", "ROWS_PER_BUCKET", "InvalidCohort", "PartitionedRun",
           "analyze_partitioned", "auto_buckets", "choose_buckets", "estimate_input_rows", "validate_partitioned", "validation_issues"]
