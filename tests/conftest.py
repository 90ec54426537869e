import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres_url():
    """A URL of a real PostgreSQL database for the OMOP tests (tests/pg_server.py): MRDTRACK_PG_URL
    when set, else a throw-away cluster started for this test run. Skips without a server binary
    unless MRDTRACK_REQUIRE_POSTGRES=1 (CI), which makes a missing server a failure."""
    from pg_server import PostgresServer, find_bindir

    if os.environ.get("MRDTRACK_PG_URL"):
        yield os.environ["MRDTRACK_PG_URL"]
        return
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("MRDTRACK_REQUIRE_POSTGRES") == "1":
            pytest.fail("no PostgreSQL server binary found and MRDTRACK_REQUIRE_POSTGRES=1")
        pytest.skip("no PostgreSQL server binary (install Debian's postgresql)")
    server = PostgresServer(bindir).start()
    try:
        yield server.url()
    finally:
        server.stop()
