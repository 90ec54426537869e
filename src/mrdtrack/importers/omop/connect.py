"""Open an OMOP CDM source: a DuckDB file, a folder of tables (through DuckDB) or PostgreSQL (docs/omop.md).

Every source answers SQL with Arrow tables, so the reader is one set of queries. PostgreSQL is
read in bulk with the ADBC PostgreSQL driver (libpq's binary COPY straight into Arrow; chosen by
measurement over psycopg 3, docs/performance.md). The only network connection mrdtrack opens is to
the database the user names. Errors name the source without its password and are UserErrors
(exit 2, no traceback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa

from mrdtrack.errors import UserError

REQUIRED = ("person", "measurement", "concept")
OPTIONAL = ("condition_occurrence", "observation", "drug_exposure", "procedure_occurrence", "death",
            "observation_period", "visit_occurrence", "care_site", "episode", "episode_event", "concept_ancestor",
            "cohort")
TABLE_NAMES = REQUIRED + OPTIONAL
_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".parquet")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def is_postgres_url(text: str) -> bool:
    return str(text).startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """The URL as shown to a user: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = parts.username or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """An error text with the source's password removed wherever it appears."""
    pw = urlsplit(url).password if is_postgres_url(url) else None
    text = str(text).strip().splitlines()[0] if str(text).strip() else str(text)
    return text.replace(pw, "***") if pw else text


def quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise UserError(f"'{name}' is not a valid schema or table name")
    return f'"{name}"'


@dataclass
class OmopConnection:
    """A source's tables by role: ``where[name]`` = the qualified name to use in SQL."""

    label: str  # what messages and provenance show (never a password)
    kind: str  # duckdb | folder | postgresql
    run: object  # callable(sql) -> pyarrow.Table
    close: object
    where: dict[str, str] = field(default_factory=dict)
    schema: str | None = None

    def query(self, sql: str) -> pa.Table:
        try:
            return self.run(sql)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"{self.label}: query failed: {scrub(exc, self.label)}") from None

    def has(self, name: str) -> bool:
        return name in self.where


# ------------------------------------------------------------------------------------------ DuckDB
def _duck_run(con):
    con.execute("SET enable_progress_bar = false")

    def run(sql: str) -> pa.Table:
        return con.sql(sql).to_arrow_table()
    return run


def _discover(names_by_schema: dict[str, set[str]], label: str, schema: str | None, what: str) -> str:
    """The schema to read: the one asked for (must exist), else the first holding ``person``."""
    if schema is not None:
        match = [s for s in names_by_schema if s.lower() == schema.lower()]
        if not match:
            raise UserError(f"{label}: schema '{schema}' not found ({what}: "
                            f"{', '.join(sorted(names_by_schema)) or 'none'})")
        return match[0]
    holding = [s for s, names in names_by_schema.items() if "person" in names]
    if not holding:
        raise UserError(f"{label}: no schema holds an OMOP 'person' table (give --omop-schema)")
    return holding[0]


def _tables_where(con_tables: dict[str, set[str]], cdm: str, vocab: str, results: str) -> dict[str, str]:
    where = {}
    for name in TABLE_NAMES:
        schema = vocab if name in ("concept", "concept_ancestor") else results if name == "cohort" else cdm
        if name in con_tables.get(schema, set()):
            where[name] = f"{quote_ident(schema)}.{quote_ident(name)}"
    return where


def _require(conn: OmopConnection, cdm: str, vocab: str) -> OmopConnection:
    missing = [n for n in REQUIRED if n not in conn.where]
    if missing:
        schema = {n: (vocab if n == "concept" else cdm) for n in missing}
        raise UserError(f"{conn.label}: required OMOP table(s) missing: "
                        + ", ".join(f"{schema[n]}.{n}" for n in missing))
    return conn


def open_duckdb(path: Path, schema: str | None, vocab_schema: str | None, results_schema: str | None) -> OmopConnection:
    import duckdb

    label = str(path)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except Exception as exc:
        raise UserError(f"{label}: cannot open as a DuckDB database ({str(exc).splitlines()[0]})") from None
    rows = con.execute("SELECT table_schema, lower(table_name) FROM information_schema.tables "
                       "WHERE table_catalog = current_database() ORDER BY table_schema = 'main' DESC, table_schema").fetchall()
    by_schema: dict[str, set[str]] = {}
    for s, t in rows:
        by_schema.setdefault(s, set()).add(t)
    return _finish(OmopConnection(label, "duckdb", _duck_run(con), con.close), by_schema, schema, vocab_schema,
                   results_schema)


