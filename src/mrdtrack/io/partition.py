"""Partition a registry-size cohort folder into K small cohort folders ("buckets") of whole patients.

One streaming pass over every table (Parquet by record batch, CSV by pyarrow block, every cell as
text), so memory is bounded by the record-batch size, not by the cohort. Buckets are ranges of
patient_id: the patients table's ids (stripped text, as the validator reads them) are sorted and
cut into K ranges of equal size, and each row goes to the range its patient_id falls in. All rows
of a patient therefore land in the same bucket, each bucket is a folder of Arrow IPC
tables (same contract) that can be validated and analysed on its own, and the per-patient outputs
of bucket 0, 1, ... concatenated are already in patient order (no merge). An id that is not in
the patients table (an orphan row, an error the validator reports) goes to the range it sorts
into; a blank patient_id goes to bucket 0. Each bucket table carries ``_source_row``: the row
number the user sees in the original file (CSV line, header = line 1; 1-based Parquet row), so
validation messages on a bucket still name the original row. The same pass computes the global
data cut (the latest date anywhere, docs/data-contract.md) that every bucket must then be
validated against.

A CSV that pyarrow cannot stream (ragged lines, bad UTF-8) is read whole by the project's tolerant
reader (``io.sources.read_csv_table``), exactly as the in-memory path reads it, then partitioned:
correct, but not memory-bounded for that file.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mrdtrack.config import Config
from mrdtrack.errors import UserError
from mrdtrack.io.parse import arrow_text, as_text, parse_date
from mrdtrack.io.sources import (
    _BLOCK_BYTES,
    RawTable,
    arrow_frame,
    clean_header,
    cohort_files,
    csv_header,
    csv_text_options,
    file_issue,
    read_csv_table,
)
from mrdtrack.io.validate import cut_date_columns, latest_valid_date
from mrdtrack.processes import process_pool
from mrdtrack.sorting import group_bounds

#: Column of every bucket table holding the user-visible row number in the original file.
SOURCE_ROW = "_source_row"
MANIFEST = "manifest.json"
DEFAULT_BATCH_ROWS = 262_144
#: With many patients the record batch grows to this many rows per patient (at most MAX_BATCH_ROWS):
#: each batch's ids are looked up in the set of all ids, whose hash table Arrow builds per call.
BATCH_ROWS_PER_PATIENT = 2
MAX_BATCH_ROWS = 4_194_304


class PatientRanges:
    """Bucket of a patient_id: K ranges of equal size of the sorted distinct patient ids."""

    def __init__(self, ids: np.ndarray, buckets: int):
        uniq = np.unique(np.asarray(ids, dtype=object))
        step = max(1, math.ceil(len(uniq) / max(1, buckets)))
        #: first id of buckets 1..K-1 (bucket 0 holds everything sorting before bounds[0])
        self.bounds = uniq[step::step]
        self.uniq = pa.array(uniq.tolist(), type=pa.string())
        self.known = np.searchsorted(self.bounds, uniq, side="right").astype(np.int64)

    @classmethod
    def from_bounds(cls, bounds) -> PatientRanges:
        """The ranges of ``bounds`` (the first id of buckets 1..K-1): the same ``bucket_of`` without
        every id (what a Spark worker is sent)."""
        self = cls.__new__(cls)
        self.bounds = np.asarray(list(bounds), dtype=object)
        self.uniq = pa.array(list(self.bounds), type=pa.string())
        self.known = np.arange(1, len(self.bounds) + 1, dtype=np.int64)
        return self

    def bucket_of(self, patient_ids: pd.Series) -> np.ndarray:
        """Bucket (0..K-1) of each patient_id (stripped text, as the validator reads it); blank -> 0."""
        text = as_text(patient_ids.reset_index(drop=True))
        return self._buckets(pa.array(text.astype(object).where(text.notna(), None).tolist(), type=pa.string()))

    def bucket_of_arrow(self, patient_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """``bucket_of`` on an Arrow column; text columns are looked up in Arrow (no Python objects)."""
        if not pa.types.is_string(patient_ids.type) and not pa.types.is_large_string(patient_ids.type):
            return self.bucket_of(pd.Series(patient_ids.to_pandas()))
        text = pc.utf8_trim_whitespace(patient_ids)
        return self._buckets(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text))

    def _buckets(self, text: pa.Array) -> np.ndarray:
        # position among the known ids, -1 for none (missing or unknown): taken from known + [0]
        idx = pc.fill_null(pc.index_in(text, value_set=self.uniq), -1).to_numpy(zero_copy_only=False)
        out = np.append(self.known, 0)[idx]
        unknown = (idx < 0) & pc.is_valid(text).to_numpy(zero_copy_only=False)
        if unknown.any():  # ids missing from the patients table: the range they sort into
            values = np.asarray(text.filter(pa.array(unknown)).to_pylist(), dtype=object)
            out[unknown] = np.searchsorted(self.bounds, values, side="right")
        return out


def patient_ids_of(path: Path) -> np.ndarray:
    """The stripped patient ids of a patients table file (csv or parquet); empty when unreadable.

    An unreadable file is reported by the partition pass itself; here it only means one range.
    """
    try:
        if path.suffix == ".parquet":
            pf = pq.ParquetFile(path)
            col = [f.name for f in pf.schema_arrow if str(f.name).strip() == "patient_id"]
            frame = arrow_frame(pf.read(columns=col[:1])) if col else None
        else:
            raw, _ = read_csv_table(path, "patients")
            frame = raw.frame if raw is not None else None
    except Exception:  # noqa: BLE001 - any unreadable file: reported by the pass, not here
        return np.array([], dtype=object)
    if frame is None or not len(frame.columns):
        return np.array([], dtype=object)
    frame.columns = [str(c).strip() for c in frame.columns]
    if "patient_id" not in frame.columns:
        return np.array([], dtype=object)
    return as_text(frame["patient_id"]).dropna().astype(object).to_numpy()


def _distinct(s: pd.Series) -> pd.Series:
    """The distinct cells of a column (Arrow text: by Arrow's hash, far faster than pandas' here)."""
    arr = arrow_text(s)
    if arr is not None:
        return pd.Series(pc.unique(arr).to_pandas(types_mapper=pd.ArrowDtype)).astype(s.dtype)
    return s.drop_duplicates()


def latest_date(name: str, frame: pd.DataFrame, rows: np.ndarray, file: str, config: Config | None) -> pd.Timestamp:
    """Latest date of one chunk of a table, the way the validator picks the default data cut.

    With ``config`` (exact): dates of rows with any cell error are ignored, as the validator does
    (its row-local checks are run on the chunk). Without: every date cell that parses counts,
    which differs only when the latest-dated row carries an error in another cell.
    """
    if config is not None:
        return latest_valid_date(RawTable(name, frame, rows, file), config)
    latest = pd.NaT
    for c in cut_date_columns(name):
        if c in frame.columns:
            d, _, reason = parse_date(_distinct(frame[c]))
            d = d[reason.isna().to_numpy()].dropna()
            if len(d):
                latest = d.max() if pd.isna(latest) else max(latest, d.max())
    return latest


@dataclass
class Partition:
    """What the partition pass wrote: bucket folders, the global data cut, per-table facts."""

    root: str
    buckets: int
    data_cut: str | None  # ISO date, or None when the cohort has no valid date
    tables: dict = field(default_factory=dict)  # name -> {"file", "rows", "columns"}
    sources: dict = field(default_factory=dict)  # name -> {"path", "sha256"} of the original files
    file_issues: list = field(default_factory=list)  # file-level problems (each fatal, as in read_cohort)

    def bucket_dir(self, i: int) -> Path:
        return Path(self.root) / f"bucket-{i:04d}"

    def save(self) -> None:
        (Path(self.root) / MANIFEST).write_text(json.dumps(asdict(self), indent=1, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, root: str | Path) -> Partition:
        return cls(**json.loads((Path(root) / MANIFEST).read_text(encoding="utf-8")))


class _BucketWriter:
    """One table's K Arrow IPC files (uncompressed: written and read back at memory speed), opened
    lazily; empty buckets get an empty file with the schema."""

    def __init__(self, part: Partition, name: str, piece: int = 0):
        self.part, self.name, self.piece = part, name, piece
        self.writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
        self.schema: pa.Schema | None = None

    def path(self, i: int) -> Path:
        return bucket_file(self.part, i, self.name, self.piece)

    def write(self, batch: pa.RecordBatch, buckets: np.ndarray) -> None:
        if self.schema is None:
            self.schema = batch.schema
        batch = batch.cast(self.schema) if batch.schema != self.schema else batch
        order, bounds = group_bounds(buckets, self.part.buckets)
        grouped = batch.take(pa.array(order))
        for i in np.flatnonzero(np.diff(bounds)):
            if i not in self.writers:
                self.writers[i] = pa.ipc.new_file(self.path(i), self.schema)
            self.writers[i].write_batch(grouped.slice(bounds[i], bounds[i + 1] - bounds[i]))

    def close(self, fallback_schema: pa.Schema) -> None:
        for w in self.writers.values():
            w.close()
        schema = self.schema or fallback_schema
        for i in range(self.part.buckets):
            if i not in self.writers:
                with pa.ipc.new_file(self.path(i), schema):
                    pass

    def discard(self) -> None:
        for w in self.writers.values():
            w.close()
        for i in self.writers:
            self.path(i).unlink(missing_ok=True)
        self.writers, self.schema = {}, None


def bucket_file(part: Partition, i: int, name: str, piece: int = 0) -> Path:
    """Bucket ``i``'s file of table ``name`` (Arrow IPC) written by partition worker ``piece``."""
    return part.bucket_dir(i) / f"{name}.{piece}.arrow"


