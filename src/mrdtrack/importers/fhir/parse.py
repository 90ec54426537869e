"""Parse FHIR files (Bulk ndjson, Bundles) into columnar rows of the fields mrdtrack uses.

FHIR door (docs/fhir.md "Sources", "Bad input"). Each piece of work (a Bundle file, an ndjson
file, or a chunk of a large ndjson file cut at line ends) is parsed with orjson and every read
resource goes through its extractor (``extract.py``) into a list of row tuples per kind; pieces
run in worker processes when the source is large (``FhirReadSettings``). A line or file that is
not valid JSON, or not a FHIR resource, is an ``error`` naming the file and line; resources of
types mrdtrack does not read are counted per type.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa

from mrdtrack.importers.fhir.extract import COLUMNS, EXTRACTORS, KIND_OF
from mrdtrack.importers.fhir.settings import FhirReadSettings
from mrdtrack.importers.fhir.source import FhirFiles
from mrdtrack.processes import process_pool


@dataclass
class Parsed:
    """Rows per kind (lists of tuples in ``COLUMNS`` order), resources per type, bad lines.

    ``errors`` are (file, line, message); ``lines`` is the number of lines of the piece (so that a
    chunk's line numbers can be shifted to the file's)."""

    rows: dict[str, list] = field(default_factory=lambda: {k: [] for k in COLUMNS})
    counts: Counter = field(default_factory=Counter)
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    lines: int = 0

    def add_resource(self, r, file: str, line: int, full_url: str | None = None) -> None:
        """Send one parsed JSON value to its extractor (or count it, or log why it is no resource)."""
        if not isinstance(r, dict) or not isinstance(r.get("resourceType"), str):
            self.errors.append((file, line, "not a FHIR resource (a JSON object with a resourceType)"))
            return
        rtype = r["resourceType"]
        self.counts[rtype] += 1
        extractor = EXTRACTORS.get(rtype)
        if extractor is None:
            return
        rid = r.get("id")
        record = f"{rtype}/{rid}" if rid else (full_url or f"{rtype} at {file}:{line}")
        try:
            self.rows[KIND_OF[rtype]].append(extractor(r, record, full_url))
        except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a field of the wrong JSON type
            self.errors.append((file, line, f"{record}: a field has an unexpected form ({type(exc).__name__}: {exc})"))

    def extend(self, other: Parsed) -> None:
        for kind, rows in other.rows.items():
            if rows is not None and len(rows):
                self.rows[kind].append(rows) if isinstance(rows, pa.Table) else self.rows[kind].extend(rows)
        self.counts.update(other.counts)
        self.errors.extend(other.errors)


def _read_bytes(path: Path, start: int, end: int | None) -> bytes:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    with path.open("rb") as f:
        f.seek(start)
        return f.read() if end is None else f.read(end - start)


def parse_ndjson(path: Path, start: int = 0, end: int | None = None) -> Parsed:
    """One ndjson file (or the bytes ``start:end`` of it, cut at line ends): one resource a line."""
    out = Parsed()
    loads, add, name = orjson.loads, out.add_resource, path.name
    lines = _read_bytes(path, start, end).split(b"\n")
    out.lines = len(lines) - 1 if lines and lines[-1] == b"" else len(lines)
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            r = loads(line)
        except orjson.JSONDecodeError as exc:
            out.errors.append((name, i, f"not valid JSON ({exc.msg}, column {exc.colno})"))
            continue
        add(r, name, i)
    return out


def parse_bundle(path: Path) -> Parsed:
    """One Bundle file (``collection``, ``transaction``, ``batch``, ``searchset``...): its entries."""
    out = Parsed()
    try:
        bundle = orjson.loads(_read_bytes(path, 0, None))
    except orjson.JSONDecodeError as exc:
        out.errors.append((path.name, exc.lineno, f"not valid JSON ({exc.msg}, column {exc.colno}); "
                                                  "the Bundle was not read"))
        return out
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    if not isinstance(entries, list):
        out.errors.append((path.name, 1, "a Bundle without an entry list"))
        return out
    for entry in entries:
        if isinstance(entry, dict) and "resource" in entry:
            out.add_resource(entry["resource"], path.name, 1, entry.get("fullUrl"))
    return out


def _chunks(path: Path, chunk_bytes: int) -> list[tuple[int, int | None]]:
    """Byte ranges of a file cut at line ends, each about ``chunk_bytes`` long."""
    size = path.stat().st_size
    if path.name.lower().endswith(".gz") or size <= chunk_bytes:
        return [(0, None)]
    cuts = [0]
    with path.open("rb") as f:
        while cuts[-1] + chunk_bytes < size:
            f.seek(cuts[-1] + chunk_bytes)
            f.readline()
            if f.tell() >= size:
                break
            cuts.append(f.tell())
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [None])]


def _run(task: tuple) -> Parsed:
    kind, path, start, end = task
    return parse_bundle(path) if kind == "bundle" else parse_ndjson(path, start, end)


def _run_columnar(task: tuple) -> Parsed:
    """``_run`` in a worker: rows handed back as Arrow tables (one buffer per column instead of a
    Python object per field, so that sending them to the parent costs little)."""
    piece = _run(task)
    piece.rows = {kind: _arrow(kind, rows) for kind, rows in piece.rows.items()}
    return piece


def _arrow(kind: str, rows: list) -> pa.Table | None:
    if not rows:
        return None
    cols = list(zip(*rows))
    return pa.table({name: _column(values) for name, values in zip(COLUMNS[kind], cols)})


def _column(values: tuple) -> pa.Array:
    """One column as Arrow: numbers as float64, flags as bool, everything else as text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed JSON types (a number given as text): all as text
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _tasks(files: FhirFiles, settings: FhirReadSettings) -> list[tuple]:
    tasks = [("bundle", p, 0, None) for p in files.bundles]
    for p in files.ndjson:
        tasks += [("ndjson", p, a, b) for a, b in _chunks(p, settings.chunk_bytes)]
    return tasks


