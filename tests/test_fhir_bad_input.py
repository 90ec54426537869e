"""FHIR door, bad input (docs/fhir.md "Bad input"): malformed lines name file and line (exit 2, or
skipped and listed with --exclude-invalid); unusable resources listed with their id and reason;
unmapped codes summarised with counts; never a traceback."""

from __future__ import annotations

import orjson
import pandas as pd
from typer.testing import CliRunner

from fhir_fixtures import base, lab, write_bulk
from mrdtrack.cli import app

runner = CliRunner()


def _export(tmp_path):
    folder = write_bulk(tmp_path / "export", base() + [lab("o1", "33358-3", 2.0, "g/dL")])
    lines = [orjson.dumps(lab("o2", "33358-3", 1.5, "g/dL", date="2020-03-01")).decode(),
             '{"resourceType": "Observation", "id": "broken", "status": ',  # cut off mid-way
             orjson.dumps(lab("o3", "33358-3", 1.0, "g/dL", date="2020-04-01")).decode(),
             '["not", "a", "resource"]']
    (folder / "Observation.001.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def test_malformed_line_is_exit_2_naming_file_and_line(tmp_path):
    r = runner.invoke(app, ["import", "fhir", str(_export(tmp_path)), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "Observation.001.ndjson line 2: not valid JSON" in text
    assert "Observation.001.ndjson line 4: not a FHIR resource" in text
    assert "--exclude-invalid" in text and "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_analyze_stops_on_a_malformed_line_too(tmp_path):
    r = runner.invoke(app, ["analyze", str(_export(tmp_path)), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "line 2" in r.output and "Traceback" not in r.output


def test_exclude_invalid_skips_and_lists_the_lines(tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["import", "fhir", str(_export(tmp_path)), "--out", str(out), "--format", "csv",
                            "--exclude-invalid"])
    assert r.exit_code == 0, r.output
    log = pd.read_csv(out / "import_log.csv", dtype=str)
    bad = log[log["code"] == "FHIR_MALFORMED_JSON"]
    assert bad[["table", "record"]].values.tolist() == [["Observation.001.ndjson", "line 2"],
                                                        ["Observation.001.ndjson", "line 4"]]
    labs = pd.read_csv(out / "labs.csv")
    assert labs["value"].tolist() == [2.0, 1.5, 1.0]


def test_unusable_resources_listed_and_unmapped_codes_counted(tmp_path):
    res = base() + [lab("ok", "33358-3", 2.0, "g/dL"), lab("orphan", "33358-3", 2.0, "g/dL", pid="ghost"),
                    lab("nounit", "33358-3", 2.0, None, date="2020-03-01"),
                    lab("partial", "33358-3", 2.0, "g/dL", date="2020-04"),
                    lab("hr1", "8867-4", 70, "/min"), lab("hr2", "8867-4", 72, "/min", date="2020-03-01")]
    out = tmp_path / "out"
    r = runner.invoke(app, ["import", "fhir", str(write_bulk(tmp_path / "x", res)), "--out", str(out),
                            "--format", "csv"])
    assert r.exit_code == 0, r.output
    log = pd.read_csv(out / "import_log.csv", dtype=str)
    by_code = {c: sorted(g["record"].dropna()) for c, g in log.groupby("code")}
    assert by_code["FHIR_MISSING_REFERENCE"] == ["orphan"]
    assert by_code["IMPORT_NO_UNIT"] == ["nounit"]
    assert by_code["FHIR_PARTIAL_DATE"] == ["partial"]
    unmapped = log[log["code"] == "UNMAPPED_CONCEPT"]
    assert unmapped["count"].tolist() == ["2"] and "8867-4" in unmapped["detail"].iloc[0]


def test_unusable_resources_stop_a_run_unless_exclude_invalid(tmp_path):
    from mrdtrack.importers.source import read_any_cohort

    folder = write_bulk(tmp_path / "x", base() + [lab("ok", "33358-3", 2.0, "g/dL"),
                                                   lab("nounit", "33358-3", 2.0, None, date="2020-03-01")])
    r = runner.invoke(app, ["validate", str(folder)])
    assert r.exit_code == 2 and "nounit" in r.output and "no unit" in r.output and "Traceback" not in r.output
    stopped = read_any_cohort(folder)
    assert stopped.cohort is None
    kept = read_any_cohort(folder, exclude_invalid=True)
    assert kept.cohort is not None and len(kept.cohort.labs) == 1
    line = kept.issues[kept.issues["value"] == "nounit"]
    assert line["severity"].tolist() == ["excluded"] and "no unit" in line["message"].iloc[0]


def test_not_a_fhir_source(tmp_path):
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    r = runner.invoke(app, ["import", "fhir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "not a FHIR source" in r.output


def test_a_bundle_that_is_not_json_names_the_file_and_line(tmp_path):
    (tmp_path / "p1.json").write_text('{"resourceType": "Bundle", "type": "collection",\n "entry": [\n  {,}\n]}')
    r = runner.invoke(app, ["import", "fhir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "p1.json line 3" in " ".join(r.output.split())


def test_a_field_of_the_wrong_json_type_names_file_and_line(tmp_path):
    folder = write_bulk(tmp_path / "x", base())
    bad = {**lab("o1", "33358-3", 2.0, "g/dL"), "code": "33358-3"}  # a string where FHIR has a CodeableConcept
    (folder / "Observation.ndjson").write_text(orjson.dumps(lab("o0", "33358-3", 2.0, "g/dL")).decode() + "\n"
                                               + orjson.dumps(bad).decode() + "\n")
    r = runner.invoke(app, ["import", "fhir", str(folder), "--out", str(tmp_path / "out")])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and "Observation.ndjson line 2: Observation/o1: a field has an unexpected form" in text
