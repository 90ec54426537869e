"""The Spark executor (``--engine spark``, docs/spark.md): the same buckets of whole patients as the
partitioned executor, validated and derived on Spark workers.

1. Spark reads every table of a cohort folder of Parquet files (a local path or any URI the
   cluster reads); each row keeps its source row number (``_metadata.row_index`` + 1, as the
   native Parquet reader counts).
2. The patients table's ids (one row per patient) come to the driver and are cut into K ranges
   (``io.partition.PatientRanges``); each row gets its patient's range (``_bucket``). The default
   data cut (the latest valid date anywhere) is one more pass over the rows (``mapInArrow``).
3. ``groupBy("_bucket").applyInArrow``: each bucket (the rows of all tables, put back in file
   order) goes through the same ``partitioned.analyze_bucket`` as on one machine: validation
   against the global data cut, then ``pipeline.derive_all``. A patient's rows all share one
   bucket, so the global checks (orphan ids, duplicate patients) see everything they need.
4. The driver collects, bucket by bucket, the per-patient tables and each bucket's formatted rows
   of ``assessments.csv`` (written to a local work folder in bucket = patient order).

CSV tables are refused: Spark's CSV reader cannot give the line a row came from, and every
problem must name it.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import TABLES
from mrdtrack.errors import InvalidCohort, UserError
from mrdtrack.executors.base import Derived, RowPieces, RunOptions
from mrdtrack.executors.spark_session import SparkOptions, spark_errors, spark_session

#: Patients per bucket when ``--partitions`` does not say (at least two buckets per core).
PATIENTS_PER_BUCKET = 2500
RESULT_SCHEMA = "bucket int, kind string, payload binary"


@dataclass(frozen=True)
class TableLayout:
    """Where one table's columns sit in the rows Spark hands a bucket."""

    index: int  # value of ``_t`` for this table's rows
    name: str
    file: str
    columns: tuple  # ((Spark column, contract column name), ...)


def is_local(uri: str) -> bool:
    scheme = urlparse(str(uri)).scheme
    return scheme in ("", "file") or len(scheme) == 1  # a Windows drive letter is a local path


def _local_path(uri: str) -> Path:
    return Path(urlparse(uri).path) if str(uri).startswith("file:") else Path(uri)


def _index_columns(path: Path) -> list[str]:
    """A pandas index stored as a column is not a table column (the native reader drops it too)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).schema_arrow.pandas_metadata or {}
    return [c for c in meta.get("index_columns", []) if isinstance(c, str)]


def _source_files(spark, cohort: str) -> tuple[dict, dict, list[dict], dict]:
    """({table: Spark DataFrame with ``_row``}, provenance, file issues, {table: file name})."""
    from mrdtrack.io.sources import cohort_files, file_issue

    frames, names = {}, {}
    if is_local(cohort):
        folder = _local_path(cohort)
        if not folder.is_dir():
            raise UserError(f"cohort '{cohort}' is not a folder of Parquet tables (--engine spark reads folders only)")
        files, sources, issues = cohort_files(folder)
        csv = [p.name for p in files.values() if p.suffix == ".csv"]
        if csv:
            raise UserError(f"--engine spark reads Parquet tables only, and {', '.join(csv)} is CSV: Spark's CSV "
                            "reader cannot give the line a row came from, which every problem must name. Convert "
                            "the folder to Parquet or use --engine native")
        for name, p in files.items():
            try:
                drop = _index_columns(p)
            except Exception as exc:  # noqa: BLE001 - reported as the native reader reports it
                issues.append(file_issue(p.name, name, f"not a readable Parquet file ({type(exc).__name__})"))
                sources.pop(name, None)
                continue
            frames[name], names[name] = _read(spark, str(p.resolve()), drop), p.name
        return frames, sources, issues, names
    sources: dict = {}
    for name in TABLES:
        uri = f"{str(cohort).rstrip('/')}/{name}.parquet"
        try:
            frames[name] = _read(spark, uri, [])
        except Exception as exc:  # noqa: BLE001 - a table that is not there: the header check reports it
            if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
                raise
            continue
        names[name] = f"{name}.parquet"
        sources[name] = {"path": uri, "sha256": None}  # not computed for remote files (docs/spark.md)
    return frames, sources, [], names


def _read(spark, uri: str, drop: list[str]):
    from pyspark.sql import functions as F

    df = spark.read.parquet(uri)
    cols = [c for c in df.columns if c not in drop]
    return df.select(*[F.col(f"`{c}`") for c in cols], (F.col("_metadata.row_index") + 1).alias("_row"))


def _layouts(frames: dict, names: dict) -> list[TableLayout]:
    """Each table's layout; its Spark columns renamed in ``frames`` (``t<table>c<column>``, ``_row``)."""
    out = []
    for ti, (name, df) in enumerate(list(frames.items())):
        cols = [c for c in df.columns if c != "_row"]
        out.append(TableLayout(ti, name, names[name], tuple((f"t{ti}c{j}", str(c).strip()) for j, c in enumerate(cols))))
        frames[name] = df.toDF(*[s for s, _ in out[-1].columns], "_row")
    return out