def read_bucket_table(part: Partition, i: int, name: str) -> pa.Table:
    """Bucket ``i``'s rows of table ``name`` as Arrow, with ``_source_row``, in file order.

    Worker ``k`` of a parallel pass read the k-th run of consecutive row groups, so its pieces
    appended in ``k`` order keep the original row order.
    """
    pieces = []
    for k in range(part.tables[name].get("pieces", 1)):
        with pa.memory_map(str(bucket_file(part, i, name, k))) as source:
            pieces.append(pa.ipc.open_file(source).read_all())
    return pa.concat_tables(pieces) if len(pieces) > 1 else pieces[0]


def _with_rows(batch: pa.RecordBatch, names: list[str], rows: np.ndarray) -> pa.RecordBatch:
    arrays = list(batch.columns) + [pa.array(rows, type=pa.int64())]
    return pa.RecordBatch.from_arrays(arrays, names=names + [SOURCE_ROW])


def _blank_rows(batch: pa.RecordBatch) -> np.ndarray:
    """Rows whose every cell is empty after stripping (the in-memory reader drops them)."""
    blank = None
    for col in batch.columns:
        b = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(col), ""), True)
        blank = b if blank is None else pc.and_(blank, b)
    return np.zeros(batch.num_rows, dtype=bool) if blank is None else blank.to_numpy(zero_copy_only=False)


