"""The FHIR writer works a chunk of patients at a time: the files do not depend on the chunks
(``write_fhir``'s ``chunk_patients``, ``simulate --chunk-size``), so a large simulated export is
written in bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.importers.fhir.export import write_fhir, write_fhir_parts
from mrdtrack.simulate import simulate_cohort
from mrdtrack.simulate.cohort import simulate_chunks

runner = CliRunner()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(90, seed=7, scenario="registry").tables


@pytest.mark.parametrize("bundles", [False, True])
def test_chunks_of_patients_give_the_same_files(tmp_path, cohort, bundles):
    whole = write_fhir(cohort, tmp_path / "whole", bundles=bundles, chunk_patients=1000)
    small = write_fhir(cohort, tmp_path / "small", bundles=bundles, chunk_patients=7)
    assert [p.name for p in whole] == [p.name for p in small]
    assert _files(tmp_path / "whole") == _files(tmp_path / "small")
    n_files = len(_files(tmp_path / "whole"))
    assert n_files == 90 if bundles else n_files > 6  # a Bundle per patient; a file per resource type


def test_parts_of_the_cohort_give_the_files_of_the_whole(tmp_path, cohort):
    write_fhir(cohort, tmp_path / "whole")
    parts = (p.tables for p in simulate_chunks(90, seed=7, scenario="registry", chunk_size=25, truth=False))
    write_fhir_parts(parts, tmp_path / "parts", chunk_patients=10)
    whole = _files(tmp_path / "whole")
    assert whole == _files(tmp_path / "parts")
    # every row's id is numbered in its whole table: the last lab row of the cohort is lab-<rows>
    assert f'"id":"lab-{len(cohort["labs"])}"'.encode() in whole["Observation.ndjson"]


def test_simulate_fhir_does_not_depend_on_the_chunk_size(tmp_path):
    for size in ("13", "1000"):
        r = runner.invoke(app, ["simulate", "--n", "40", "--seed", "3", "--format", "fhir", "--truth",
                                "--chunk-size", size, "--out", str(tmp_path / size)])
        assert r.exit_code == 0, r.output
    assert _files(tmp_path / "13") == _files(tmp_path / "1000")
    assert (tmp_path / "13" / "truth" / "truth.csv").exists()
