"""Partition a registry-size cohort folder into K small cohort folders ("buckets") of whole patients.

One streaming pass over every table (Parquet by record batch, CSV by pyarrow block, every cell as
text), so memory is bounded by the record-batch size, not by the cohort. Each row goes to bucket
``stable_hash(patient_id) mod K``; all rows of a patient therefore land in the same bucket, and
each bucket is a valid cohort folder of Parquet tables (same contract) that can be validated and
analysed on its own. Each bucket table carries ``_source_row``: the row number the user sees in
the original file (CSV line, header = line 1; 1-based Parquet row), so validation messages on a
bucket still name the original row. The same pass computes the global data cut (the latest date
anywhere, spec/data-contract.md) that every bucket must then be validated against.

The hash is SipHash-2-4 with a fixed key over the UTF-8 patient_id (``pandas.util.hash_array``),
the same on every run and machine. patient_id is normalised as the validator reads it (stripped
text); a blank patient_id goes to bucket 0.

A CSV that pyarrow cannot stream (ragged lines, bad UTF-8) is read whole by the project's tolerant
reader (``io.sources.read_csv_table``), exactly as the in-memory path reads it, then partitioned:
correct, but not memory-bounded for that file.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mrdtrack.contract import TABLES
from mrdtrack.errors import UserError
from mrdtrack.io import validate as _validate
from mrdtrack.io.parse import as_text, parse_date
from mrdtrack.io.sources import (
    _BLOCK_BYTES,
    _SNIFF_BYTES,
    STRING,
    RawTable,
    _header,
    _header_problem,
    _sniff_problem,
    file_issue,
    read_csv_table,
    sha256_of,
)

#: Column of every bucket table holding the user-visible row number in the original file.
SOURCE_ROW = "_source_row"
MANIFEST = "manifest.json"
DEFAULT_BATCH_ROWS = 262_144
_HASH_KEY = "0123456789123456"  # SipHash key: fixed so bucket assignment never changes


def bucket_of(patient_ids: pd.Series, buckets: int) -> np.ndarray:
    """Bucket (0..buckets-1) of each patient_id: stable SipHash of the stripped text, mod ``buckets``."""
    text = as_text(patient_ids.reset_index(drop=True))
    out = np.zeros(len(text), dtype=np.int64)
    known = text.notna().to_numpy()
    if known.any():
        values = text[known].astype(object).to_numpy()
        h = pd.util.hash_array(values, encoding="utf8", hash_key=_HASH_KEY, categorize=True)
        out[known] = (h % np.uint64(buckets)).astype(np.int64)
    return out


def to_frame(data: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """Arrow data as pandas, exactly as the in-memory Parquet reader converts it (text, naive dates)."""
    df = data.to_pandas(types_mapper={pa.string(): STRING, pa.large_string(): STRING}.get, date_as_object=False)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.DatetimeTZDtype):
            df[c] = df[c].dt.tz_localize(None)
    return df


def latest_date(name: str, frame: pd.DataFrame, rows: np.ndarray, file: str, exact: bool) -> pd.Timestamp:
    """Latest date of one chunk of a table, the way the validator picks the default data cut.

    ``exact``: dates of rows with any cell error are ignored, as the validator does (its own
    row-local checks are run on the chunk). Otherwise every date cell that parses counts, which
    differs only when the latest-dated row carries an error in another cell.
    """
    if exact:
        t = _validate._Table(RawTable(name, frame, rows, file))
        if _validate._check_columns(t):
            return pd.NaT
        _validate._parse_columns(t)
        if name == "labs":
            _validate._parse_lab_values(t)
        if name == "mrd":
            _validate._mrd_level_rule(t)
        return _validate._latest_date({name: t})
    cols = ("diagnosis_date",) if name == "patients" else _validate.DATE_COLUMNS.get(name, ())
    latest = pd.NaT
    for c in cols:
        if c in frame.columns:
            d, _, reason = parse_date(frame[c])
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
    """One table's K Parquet writers, opened lazily; empty buckets get an empty file with the schema."""

    def __init__(self, part: Partition, name: str):
        self.part, self.name = part, name
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.schema: pa.Schema | None = None

    def path(self, i: int) -> Path:
        return self.part.bucket_dir(i) / f"{self.name}.parquet"

    def write(self, batch: pa.RecordBatch, buckets: np.ndarray) -> None:
        if self.schema is None:
            self.schema = batch.schema
        batch = batch.cast(self.schema) if batch.schema != self.schema else batch
        order = np.argsort(buckets, kind="stable")
        bounds = np.searchsorted(buckets[order], np.arange(self.part.buckets + 1))
        for i in np.flatnonzero(np.diff(bounds)):
            if i not in self.writers:
                self.writers[i] = pq.ParquetWriter(self.path(i), self.schema)
            self.writers[i].write_batch(batch.take(pa.array(order[bounds[i]:bounds[i + 1]])))

    def close(self, fallback_schema: pa.Schema) -> None:
        for w in self.writers.values():
            w.close()
        schema = self.schema or fallback_schema
        for i in range(self.part.buckets):
            if i not in self.writers:
                pq.write_table(schema.empty_table(), self.path(i))

    def discard(self) -> None:
        for w in self.writers.values():
            w.close()
        for i in self.writers:
            self.path(i).unlink(missing_ok=True)
        self.writers, self.schema = {}, None


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


