"""A real, throw-away PostgreSQL server for the OMOP tests (docs/omop.md "Testing against PostgreSQL").

``PostgresServer.start()`` runs Debian's ``initdb`` into a temporary folder as an unprivileged user
(the ``postgres`` system user when the tests run as root, as CI does), starts the server on a free
loopback port (``listen_addresses = 127.0.0.1``, its unix socket in the same folder) with password
authentication, and creates a database; ``stop()`` shuts it down and removes the folder.

One cluster per test run: the tests that need it carry ``@pytest.mark.xdist_group("postgres")``,
so under ``pytest -n 2 --dist loadgroup`` they all run in one worker, and the session fixture in
``conftest.py`` starts the server lazily there. ``MRDTRACK_PG_URL`` points the tests at an existing
server instead. Without a server binary the tests skip, unless ``MRDTRACK_REQUIRE_POSTGRES=1``
(as in CI), when they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER, PASSWORD, DATABASE = "mrdtrack", "s3cret-pw", "omop"


def find_bindir() -> Path | None:
    """The PostgreSQL server binaries (Debian's /usr/lib/postgresql/<version>/bin), newest first."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mrdtrack-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.owner = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.root, user=self.owner)
            os.chmod(self.root, 0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, user=self.owner)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                  "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale", "C")
        opts = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        self._createdb()
        return self

    def _createdb(self) -> None:
        import psycopg

        for _ in range(50):
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True) as con:
                    con.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not accept connections: " + (self.root / "log").read_text()[-2000:])

    def url(self, database: str = DATABASE, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def load_omop(url: str, omop: dict, schema: str = "cdm", tables: list[str] | None = None) -> None:
    """Create ``schema`` with the project's v5.4 DDL and load the frames with COPY (psycopg 3)."""
    import psycopg

    from mrdtrack.importers.omop.ddl import TABLES, create_table_sql

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.execute(f"CREATE SCHEMA {schema}")
        for name, df in omop.items():
            if tables is not None and name not in tables:
                continue
            con.execute(create_table_sql(name, schema))
            cols = [c for c, _ in TABLES[name]]
            with con.cursor().copy(f"COPY {schema}.{name} ({', '.join(cols)}) FROM STDIN") as cp:
                frame = df[cols].astype(object)
                for row in frame.where(df[cols].notna(), None).to_numpy().tolist():
                    cp.write_row(row)
