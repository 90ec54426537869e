"""Load the raw tables of a cohort (folder of CSV/Parquet, or one xlsx workbook) without judging them.

docs/data-contract.md: a cohort is a folder with one file per table (``.csv`` or ``.parquet``) or
one ``.xlsx`` workbook whose sheets carry the table names. Everything is loaded as it stands (CSV as
text), with the row number the user sees (CSV line, header = line 1; xlsx row; 1-based Parquet
row). A file that cannot be read at all gives a file-level issue naming the file and what is
wrong; this module never raises on the content of a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mrdtrack.contract import TABLES
from mrdtrack.errors import UserError

STRING = pd.StringDtype("pyarrow")
#: pyarrow reads CSV in blocks; one record must fit in a block, larger ones use the fallback reader.
_BLOCK_BYTES = 1 << 24
_SNIFF_BYTES = 1 << 16


@dataclass
class RawTable:
    """One table as loaded: the frame (text or as typed by its source) and user-visible rows."""

    name: str
    frame: pd.DataFrame
    rows: np.ndarray
    file: str


@dataclass
class Loaded:
    """All tables found, file-level issues (dicts with ``file``), and table -> {path, sha256}."""

    tables: dict[str, RawTable] = field(default_factory=dict)
    issues: list[dict] = field(default_factory=list)
    sources: dict[str, dict] = field(default_factory=dict)


def file_issue(file: str, table: str, message: str, column: str | None = None, *,
               code: str = "FILE_UNREADABLE") -> dict:
    """A file-level error (issue_codes: FILE_UNREADABLE unless ``code`` says otherwise)."""
    return {"severity": "error", "code": code, "table": table, "row": None, "patient_id": None, "column": column,
            "value": None, "message": message, "file": file}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- CSV
def _sniff_problem(head: bytes) -> str | None:
    """A reason the file is not a comma-separated UTF-8 text table, judged from its first bytes."""
    if not head.strip():
        return "file is empty (no header row)"
    if b"\x00" in head:
        return "file is not a text CSV file (binary content)"
    first = head.splitlines()[0] if head.splitlines() else head
    if b"," not in first:
        for sep, name in ((b";", "';'"), (b"\t", "a tab")):
            if sep in first:
                return f"file uses {name} as the delimiter; expected ',' (comma-separated values)"
    return None


def _utf8_problem(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return (f"file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} on line {line}); "
                "save it as UTF-8")
    return None


def _header(head: bytes) -> list[str]:
    """The header cells ([] when the first record is not valid CSV: _header_problem names it)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return []


def _header_problem(names: list[str]) -> str | None:
    stripped = [n.strip() for n in names]
    if not any(stripped):
        return "the first line (header row) is empty or not valid CSV"
    dupes = sorted({n for n in stripped if stripped.count(n) > 1 and n})
    if dupes:
        return "column " + ", ".join(f"'{d}'" for d in dupes) + " appears more than once in the header"
    return None


def csv_text_options(names: list[str], block_size: int = _BLOCK_BYTES) -> dict:
    """pyarrow CSV options of the project's readers: the header as given (``names``), every column
    as text, blank lines kept (as empty rows) so that line numbers hold."""
    return {"read_options": pacsv.ReadOptions(block_size=block_size, column_names=names, skip_rows=1),
            "parse_options": pacsv.ParseOptions(ignore_empty_lines=False),
            "convert_options": pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                    strings_can_be_null=False, quoted_strings_can_be_null=False)}


def clean_header(names) -> list[str]:
    """Column names as the contract reads them: stripped, without a UTF-8 byte-order mark."""
    return [str(c).strip().lstrip("\ufeff") for c in names]


def arrow_frame(data: pa.Table | pa.RecordBatch) -> pd.DataFrame:
    """Arrow data as pandas the way every reader converts it: text as pyarrow strings, dates as
    naive datetime64 (a time-zone-aware column loses its zone)."""
    df = data.to_pandas(types_mapper={pa.string(): STRING, pa.large_string(): STRING}.get, date_as_object=False)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.DatetimeTZDtype):
            df[c] = df[c].dt.tz_localize(None)
    return df


def _csv_fast(path: Path, names: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """pyarrow reader, every column as text; blank lines kept as null rows so line numbers hold."""
    df = arrow_frame(pacsv.read_csv(path, **csv_text_options(names)))
    rows = np.arange(2, len(df) + 2, dtype="int64")
    return df, rows


def _csv_slow(text: str, file: str, table: str) -> tuple[pd.DataFrame, np.ndarray, list[dict]]:
    """Python csv reader for files pyarrow refuses: exact line numbers, bad lines reported."""
    issues: list[dict] = []
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        return pd.DataFrame(), np.array([], dtype="int64"), [file_issue(file, table, f"cannot read the header ({exc})")]
    n = len(header)
    records, rows = [], []
    start = reader.line_num + 1
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append({**file_issue(file, table, f"line {start}: malformed CSV ({exc}); the rest of the file "
                                        "was not read", code="CSV_MALFORMED_LINE"), "row": start})
            break
        if len(rec) == n:
            records.append(rec)
            rows.append(start)
        elif any(c.strip() for c in rec):
            issues.append({**file_issue(file, table, f"line {start} has {len(rec)} fields, the header has {n}",
                                      code="CSV_FIELD_COUNT"),
                           "row": start, "value": ",".join(rec)[:60]})
        start = reader.line_num + 1
    df = pd.DataFrame(records, columns=header, dtype=object).astype(STRING) if records else \
        pd.DataFrame({h: pd.Series(dtype=STRING) for h in header})
    return df, np.asarray(rows, dtype="int64"), issues


def cohort_files(folder: Path) -> tuple[dict[str, Path], dict, list[dict]]:
    """The table files of a cohort folder, in contract order: ({name: path}, provenance
    {name: {path, sha256}}, file issues). A table with both ``name.csv`` and ``name.parquet`` is
    an issue and neither file is used."""
    files: dict[str, Path] = {}
    sources: dict = {}
    issues: list[dict] = []
    for name in TABLES:
        found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.is_file()]
        if len(found) > 1:
            issues.append(file_issue(f"{name}.csv", name, f"both {name}.csv and {name}.parquet are present; keep one",
                                     code="FILE_BOTH_FORMATS"))
        elif found:
            files[name] = found[0]
            sources[name] = {"path": str(found[0]), "sha256": sha256_of(found[0])}
    return files, sources, issues