def _spans_lines(batch: pa.RecordBatch) -> bool:
    """A cell holds a line break (a quoted newline): the batch's record numbers are then not the
    line numbers a user sees, so the file is read by the line-counting reader instead, exactly as
    the in-memory reader does (``io.sources.read_csv_table``)."""
    return any(pc.any(pc.match_substring_regex(col, "[\r\n]")).as_py() for col in batch.columns)


class _Pass:
    """State of one partition pass: writers, data cut, facts."""

    def __init__(self, part: Partition, cut_config: Config | None, ranges: PatientRanges):
        #: cut_config: the configuration of the validator's row checks for an exact data cut, or None
        self.part, self.cut_config, self.ranges = part, cut_config, ranges
        self.cut = pd.NaT

    def feed(self, name: str, file: str, writer: _BucketWriter, batch: pa.RecordBatch, names: list[str],
             rows: np.ndarray) -> int:
        dates = cut_date_columns(name)
        keep = list(range(len(names))) if self.cut_config else [i for i, n in enumerate(names) if n in dates]
        frame = arrow_frame(pa.RecordBatch.from_arrays([batch.column(i) for i in keep], names=[f"c{i}" for i in keep]))
        frame.columns = [names[i] for i in keep]
        latest = latest_date(name, frame, rows, file, self.cut_config)
        if pd.notna(latest):
            self.cut = latest if pd.isna(self.cut) else max(self.cut, latest)
        if "patient_id" in names:
            buckets = self.ranges.bucket_of_arrow(batch.column(names.index("patient_id")))
        else:
            buckets = np.zeros(batch.num_rows, dtype=np.int64)
        writer.write(_with_rows(batch, names, rows), buckets)
        return len(rows)

    def csv(self, name: str, path: Path, batch_rows: int) -> None:
        header, problem = csv_header(path)
        if problem:
            self.part.file_issues.append(file_issue(path.name, name, problem))
            return
        names = clean_header(header)
        writer = _BucketWriter(self.part, name)
        schema = pa.schema([(n, pa.string()) for n in names] + [(SOURCE_ROW, pa.int64())])
        n_rows = 0
        try:
            reader = pacsv.open_csv(path, **csv_text_options(header, min(_BLOCK_BYTES, max(1 << 20, batch_rows * 64))))
            line = 2
            for batch in reader:
                if _spans_lines(batch):
                    raise ValueError("a quoted cell spans lines: record numbers are not line numbers")
                rows = np.arange(line, line + batch.num_rows, dtype=np.int64)
                line += batch.num_rows
                keep = ~_blank_rows(batch)
                if not keep.all():
                    batch, rows = batch.filter(pa.array(keep)), rows[keep]
                if batch.num_rows:
                    n_rows += self.feed(name, path.name, writer, batch, names, rows)
        except (pa.ArrowInvalid, pa.ArrowException, ValueError):
            writer.discard()
            n_rows = self._csv_whole(name, path, writer)
            if n_rows is None:
                return
        writer.close(schema)
        self.part.tables[name] = {"file": path.name, "rows": n_rows, "columns": names}

    def _csv_whole(self, name: str, path: Path, writer: _BucketWriter) -> int | None:
        """The tolerant in-memory reader, for CSV files pyarrow cannot stream."""
        raw, issues = read_csv_table(path, name)
        self.part.file_issues.extend(issues)
        if raw is None:
            return None
        names = list(raw.frame.columns)
        table = pa.Table.from_pandas(raw.frame.astype(object).where(raw.frame.notna(), None), preserve_index=False,
                                     schema=pa.schema([(n, pa.string()) for n in names]))
        if table.num_rows:
            batch = table.combine_chunks().to_batches()[0]
            self.feed(name, path.name, writer, batch, names, np.asarray(raw.rows, dtype=np.int64))
        return int(len(raw.rows))

    def parquet_runs(self, name: str, path: Path, batch_rows: int, jobs: int = 1) -> list[_ParquetRun]:
        """A Parquet table's runs of consecutive row groups (at most ``jobs``, of about equal rows),
        each partitioned by one process into its own bucket files (``parquet_tables``); none, and a
        file problem reported, when the file cannot be opened."""
        try:
            pf = pq.ParquetFile(path)
            sizes = [pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups)]
        except Exception as exc:  # any corrupt or foreign file: report, never crash (as io.sources does)
            self._unreadable(name, path, exc, 0)
            return []
        return [_ParquetRun(self.part.root, self.part.buckets, name, str(path), groups, first, k, self.cut_config,
                            batch_rows, sum(sizes[g] for g in groups))
                for k, (groups, first) in enumerate(_row_group_runs(sizes, jobs))]

    def parquet_tables(self, tables: list[tuple[str, Path]], batch_rows: int, jobs: int = 1) -> None:
        """Parquet tables partitioned: every table's runs in one pool of ``jobs`` processes, the
        largest runs first, so that the small tables fill a core the large one leaves idle."""
        runs = {name: self.parquet_runs(name, path, batch_rows, jobs) for name, path in tables}
        tasks = sorted((t for rs in runs.values() for t in rs), key=lambda t: -t.rows)
        if jobs > 1 and len(tasks) > 1:
            with process_pool(min(jobs, len(tasks)), initializer=_set_ranges, initargs=(self.ranges,)) as pool:
                futures = {(t.name, t.piece): pool.submit(_partition_parquet_run, t) for t in tasks}
                results = {key: _outcome(f.result) for key, f in futures.items()}
        else:
            _set_ranges(self.ranges)
            results = {(t.name, t.piece): _outcome(lambda t=t: _partition_parquet_run(t)) for t in tasks}
        for name, path in tables:
            if runs[name]:
                self._parquet_done(name, path, [results[(name, t.piece)] for t in runs[name]])

    def _parquet_done(self, name: str, path: Path, done: list) -> None:
        failed = [r for r in done if isinstance(r, Exception)]
        if failed:
            self._unreadable(name, path, failed[0], len(done))
            return
        for _, _, cut in done:
            if cut is not None and (pd.isna(self.cut) or pd.Timestamp(cut) > self.cut):
                self.cut = pd.Timestamp(cut)
        self.part.tables[name] = {"file": path.name, "rows": sum(n for _, n, _ in done), "columns": done[0][0],
                                  "pieces": len(done)}

    def _unreadable(self, name: str, path: Path, exc: Exception, pieces: int) -> None:
        """A Parquet file that cannot be read: its bucket files removed, the file problem reported."""
        for k in range(pieces):
            for i in range(self.part.buckets):
                bucket_file(self.part, i, name, k).unlink(missing_ok=True)
        self.part.file_issues.append(file_issue(path.name, name, f"not a readable Parquet file ({type(exc).__name__})"))


