"""OMOP CDM in a real PostgreSQL server (tests/pg_server.py): the same outputs as the contract folder,
and clear errors without a password in them. One cluster per test run (xdist group ``postgres``)."""

import socket

import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.simulate import simulate_cohort
from omop_fixtures import differing, example_tables, omop_of, write_contract_with_person_ids
from pg_server import PASSWORD, load_omop

pytestmark = pytest.mark.xdist_group("postgres")
runner = CliRunner()


def analyze(cohort, out, *extra):
    res = runner.invoke(app, ["analyze", str(cohort), "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def loaded(postgres_url, tmp_path_factory):
    """The example cohort in schema ``cdm`` and 2,000 simulated patients in schema ``sim``."""
    root = tmp_path_factory.mktemp("pg")
    ex = example_tables()
    load_omop(postgres_url, omop_of(ex), "cdm")
    sim = simulate_cohort(2000, 11, "default").tables
    load_omop(postgres_url, omop_of(sim), "sim")
    return {"url": postgres_url,
            "example": analyze(write_contract_with_person_ids(ex, root / "ex"), root / "ex_out"),
            "sim": analyze(write_contract_with_person_ids(sim, root / "sim"), root / "sim_out")}


@pytest.mark.parametrize("schema", ["cdm", "sim"])
def test_postgres_source_gives_identical_outputs(loaded, schema, tmp_path):
    out = analyze(loaded["url"], tmp_path / "out", "--omop-schema", schema)
    reference = loaded["example" if schema == "cdm" else "sim"]
    assert differing(reference, out) == []


def test_postgres_source_in_buckets_of_persons_gives_identical_outputs(loaded, tmp_path):
    """Each bucket a range of persons read over its own connection (docs/omop.md "Large sources")."""
    out = analyze(loaded["url"], tmp_path / "out", "--omop-schema", "sim", "--partitions", "3", "--jobs", "2")
    assert differing(loaded["sim"], out) == []
    mem = analyze(loaded["url"], tmp_path / "mem", "--omop-schema", "sim", "--partitions", "0")
    assert differing(mem, out, ("issues.csv", "summary.json")) == []


def test_wrong_password_is_one_line_without_the_password(loaded, tmp_path):
    url = loaded["url"].replace(PASSWORD, "not-the-password")
    res = runner.invoke(app, ["analyze", url, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "password authentication failed" in res.output
    assert "not-the-password" not in res.output and PASSWORD not in res.output and "Traceback" not in res.output


def test_missing_schema_and_table(loaded, tmp_path):
    res = runner.invoke(app, ["validate", loaded["url"], "--omop-schema", "nope"])
    assert res.exit_code == 2 and "schema 'nope' not found" in " ".join(res.output.split())
    load_omop(loaded["url"], omop_of(example_tables()), "partial", tables=["person", "concept"])
    res = runner.invoke(app, ["validate", loaded["url"], "--omop-schema", "partial"])
    assert res.exit_code == 2 and "partial.measurement" in res.output and PASSWORD not in res.output


def test_unreachable_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = runner.invoke(app, ["analyze", f"postgresql://u:pw123@127.0.0.1:{port}/omop", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "cannot connect" in res.output and "pw123" not in res.output


def test_import_from_postgres_matches_import_from_duckdb(loaded, tmp_path):
    from mrdtrack.importers.omop.write import write_duckdb

    write_duckdb(omop_of(example_tables()), tmp_path / "cdm.duckdb")
    for src, out, extra in ((loaded["url"], "pg", ["--omop-schema", "cdm"]), (tmp_path / "cdm.duckdb", "dd", [])):
        res = runner.invoke(app, ["import", "omop", str(src), "--out", str(tmp_path / out), "--format", "csv", *extra])
        assert res.exit_code == 0, res.output
    assert differing(tmp_path / "pg", tmp_path / "dd", ("patients.csv", "labs.csv", "mrd.csv", "treatments.csv",
                                                       "events.csv", "imaging.csv")) == []
