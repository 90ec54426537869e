"""The FHIR door at the command line: simulate --format fhir / fhir-bundles, import fhir, --mapping."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from fhir_fixtures import base, lab, write_bulk
from mrdtrack.cli import app

runner = CliRunner()


def test_simulate_fhir_bulk_and_bundles_import_to_the_same_tables(tmp_path):
    for fmt in ("fhir", "fhir-bundles"):
        r = runner.invoke(app, ["simulate", "--n", "25", "--seed", "3", "--format", fmt, "--out", str(tmp_path / fmt)])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "fhir" / "manifest.json").is_file() and (tmp_path / "fhir" / "Observation.ndjson").is_file()
    assert len(list((tmp_path / "fhir-bundles").glob("*.json"))) == 25
    for fmt in ("fhir", "fhir-bundles"):
        r = runner.invoke(app, ["import", "fhir", str(tmp_path / fmt), "--out", str(tmp_path / f"c-{fmt}"),
                                "--format", "csv"])
        assert r.exit_code == 0, r.output
        assert "imported 25 patients" in " ".join(r.output.split())
    for table in ("patients", "treatments", "labs", "mrd", "events", "imaging"):
        a = (tmp_path / "c-fhir" / f"{table}.csv").read_bytes()
        assert a == (tmp_path / "c-fhir-bundles" / f"{table}.csv").read_bytes(), table
    log = pd.read_csv(tmp_path / "c-fhir" / "import_log.csv")
    assert not (log["severity"] == "error").any()


def test_mapping_file_adds_a_local_code(tmp_path):
    res = base() + [{**lab("u", "x", system="urn:local"), "code": {"text": "UIFE"}, "valueString": "negative"}]
    folder = write_bulk(tmp_path / "x", res)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[labs]\nurine_ife = { source_value = ["uife"] }\n')
    for extra, expected in (([], []), (["--mapping", str(mapping)], [["urine_ife", "negative"]])):
        out = tmp_path / f"out{len(extra)}"
        r = runner.invoke(app, ["import", "fhir", str(folder), "--out", str(out), "--format", "csv", *extra])
        assert r.exit_code == 0, r.output
        labs = pd.read_csv(out / "labs.csv", dtype=str)
        assert labs[["test", "value"]].values.tolist() == expected