def _outcome(call):
    """``call()``'s result, or the exception it raised (a table's failed run is reported, not raised)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - any corrupt or foreign file: reported per table
        return exc


def _row_group_runs(sizes: list[int], jobs: int) -> list[tuple[list[int], int]]:
    """Row groups cut into at most ``jobs`` runs of consecutive groups of about equal rows:
    [(group indices, 0-based index of the run's first row)]; one run (maybe empty) at least."""
    total = sum(sizes)
    if jobs <= 1 or len(sizes) <= 1 or total == 0:
        return [(list(range(len(sizes))), 0)]
    runs: list[tuple[list[int], int]] = []
    start, acc = 0, 0
    target = total / jobs
    for g, n in enumerate(sizes):
        if not runs or (acc >= target * len(runs) and len(runs) < jobs):
            runs.append(([], start))
        runs[-1][0].append(g)
        acc += n
        start += n
    return runs


@dataclass(frozen=True)
class _ParquetRun:
    root: str
    buckets: int
    name: str
    path: str
    groups: list
    first_row: int
    piece: int
    cut_config: Config | None
    batch_rows: int
    rows: int = 0  # rows of its row groups


_RANGES: PatientRanges | None = None


def _set_ranges(ranges: PatientRanges) -> None:
    global _RANGES
    _RANGES = ranges


def _partition_parquet_run(run: _ParquetRun) -> tuple[list[str], int, str | None]:
    """Partition one run of row groups: (column names, rows, latest date as ISO text or None)."""
    part = Partition(root=run.root, buckets=run.buckets, data_cut=None)
    state = _Pass(part, run.cut_config, _RANGES)
    pf = pq.ParquetFile(run.path)
    # a pandas index stored as a column is not a table column (pq.read_table drops it too)
    index = [c for c in (pf.schema_arrow.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
    fields = [f for f in pf.schema_arrow if f.name not in index]
    names = [str(f.name).strip() for f in fields]
    schema = pa.schema([f.with_name(n) for f, n in zip(fields, names)] + [(SOURCE_ROW, pa.int64())])
    writer = _BucketWriter(part, run.name, run.piece)
    n_rows = 0
    try:
        if run.groups:
            for batch in pf.iter_batches(batch_size=run.batch_rows, row_groups=run.groups,
                                         columns=[f.name for f in fields]):
                first = run.first_row + n_rows + 1
                rows = np.arange(first, first + batch.num_rows, dtype=np.int64)
                n_rows += state.feed(run.name, Path(run.path).name, writer, batch, names, rows)
    except Exception:
        writer.discard()
        raise
    writer.close(schema)
    cut = None if pd.isna(state.cut) else pd.Timestamp(state.cut).isoformat()
    return names, n_rows, cut


def partition_cohort(cohort_path: str | Path, out_dir: str | Path, buckets: int,
                     batch_rows: int | None = None, exact_cut: bool = False, jobs: int = 1,
                     config: Config | None = None) -> Partition:
    """Stream every table of a cohort folder into ``buckets`` bucket folders under ``out_dir``.

    Returns (and saves as ``out_dir/manifest.json``) the Partition: the global data cut, each
    table's original file name and row count, the original files' SHA-256 (provenance), and the
    file-level problems (unreadable file, both csv and parquet present), each fatal as in
    ``read_cohort``. ``exact_cut`` makes the data cut ignore rows with cell errors, exactly as the
    validator does with ``config`` (costs a full parse of every cell). ``out_dir`` is emptied first. ``jobs``:
    processes reading the Parquet tables, each table's row groups cut into at most ``jobs`` runs
    (CSV is read by the main process). ``batch_rows``:
    rows per record batch (memory of the pass); default DEFAULT_BATCH_ROWS, or
    BATCH_ROWS_PER_PATIENT per patient when that is more (at most MAX_BATCH_ROWS).
    """
    path = Path(cohort_path)
    if not path.is_dir():
        raise UserError(f"cohort '{path}' is not a folder of tables (the partitioned path reads folders only)")
    if buckets < 1:
        raise UserError("buckets must be at least 1")
    root = Path(out_dir)
    if root.exists():
        shutil.rmtree(root)
    part = Partition(root=str(root), buckets=int(buckets), data_cut=None)
    for i in range(buckets):
        part.bucket_dir(i).mkdir(parents=True)
    files, part.sources, part.file_issues = cohort_files(path)
    ids = patient_ids_of(files["patients"]) if "patients" in files else np.array([], dtype=object)
    state = _Pass(part, (config or Config()) if exact_cut else None, PatientRanges(ids, buckets))
    if batch_rows is None:
        batch_rows = min(MAX_BATCH_ROWS, max(DEFAULT_BATCH_ROWS, BATCH_ROWS_PER_PATIENT * len(ids)))
    for name, p in files.items():
        if p.suffix == ".csv":
            state.csv(name, p, batch_rows)
    state.parquet_tables([(name, p) for name, p in files.items() if p.suffix != ".csv"], batch_rows, jobs)
    part.tables = {name: part.tables[name] for name in files if name in part.tables}  # in file order
    part.data_cut = None if pd.isna(state.cut) else pd.Timestamp(state.cut).strftime("%Y-%m-%d")
    part.save()
    return part


def load_bucket(part: Partition, i: int) -> dict[str, RawTable]:
    """The raw tables of bucket ``i`` with their original row numbers and file names (for check_tables)."""
    out: dict[str, RawTable] = {}
    for name, facts in part.tables.items():
        table = read_bucket_table(part, i, name)
        rows = table.column(SOURCE_ROW).to_numpy().astype(np.int64)
        frame = arrow_frame(table.drop_columns([SOURCE_ROW]))
        frame.columns = facts["columns"]
        out[name] = RawTable(name, frame.reset_index(drop=True), rows, facts["file"])
    return out