class _Pass:
    """State of one partition pass: writers, data cut, facts."""

    def __init__(self, part: Partition, exact_cut: bool):
        self.part, self.exact_cut = part, exact_cut
        self.cut = pd.NaT

    def feed(self, name: str, file: str, writer: _BucketWriter, batch: pa.RecordBatch, names: list[str],
             rows: np.ndarray) -> int:
        frame = to_frame(batch)
        frame.columns = names
        latest = latest_date(name, frame, rows, file, self.exact_cut)
        if pd.notna(latest):
            self.cut = latest if pd.isna(self.cut) else max(self.cut, latest)
        pid = frame["patient_id"] if "patient_id" in frame.columns else pd.Series(pd.NA, index=frame.index)
        writer.write(_with_rows(batch, names, rows), bucket_of(pid, self.part.buckets))
        return len(rows)

    def csv(self, name: str, path: Path, batch_rows: int) -> None:
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
        problem = _sniff_problem(head)
        header = _header(head) if problem is None else []
        problem = problem or _header_problem(header)
        if problem:
            self.part.file_issues.append(file_issue(path.name, name, problem))
            return
        names = [str(c).strip().lstrip("\ufeff") for c in header]
        writer = _BucketWriter(self.part, name)
        schema = pa.schema([(n, pa.string()) for n in names] + [(SOURCE_ROW, pa.int64())])
        n_rows = 0
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=min(_BLOCK_BYTES, max(1 << 20, batch_rows * 64)),
                                               column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in header},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
            line = 2
            for batch in reader:
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

    def parquet(self, name: str, path: Path, batch_rows: int) -> None:
        writer = _BucketWriter(self.part, name)
        n_rows = 0
        try:
            pf = pq.ParquetFile(path)
            # a pandas index stored as a column is not a table column (pq.read_table drops it too)
            index = [c for c in (pf.schema_arrow.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)]
            fields = [f for f in pf.schema_arrow if f.name not in index]
            names = [str(f.name).strip() for f in fields]
            schema = pa.schema([f.with_name(n) for f, n in zip(fields, names)] + [(SOURCE_ROW, pa.int64())])
            for batch in pf.iter_batches(batch_size=batch_rows, columns=[f.name for f in fields]):
                rows = np.arange(n_rows + 1, n_rows + batch.num_rows + 1, dtype=np.int64)
                n_rows += self.feed(name, path.name, writer, batch, names, rows)
        except Exception as exc:  # any corrupt or foreign file: report, never crash (as io.sources does)
            writer.discard()
            self.part.file_issues.append(file_issue(path.name, name, f"not a readable Parquet file ({type(exc).__name__})"))
            return
        writer.close(schema)
        self.part.tables[name] = {"file": path.name, "rows": n_rows, "columns": names}


def partition_cohort(cohort_path: str | Path, out_dir: str | Path, buckets: int,
                     batch_rows: int = DEFAULT_BATCH_ROWS, exact_cut: bool = False) -> Partition:
    """Stream every table of a cohort folder into ``buckets`` bucket folders under ``out_dir``.

    Returns (and saves as ``out_dir/manifest.json``) the Partition: the global data cut, each
    table's original file name and row count, the original files' SHA-256 (provenance), and the
    file-level problems (unreadable file, both csv and parquet present), each fatal as in
    ``read_cohort``. ``exact_cut`` makes the data cut ignore rows with cell errors, exactly as the
    validator does (costs a full parse of every cell). ``out_dir`` is emptied first.
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
    state = _Pass(part, exact_cut)
    for name in TABLES:
        found = [p for p in (path / f"{name}.csv", path / f"{name}.parquet") if p.is_file()]
        if len(found) > 1:
            part.file_issues.append(file_issue(f"{name}.csv", name, f"both {name}.csv and {name}.parquet are "
                                               "present; keep one"))
            continue
        if not found:
            continue
        p = found[0]
        part.sources[name] = {"path": str(p), "sha256": sha256_of(p)}
        if p.suffix == ".csv":
            state.csv(name, p, batch_rows)
        else:
            state.parquet(name, p, batch_rows)
    part.data_cut = None if pd.isna(state.cut) else pd.Timestamp(state.cut).strftime("%Y-%m-%d")
    part.save()
    return part


def load_bucket(part: Partition, i: int) -> dict[str, RawTable]:
    """The raw tables of bucket ``i`` with their original row numbers and file names (for check_tables)."""
    out: dict[str, RawTable] = {}
    for name, facts in part.tables.items():
        table = pq.read_table(part.bucket_dir(i) / f"{name}.parquet")
        rows = table.column(SOURCE_ROW).to_numpy().astype(np.int64)
        frame = to_frame(table.drop_columns([SOURCE_ROW]))
        frame.columns = facts["columns"]
        out[name] = RawTable(name, frame.reset_index(drop=True), rows, facts["file"])
    return out