def _header(layouts: list[TableLayout], sources: dict, issues: list[dict], cut, exclude_invalid: bool,
            config: Config):
    """File- and table-level problems, found before any row is read (``partitioned._header_check``)."""
    from mrdtrack.executors.partitioned import _header_check
    from mrdtrack.io.partition import Partition

    part = Partition(root="", buckets=0, data_cut=None, sources=sources, file_issues=issues,
                     tables={t.name: {"file": t.file, "columns": [c for _, c in t.columns]} for t in layouts})
    return _header_check(part, cut, exclude_invalid, config)


def _patient_ids(df, layout: TableLayout) -> np.ndarray:
    """The stripped patient ids of the patients table (one row per patient, to the driver)."""
    from mrdtrack.io.parse import as_text
    from mrdtrack.io.sources import arrow_frame

    spark_col = dict((c, s) for s, c in layout.columns)["patient_id"]
    frame = arrow_frame(df.select(spark_col).toArrow())
    return as_text(frame[spark_col]).dropna().astype(object).to_numpy()


def bucket_column(pid, bounds: list[str]):
    """The Spark expression of ``io.partition.PatientRanges.bucket_of``: the range a patient id
    falls in (the number of ``bounds`` at or below the stripped id; blank -> 0), by binary search."""
    from pyspark.sql import functions as F

    text = F.regexp_replace(pid.cast("string"), r"(?U)^\s+|\s+$", "")

    def search(lo: int, hi: int):
        if lo == hi:
            return F.lit(lo)
        mid = (lo + hi + 1) // 2
        return F.when(text >= F.lit(bounds[mid - 1]), search(mid, hi)).otherwise(search(lo, mid - 1))

    return F.when(text.isNull() | (text == ""), F.lit(0)).otherwise(search(0, len(bounds))).cast("int")


def _raw_table(table, layout: TableLayout):
    """One table's rows of a batch or bucket as a RawTable, in source row order."""
    from mrdtrack.io.sources import RawTable, arrow_frame

    sub = table.select([s for s, _ in layout.columns] + ["_row"]).sort_by("_row")
    frame = arrow_frame(sub.drop_columns(["_row"]))
    frame.columns = [c for _, c in layout.columns]
    rows = sub.column("_row").to_numpy().astype(np.int64)
    return RawTable(layout.name, frame.reset_index(drop=True), rows, layout.file)


def _cut_mapper(layouts: tuple, config: Config):
    """mapInArrow function over every table's rows: the latest valid date of each batch and table
    (as the validator picks the default data cut, ``io.validate.latest_valid_date``)."""
    def fn(batches):
        import pyarrow as pa
        import pyarrow.compute as pc

        from mrdtrack.io.validate import cut_date_columns, latest_valid_date

        for b in batches:
            table = pa.Table.from_batches([b])
            latest = []
            for t in layouts:
                if not any(c in cut_date_columns(t.name) for _, c in t.columns):
                    continue
                rows = table.filter(pc.equal(table.column("_t"), t.index))
                if rows.num_rows:
                    d = latest_valid_date(_raw_table(rows, t), config)
                    latest += [] if pd.isna(d) else [d.strftime("%Y-%m-%d")]
            yield pa.RecordBatch.from_arrays([pa.array(latest, pa.string())], names=["latest"])
    return fn


