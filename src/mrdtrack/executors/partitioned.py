"""The local partitioned executor: a cohort folder of any size, one bucket of patients in memory at a time.

``PartitionedExecutor`` (the ``executors.base`` seam) gives what the in-memory executor gives:

1. partition pass (``io.partition``): every table is streamed into K bucket folders, each a range
   of patient ids, keeping the original row numbers; the global data cut is found on the way;
2. per bucket (in ``jobs`` processes, ``analyze_bucket``): validation against the global data
   cut, every per-patient derivation (``pipeline.derive_all``), and the bucket's rows of
   ``assessments.csv`` formatted as the writer does; the per-patient tables (patients, anchors,
   MRD samples, the MRD covariate changes) are kept for the statistics and the report;
3. since bucket k holds the k-th range of sorted ids, ``assessments.csv`` is the buckets' pieces
   appended in bucket order (``base.RowPieces``: no merge, no second pass over the rows).

``analyze_partitioned`` and ``validate_partitioned`` are that executor behind a function call.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import REQUIRED_TABLES, TABLES
from mrdtrack.errors import InvalidCohort, UserError
from mrdtrack.executors.base import Derived, RowPieces, RunOptions
from mrdtrack.io import validate as _validate
from mrdtrack.io.outputs import write_csv
from mrdtrack.io.parse import as_text, from_distinct
from mrdtrack.io.partition import Partition, load_bucket, partition_cohort
from mrdtrack.io.read import parse_data_cut
from mrdtrack.io.sources import RawTable
from mrdtrack.issues import issues_frame
from mrdtrack.pipeline import (
    ASSESSMENT_COLUMNS,
    DEFAULT_BATCH_SIZE,
    MRD_COLUMNS,
    PATIENT_COLUMNS,
    TV_COLUMNS,
    derive_all,
)
from mrdtrack.pipeline import sort_issues as sort_derivation_issues
from mrdtrack.processes import WORKER_KEEP_BYTES, default_jobs, process_pool, release_memory
from mrdtrack.sorting import concat_sorted

DEFAULT_BUCKETS = 16
#: ``analyze`` streams a cohort folder through buckets (instead of loading it whole) from this many
#: input rows on (all tables; about 20,000 patients of a registry export)...
AUTO_PARTITION_MIN_ROWS = 2_000_000
#: ...with one bucket per this many input rows: about 0.75 GB peak per worker process. A bucket costs
#: about 0.3 s of CPU whatever its size (the per-table and per-call work of validation and
#: derivation): 750,000 rows per bucket (0.55 GB) spent 13% of a bucket's CPU on it
#: (docs/performance.md, round eight).
ROWS_PER_BUCKET = 1_250_000


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
    #: remove the bucket's input files once read (no second run with another data cut can need them):
    #: the pass's copy of the cohort is freed while the other buckets run, not all at the end
    drop_input: bool = False


def _missing_file(name: str) -> str:
    return f"{name}.csv"


def _bucket_path(work: str | Path, index: int, name: str) -> Path:
    """A bucket's intermediate table (a pickle: exact dtypes, nothing converted on the way back)."""
    return Path(work) / f"out-{index:04d}" / f"{name}.pkl"


@dataclass
class BucketOutput:
    """What one bucket of whole patients gives (``analyze_bucket``)."""

    ok: bool  # validated without a stopping error
    counts: dict
    validation: pd.DataFrame  # the bucket's problems, with ``_order`` (``with_exclusion_order``)
    frames: dict = field(default_factory=dict)  # patients, anchors, mrd, mrd_changes, issues
    assessments: pd.DataFrame | None = None  # ASSESSMENT_COLUMNS, pseudonymised with a key
    latest_valid: pd.Timestamp = pd.NaT  # the bucket's share of the default data cut (ReadResult.latest_valid)

    @property
    def patients(self) -> int:
        return len(self.frames.get("patients", ()))