def parse_files(files: FhirFiles, settings: FhirReadSettings | None = None) -> Parsed:
    """Parse every file of the source, in worker processes when it is large; the result (rows in
    file and line order, errors with the file's own line numbers) does not depend on the split."""
    settings = settings or FhirReadSettings()
    tasks = _tasks(files, settings)
    size = sum(p.stat().st_size for p in files.ndjson + files.bundles)
    if settings.workers > 1 and len(tasks) > 1 and size >= settings.parallel_min_bytes:
        with process_pool(min(settings.workers, len(tasks))) as pool:
            pieces = list(pool.map(_run_columnar, tasks, chunksize=1 if len(tasks) < 64 else 8))
    else:
        pieces = [_run(t) for t in tasks]
    out = Parsed()
    offset: dict[Path, int] = {}
    for (kind, path, _, _), piece in zip(tasks, pieces):
        if kind == "ndjson":
            shift = offset.get(path, 0)
            piece.errors = [(f, line + shift, m) for f, line, m in piece.errors]
            offset[path] = shift + piece.lines
        out.extend(piece)
    return out


def frames(parsed: Parsed) -> dict[str, pd.DataFrame]:
    """The rows of each kind as a DataFrame with its ``COLUMNS`` (as written: text, numbers, flags).
    Rows are tuples (parsed here) or Arrow tables (from workers), kept in the order of the pieces."""
    out = {}
    for kind, rows in parsed.rows.items():
        tables, run = [], []
        for r in rows:
            if isinstance(r, pa.Table):
                tables += [_arrow(kind, run), r] if run else [r]
                run = []
            else:
                run.append(r)
        tables = [t for t in tables + ([_arrow(kind, run)] if run else []) if t is not None]
        if not tables:
            out[kind] = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[kind]})
        else:
            out[kind] = _concat(tables).to_pandas()
    return out


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table; a column typed differently in two pieces (a number given as text) becomes text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = tables[0].column_names
        mixed = {n for n in names if len({str(t.schema.field(n).type) for t in tables} - {"null"}) > 1}
        return pa.concat_tables([t.cast(pa.schema([pa.field(n, pa.string() if n in mixed else t.schema.field(n).type)
                                                   for n in names])) for t in tables], promote_options="permissive")