def _data_cut(wide, layouts: list[TableLayout], config: Config) -> pd.Timestamp | None:
    """The default data cut: the latest valid date anywhere (one pass over the rows)."""
    latest = [r["latest"] for r in wide.mapInArrow(_cut_mapper(tuple(layouts), config), "latest string").collect()]
    return pd.Timestamp(max(latest)) if latest else None


def _bucketed(frames: dict, layouts: list[TableLayout], bounds: list[str]):
    """Every table's rows in one DataFrame: the tables' own columns, ``_row``, ``_t`` (table) and
    ``_bucket`` (the patient's range)."""
    from pyspark.sql import functions as F

    wide = None
    for t in layouts:
        df = frames[t.name]
        pid = dict((c, s) for s, c in t.columns).get("patient_id")
        df = df.withColumn("_bucket", bucket_column(F.col(pid), bounds) if pid else F.lit(0))
        df = df.withColumn("_t", F.lit(t.index).cast("int"))
        wide = df if wide is None else wide.unionByName(df, allowMissingColumns=True)
    return wide


@dataclass(frozen=True)
class _BucketTask:
    layouts: tuple
    data_cut: pd.Timestamp | None
    exclude_invalid: bool
    config: Config
    batch_size: int
    pseudonym_key: str | None
    derive: bool

    def run(self, key, table):
        """applyInArrow function: one bucket of whole patients in, its results out (kind, payload)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from mrdtrack.executors.partitioned import analyze_bucket
        from mrdtrack.io.outputs import write_csv
        from mrdtrack.processes import WORKER_KEEP_BYTES, release_memory

        bucket = key[0].as_py()
        raw = {t.name: _raw_table(table.filter(pc.equal(table.column("_t"), t.index)), t) for t in self.layouts}
        out = analyze_bucket(raw, self.data_cut, self.exclude_invalid, self.config, self.batch_size,
                             self.pseudonym_key, self.derive)
        meta = {"ok": out.ok, "counts": out.counts, "patients": out.patients,
                "assessments": 0 if out.assessments is None else len(out.assessments)}
        kinds = [("meta", json.dumps(meta).encode()), ("validation", pickle.dumps(out.validation, protocol=5))]
        kinds += [(f"frame:{k}", pickle.dumps(v, protocol=5)) for k, v in out.frames.items()]
        if out.assessments is not None:
            text = io.StringIO()
            write_csv(out.assessments, text, header=False)
            kinds.append(("assessments", text.getvalue().encode("utf-8")))
        result = pa.table({"bucket": pa.array([bucket] * len(kinds), pa.int32()), "kind": [k for k, _ in kinds],
                           "payload": pa.array([p for _, p in kinds], pa.binary())})
        del out, raw, kinds
        release_memory(above=WORKER_KEEP_BYTES)  # a reused Python worker stays at about one bucket's size
        return result


def _run_buckets(wide, buckets: int, task: _BucketTask, work: Path | None) -> dict:
    """Every bucket through ``task`` on the cluster: {bucket: {kind: payload}}; the assessments
    rows are written to ``work`` as they arrive (their payload: the file's path)."""
    from pyspark import StorageLevel

    def per_bucket(key, table):
        return task.run(key, table)

    result = wide.repartition(buckets, "_bucket").groupBy("_bucket").applyInArrow(per_bucket, RESULT_SCHEMA)
    result = result.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        result.count()  # every bucket computed in parallel, then read back one partition at a time
        out: dict = {}
        for row in result.toLocalIterator():
            payload = bytes(row["payload"])
            if row["kind"] == "assessments":
                path = work / f"assessments-{row['bucket']:05d}.csv"
                path.write_bytes(payload)
                payload = path
            out.setdefault(row["bucket"], {})[row["kind"]] = payload
        return out
    finally:
        result.unpersist()


class SparkExecutor:
    """``executors.base.Executor`` on Apache Spark (a SparkSession started from SparkOptions, or given)."""

    name = "spark"

    def __init__(self, spark: SparkOptions | object | None = None, buckets: int | None = None):
        self.options = spark if isinstance(spark, SparkOptions) else SparkOptions(session=spark) if spark else \
            SparkOptions()
        self.buckets = buckets or None

    @contextmanager
    def derive(self, cohort_path, config: Config, options: RunOptions) -> Iterator[Derived]:
        work = Path(tempfile.mkdtemp(prefix=".mrdtrack-spark-"))
        try:
            with spark_session(self.options) as (spark, log), spark_errors(log):
                run = self._run(spark, str(cohort_path), config, options, derive=True, work=work)
                if not run["ok"] or (run["validation"]["severity"] == "error").any():
                    raise InvalidCohort(cohort_path, run["validation"])
                yield self._derived(run)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def validate(self, cohort_path, config: Config, options: RunOptions) -> tuple[pd.DataFrame, dict]:
        with spark_session(self.options) as (spark, log), spark_errors(log):
            try:
                run = self._run(spark, str(cohort_path), config, RunOptions(data_cut=options.data_cut), derive=False,
                                work=None)
            except InvalidCohort as err:
                return err.issues, {}
            return run["validation"], run["counts"]

    def _run(self, spark, cohort: str, config: Config, options: RunOptions, derive: bool, work: Path | None) -> dict:
        """Read, check the headers, bucket, run every bucket; the results gathered on the driver."""
        from pyspark import StorageLevel

        from mrdtrack.executors.partitioned import _sum_counts, validation_issues
        from mrdtrack.io.partition import PatientRanges

        frames, sources, file_issues, names = _source_files(spark, cohort)
        layouts = _layouts(frames, names)
        header, header_counts, fatal = _header(layouts, sources, file_issues, options.data_cut,
                                               options.exclude_invalid, config)
        if fatal:
            raise InvalidCohort(cohort, header)
        ids = _patient_ids(frames["patients"], next(t for t in layouts if t.name == "patients"))
        buckets = self.buckets or max(2 * spark.sparkContext.defaultParallelism,
                                      math.ceil(len(set(ids)) / PATIENTS_PER_BUCKET))
        wide = _bucketed(frames, layouts, [str(b) for b in PatientRanges(ids, buckets).bounds])
        wide = wide.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            cut = options.data_cut if options.data_cut is not None else _data_cut(wide, layouts, config)
            if options.data_cut is None:  # the header's problems again, with the cut in their messages
                header, header_counts, _ = _header(layouts, sources, file_issues, cut, options.exclude_invalid, config)
            task = _BucketTask(tuple(layouts), cut, options.exclude_invalid, config, options.batch_size,
                               options.pseudonym_key, derive)
            results = _run_buckets(wide, buckets, task, work)
        finally:
            wide.unpersist()
        metas = [json.loads(results[b]["meta"]) for b in sorted(results)]
        checked = validation_issues([header] + [pickle.loads(results[b]["validation"]) for b in sorted(results)])
        return {"ok": all(m["ok"] for m in metas), "validation": checked, "results": results, "sources": sources,
                "counts": _sum_counts([header_counts] + [m["counts"] for m in metas]), "data_cut": cut,
                "metas": metas}

    def _derived(self, run: dict) -> Derived:
        from mrdtrack.executors.partitioned import gathered

        order = sorted(run["results"])
        frames: dict[str, list] = {}
        paths = [run["results"][b]["assessments"] for b in order if "assessments" in run["results"][b]]
        for b in order:
            for kind, payload in run["results"][b].items():
                if kind.startswith("frame:"):
                    frames.setdefault(kind[len("frame:"):], []).append(pickle.loads(payload))
        rows = RowPieces(paths, rows=sum(m["assessments"] for m in run["metas"]))
        fields = gathered(frames, rows)
        return Derived(**fields, validation_issues=run["validation"], counts=run["counts"], sources=run["sources"],
                       data_cut=pd.Timestamp(run["data_cut"]) if run["data_cut"] is not None else None)