def csv_header(path: Path) -> tuple[list[str], str | None]:
    """A CSV file's header cells, sniffed from its first bytes, or the reason it cannot be read
    as a table (binary content, wrong delimiter, empty, bad header)."""
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    problem = _sniff_problem(head)
    names = _header(head) if problem is None else []
    return names, problem or _header_problem(names)


def read_csv_table(path: Path, table: str) -> tuple[RawTable | None, list[dict]]:
    file = path.name
    names, problem = csv_header(path)
    if problem:
        return None, [file_issue(file, table, problem)]
    issues: list[dict] = []
    try:
        df, rows = _csv_fast(path, names)
        # a quoted newline spans lines: only the line-counting reader then gives the user's line numbers
        exact = not any(df[c].str.contains("\n", regex=False).any() or df[c].str.contains("\r", regex=False).any()
                        for c in df.columns)
    except (pa.ArrowInvalid, pa.ArrowException, ValueError):
        exact = False
    if not exact:
        data = path.read_bytes()
        bad = _utf8_problem(data)
        if bad:
            return None, [file_issue(file, table, bad)]
        df, rows, issues = _csv_slow(data.decode("utf-8"), file, table)
    df.columns = clean_header(df.columns)
    # blank lines (all cells empty) are not rows; line numbers of the others stay as the user sees them
    if len(df.columns):
        blank = (df.iloc[:, 0].fillna("").str.strip() == "").to_numpy(dtype=bool)
        for c in df.columns[1:]:
            if not blank.any():
                break
            blank[blank] = (df[c][blank].fillna("").str.strip() == "").to_numpy(dtype=bool)
        if blank.any():
            df, rows = df[~blank].reset_index(drop=True), rows[~blank]
    return RawTable(table, df, rows, file), issues


# ----------------------------------------------------------------------------------------- Parquet
def read_parquet_table(path: Path, table: str) -> tuple[RawTable | None, list[dict]]:
    try:
        df = arrow_frame(pq.read_table(path))
    except Exception as exc:  # any corrupt or foreign file: report, never crash
        return None, [file_issue(path.name, table, f"not a readable Parquet file ({type(exc).__name__})")]
    df = df.reset_index(drop=True)
    df.columns = [str(c).strip() for c in df.columns]
    return RawTable(table, df, np.arange(1, len(df) + 1, dtype="int64"), path.name), []


# -------------------------------------------------------------------------------------------- xlsx
def read_xlsx(path: Path) -> Loaded:
    """Every table sheet of a workbook; cells keep their native types (dates, numbers, text)."""
    import openpyxl

    out = Loaded()
    digest = sha256_of(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not a zip, not a workbook, encrypted...
        out.issues.append(file_issue(path.name, "", f"not a readable xlsx workbook ({type(exc).__name__})"))
        return out
    try:
        for name in TABLES:
            if name not in wb.sheetnames:
                continue
            shown = f"{path.name}:{name}"
            out.sources[name] = {"path": str(path), "sha256": digest}
            try:
                cells = list(wb[name].iter_rows(values_only=True))
            except Exception as exc:
                out.issues.append(file_issue(shown, name, f"cannot read the sheet ({type(exc).__name__})"))
                continue
            if not cells or all(v is None for v in cells[0]):
                out.issues.append(file_issue(shown, name, "sheet is empty (no header row)"))
                continue
            header = [None if v is None else str(v).strip() for v in cells[0]]
            keep = [i for i, h in enumerate(header) if h]
            names = [header[i] for i in keep]
            problem = _header_problem(names)
            if problem:
                out.issues.append(file_issue(shown, name, problem))
                continue
            body = [[r[i] if i < len(r) else None for i in keep] for r in cells[1:]]
            rows = np.arange(2, len(body) + 2, dtype="int64")
            df = pd.DataFrame(body, columns=names, dtype=object) if body else \
                pd.DataFrame({n: pd.Series(dtype=object) for n in names})
            nonblank = ~df.map(lambda v: v is None or (isinstance(v, str) and not v.strip())).all(axis=1).to_numpy()
            out.tables[name] = RawTable(name, df[nonblank].reset_index(drop=True), rows[nonblank], shown)
    finally:
        wb.close()
    return out


# ------------------------------------------------------------------------------------------ folder
def load_cohort_files(path: str | Path) -> Loaded:
    """Load a cohort folder or workbook. A missing path is the caller's argument error (UserError)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"cohort '{path}' not found (expected a folder of tables or an .xlsx workbook)")
    if path.is_file():
        if path.suffix.lower() != ".xlsx":
            raise UserError(f"cohort '{path}' is a file but not an .xlsx workbook; give a folder of tables")
        return read_xlsx(path)
    out = Loaded()
    files, out.sources, out.issues = cohort_files(path)
    for name, p in files.items():
        reader = read_csv_table if p.suffix == ".csv" else read_parquet_table
        raw, issues = reader(p, name)
        out.issues.extend(issues)
        if raw is not None:
            out.tables[name] = raw
    return out