def analyze_bucket(raw: dict[str, RawTable], data_cut, exclude_invalid: bool, config: Config, batch_size: int,
                   pseudonym_key: str | None = None, derive: bool = True) -> BucketOutput:
    """Validate one bucket of whole patients against the global data cut and derive it (every
    executor that cuts the cohort into buckets runs this, locally or on a Spark worker)."""
    result = _validate.check_tables(raw, [], {}, data_cut, exclude_invalid, config, _missing_file)
    out = BucketOutput(ok=result.cohort is not None, counts=result.counts,
                       validation=with_exclusion_order(result.issues, raw), latest_valid=result.latest_valid)
    cohort = result.cohort
    if cohort is None or not len(cohort.patients) or not derive:
        return out
    d = derive_all(cohort, config, batch_size=batch_size, jobs=1)
    out.assessments = d.assessments[ASSESSMENT_COLUMNS]
    if pseudonym_key:
        from mrdtrack.pseudonym import pseudonymize_frames

        out.assessments = pseudonymize_frames({"assessments": out.assessments}, pseudonym_key)["assessments"]
    out.frames = {"patients": d.patients, "anchors": d.anchors, "mrd": d.mrd, "mrd_changes": d.mrd_changes,
                  "issues": d.issues}
    return out


def _analyze_bucket(job: _BucketJob) -> dict:
    """``analyze_bucket`` on bucket ``job.index``; outputs under the work folder. Returns counts."""
    part = Partition.load(job.root)
    raw = load_bucket(part, job.index)
    if job.drop_input:
        shutil.rmtree(part.bucket_dir(job.index), ignore_errors=True)  # read already (mapped pages stay valid)
    out = analyze_bucket(raw, job.data_cut, job.exclude_invalid, job.config, job.batch_size,
                         job.pseudonym_key, job.derive)
    del raw
    saved = save_bucket(job.work, job.index, out)
    del out
    release_memory(above=WORKER_KEEP_BYTES)
    return saved