def _finish(conn: OmopConnection, by_schema: dict[str, set[str]], schema, vocab_schema, results_schema) -> OmopConnection:
    cdm = _discover(by_schema, conn.label, schema, "schemas found")
    vocab = _discover(by_schema, conn.label, vocab_schema, "schemas found") if vocab_schema else cdm
    results = _discover(by_schema, conn.label, results_schema, "schemas found") if results_schema else cdm
    conn.where, conn.schema = _tables_where(by_schema, cdm, vocab, results), cdm
    return _require(conn, cdm, vocab)


def folder_tables(folder: Path) -> dict[str, Path]:
    """OMOP table name (lower case) -> file, for the folder's CSV/TSV (optionally gzipped) and Parquet files."""
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        low = p.name.lower()
        for suf in _SUFFIXES:
            if low.endswith(suf) and p.is_file():
                name = low[: -len(suf)]
                if name in TABLE_NAMES and name not in out:
                    out[name] = p
    return out


def is_omop_folder(folder: Path) -> bool:
    """A folder holding a ``person`` table and no ``patients`` table (docs/omop.md)."""
    if not folder.is_dir():
        return False
    names = {p.name.lower().split(".")[0] for p in folder.iterdir()}
    return "person" in names and "patients" not in names


def _reader(path: Path) -> str:
    p = str(path).replace("'", "''")
    if path.name.lower().endswith(".parquet"):
        return f"read_parquet('{p}')"
    return f"read_csv('{p}', header = true, all_varchar = false, sample_size = -1)"


def open_folder(folder: Path) -> OmopConnection:
    import duckdb

    label = str(folder)
    files = folder_tables(folder)
    con = duckdb.connect(":memory:")
    for name, path in files.items():
        try:
            con.execute(f"CREATE VIEW {quote_ident(name)} AS SELECT * FROM {_reader(path)}")
            con.execute(f"SELECT * FROM {quote_ident(name)} LIMIT 0").fetchall()
        except Exception as exc:
            raise UserError(f"{path}: cannot read as an OMOP table ({str(exc).splitlines()[0]})") from None
    return _finish(OmopConnection(label, "folder", _duck_run(con), con.close), {"main": set(files)}, None, None, None)


# -------------------------------------------------------------------------------------- PostgreSQL
def _pg_connect(url: str):
    import adbc_driver_postgresql.dbapi as pg

    return pg.connect(url)


def open_postgres(url: str, schema: str | None, vocab_schema: str | None, results_schema: str | None) -> OmopConnection:
    label = safe_url(url)
    try:
        con = _pg_connect(url)
    except ImportError:
        raise UserError("reading PostgreSQL needs the ADBC PostgreSQL driver: pip install 'mrdtrack[postgres]'") from None
    except Exception as exc:
        raise UserError(f"{label}: cannot connect ({scrub(exc, url)})") from None

    def run(sql: str) -> pa.Table:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table()

    conn = OmopConnection(label, "postgresql", run, con.close)
    rows = conn.query("SELECT table_schema, lower(table_name) AS t, "
                      "array_position(current_schemas(false), table_schema::name) AS pos "
                      "FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                      "ORDER BY pos NULLS LAST, table_schema").to_pylist()
    by_schema: dict[str, set[str]] = {}
    for r in rows:
        by_schema.setdefault(r["table_schema"], set()).add(r["t"])
    return _finish(conn, by_schema, schema, vocab_schema, results_schema)


def open_source(cohort: str | Path, schema: str | None = None, vocab_schema: str | None = None,
                results_schema: str | None = None) -> OmopConnection:
    """Open the OMOP source named by a COHORT argument (URL, .duckdb file or folder)."""
    text = str(cohort)
    if is_postgres_url(text):
        return open_postgres(text, schema, vocab_schema, results_schema)
    path = Path(text)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir():
        return open_folder(path)
    return open_duckdb(path, schema, vocab_schema, results_schema)