def shared_text(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each text column holding one Python string per distinct value (missing cells
    as they were): the same values, pickled once each and unpickled shared, so that the gathered
    per-patient tables of a million patients hold words like "decreasing" once, not per row."""
    out = {}
    for c in df.columns:
        s = df[c]
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "string":
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if len(uniques) < len(s):
                values, missing = from_distinct(codes, uniques), codes < 0
                values[missing] = s.to_numpy()[missing]  # missing cells as they were (None or NaN)
                s = pd.Series(values, index=s.index, name=c, dtype=object)
        out[c] = s
    return pd.DataFrame(out, index=df.index, copy=False) if out else df


def save_bucket(work: str, index: int, out: BucketOutput) -> dict:
    """A bucket's outputs under the work folder (what ``_gathered`` reads back); returns its counts."""
    _bucket_path(work, index, "validation").parent.mkdir(parents=True, exist_ok=True)
    out.validation.to_pickle(_bucket_path(work, index, "validation"))
    if out.assessments is not None:
        write_csv(out.assessments, _bucket_path(work, index, "assessments").with_suffix(".csv"), header=False)
    for name, df in out.frames.items():
        shared_text(df).to_pickle(_bucket_path(work, index, name))
    rows = 0 if out.assessments is None else len(out.assessments)
    return {"index": index, "ok": out.ok, "counts": out.counts, "patients": out.patients, "assessments": rows,
            "latest_valid": out.latest_valid}


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


def _run_buckets(jobs_list: list, jobs: int, progress=None, work=None) -> list[dict]:
    """Every bucket analysed (in ``jobs`` processes; ``work``: the job function, default
    ``_analyze_bucket``); results in bucket order."""
    work = work or _analyze_bucket

    def done(info: dict) -> dict:
        if progress:
            progress(info["patients"])
        return info

    if jobs > 1 and len(jobs_list) > 1:
        with process_pool(jobs) as pool:
            return [done(i) for i in pool.map(work, jobs_list)]
    return [done(work(j)) for j in jobs_list]


class PartitionedExecutor:
    """The local partitioned executor (``executors.base.Executor``): ``buckets`` ranges of patients."""

    name = "partitioned"

    def __init__(self, buckets: int = DEFAULT_BUCKETS, work_dir: str | Path | None = None,
                 batch_rows: int | None = None):
        self.buckets, self.work_dir, self.batch_rows = buckets, work_dir, batch_rows

    def _work(self, near: Path | None) -> Path:
        if self.work_dir:
            return Path(self.work_dir)
        return Path(tempfile.mkdtemp(prefix=".mrdtrack-work-", dir=near))

    @contextmanager
    def derive(self, cohort_path, config: Config, options: RunOptions, near: Path | None = None) -> Iterator[Derived]:
        """Partition, validate and derive every bucket; the per-patient tables gathered (the
        assessments stay in the buckets' row files, removed with the work folder on exit)."""
        work = self._work(near)
        timings: dict = {}
        try:
            part, cut, checked, counts, infos = _partition_and_check(
                cohort_path, work, config, self.buckets, options.jobs, options.data_cut, options.exclude_invalid,
                options.batch_size, self.batch_rows, options.pseudonym_key, options.progress, timings, derive=True,
                exact_cut=options.exclude_invalid and options.data_cut is None)
            if not all(i["ok"] for i in infos) or (checked["severity"] == "error").any():
                raise InvalidCohort(cohort_path, checked)
            t0 = time.perf_counter()
            derived = _gathered(str(work), infos)
            derived.update(validation_issues=checked, counts=counts, sources=part.sources, timings=timings,
                           data_cut=pd.Timestamp(cut) if cut is not None else None)
            timings["gather_s"] = time.perf_counter() - t0
            yield Derived(**derived)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        """Every problem in the validator's order and the counts, as ``read_cohort`` gives them.
        A fatal file problem (unreadable file, missing table) gives its lines alone, as there."""
        work = self._work(None)
        try:
            _, _, checked, counts, _ = _partition_and_check(
                cohort_path, work, config, self.buckets, options.jobs, options.data_cut, False, DEFAULT_BATCH_SIZE,
                self.batch_rows, None, options.progress, {}, derive=False, exact_cut=options.data_cut is None)
            return checked, counts
        except InvalidCohort as err:
            return err.issues, {}
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _gathered(work: str, infos: list[dict]) -> dict:
    """The buckets' outputs under the work folder as ``Derived`` fields (``gathered``)."""
    frames = {name: _read_pieces(work, infos, name) for name in ("patients", "anchors", "mrd", "mrd_changes", "issues")}
    rows = RowPieces([_bucket_path(work, i["index"], "assessments").with_suffix(".csv") for i in infos],
                     rows=sum(i.get("assessments", 0) for i in infos))
    out = gathered(frames, rows)
    del frames  # the pieces: freed before the statistics fork their children
    release_memory()
    return out


def gathered(frames: dict[str, list[pd.DataFrame]], assessments: RowPieces) -> dict:
    """The buckets' per-patient tables (lists in bucket order) put together in patient order, as
    ``Derived`` fields; ``assessments``: the buckets' row files (pseudonymised in the buckets)."""
    def table(name: str, by: list[str], columns: list[str]) -> pd.DataFrame:
        return concat_sorted(frames.get(name, []), by, columns)

    derived = [f for f in frames.get("issues", []) if len(f)]
    return {"patients": table("patients", ["patient_id"], PATIENT_COLUMNS),
            "anchors": table("anchors", ["patient_id"], ["patient_id"]),
            "mrd": table("mrd", ["patient_id", "date"], MRD_COLUMNS),
            "mrd_changes": table("mrd_changes", ["patient_id", "time_days"], TV_COLUMNS),
            "derivation_issues": sort_derivation_issues(pd.concat(derived, ignore_index=True)) if derived
            else issues_frame(),
            "assessments": assessments, "assessments_pseudonymized": True}


def analyze_partitioned(cohort_path: str | Path, out_dir: str | Path, config: Config | None = None,
                        buckets: int = DEFAULT_BUCKETS, jobs: int = 1, data_cut=None, exclude_invalid: bool = False,
                        batch_size: int = DEFAULT_BATCH_SIZE, work_dir: str | Path | None = None,
                        batch_rows: int | None = None, pseudonym_key: str | None = None,
                        progress=None) -> PartitionedRun:
    """``mrdtrack analyze --partitions K`` as a function: the five files written into ``out_dir``,
    identical to the in-memory path's. Validation errors without ``exclude_invalid`` raise
    InvalidCohort and write nothing. ``work_dir`` (default: a temporary folder beside
    ``out_dir``) holds the buckets and the row files; it is removed at the end."""
    from mrdtrack.executors.base import finish

    config = config or Config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = RunOptions(data_cut=parse_data_cut(data_cut), exclude_invalid=exclude_invalid, batch_size=batch_size,
                         jobs=jobs, pseudonym_key=pseudonym_key, progress=progress)
    executor = PartitionedExecutor(buckets, work_dir, batch_rows)
    with executor.derive(cohort_path, config, options, near=out.parent) as derived:
        t0 = time.perf_counter()
        analysis = finish(derived, config, out, pseudonym_key)
        derived.timings["statistics_write_s"] = time.perf_counter() - t0
    return PartitionedRun(out_dir=out, patients=len(analysis.patients), counts=derived.counts,
                          summary=analysis.summary, excluded=int((analysis.issues["severity"] == "excluded").sum()),
                          timings=derived.timings)


def _partition_and_check(cohort_path, work: Path, config: Config, buckets: int, jobs: int, cut, exclude_invalid: bool,
                         batch_size: int, batch_rows: int | None, pseudonym_key: str | None, progress, timings: dict,
                         derive: bool, exact_cut: bool):
    """Partition pass, file checks, then every bucket validated (and derived when ``derive``):
    (partition, data cut, validation issues in the validator's order, summed counts, bucket infos).
    A fatal file problem raises InvalidCohort."""
    t0 = time.perf_counter()
    kw = {"batch_rows": batch_rows} if batch_rows else {}
    part = partition_cohort(cohort_path, work / "buckets", buckets, jobs=jobs, config=config, **kw)
    timings["partition_s"] = time.perf_counter() - t0
    found_cut = cut is None
    if found_cut and part.data_cut:
        cut = pd.Timestamp(part.data_cut)
    header_issues, header_counts, fatal = _header_check(part, cut, exclude_invalid, config)
    if fatal:
        raise InvalidCohort(cohort_path, header_issues)
    t0 = time.perf_counter()

    may_rerun = exact_cut and found_cut

    def run(cut) -> list[dict]:
        return _run_buckets([_BucketJob(part.root, i, str(work), cut, exclude_invalid, config, batch_size,
                                        pseudonym_key, derive, drop_input=not may_rerun)
                             for i in range(part.buckets)], jobs, progress)

    infos = run(cut)
    if may_rerun:
        # the pass took the latest date of any row; the validator's cut ignores rows with a cell
        # error: when such a row held the latest date, every bucket runs again with the exact cut
        exact = max((i["latest_valid"] for i in infos if pd.notna(i["latest_valid"])), default=None)
        if exact != cut:
            cut = exact
            infos = run(cut)
    timings["buckets_s"] = time.perf_counter() - t0
    checked = validation_issues([header_issues] + [pd.read_pickle(_bucket_path(work, i["index"], "validation"))
                                                   for i in infos])
    return part, cut, checked, _sum_counts([header_counts] + [i["counts"] for i in infos]), infos


def validate_partitioned(cohort_path: str | Path, config: Config | None = None, buckets: int = DEFAULT_BUCKETS,
                         jobs: int = 1, data_cut=None, work_dir: str | Path | None = None,
                         progress=None) -> tuple[pd.DataFrame, dict]:
    """``mrdtrack validate --partitions K`` as a function (``PartitionedExecutor.validate``)."""
    options = RunOptions(data_cut=parse_data_cut(data_cut), jobs=jobs, progress=progress)
    return PartitionedExecutor(buckets, work_dir).validate(cohort_path, config or Config(), options)


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
    AUTO_PARTITION_MIN_ROWS input rows, else one bucket per ROWS_PER_BUCKET rows (at least 2),
    rounded up to a multiple of the cores (``processes.default_jobs``)."""
    path = Path(cohort_path)
    if not path.is_dir():
        return 0
    rows = estimate_input_rows(path)
    if rows < AUTO_PARTITION_MIN_ROWS:
        return 0
    # a multiple of the cores, so that the last round of buckets keeps every worker busy
    cores = default_jobs()
    return max(2, math.ceil(rows / ROWS_PER_BUCKET / cores) * cores)


__all__ = ["AUTO_PARTITION_MIN_ROWS", "DEFAULT_BUCKETS", "ROWS_PER_BUCKET", "BucketOutput", "InvalidCohort",
           "PartitionedExecutor", "PartitionedRun", "analyze_bucket", "analyze_partitioned", "auto_buckets",
           "choose_buckets", "estimate_input_rows", "validate_partitioned", "validation_issues"]
