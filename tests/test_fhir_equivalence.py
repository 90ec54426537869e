"""The FHIR door gives the same analysis as the contract folder (docs/fhir.md "Equivalence").

The example cohort and a 2,000-patient simulated cohort are written as a Bulk Data export and as
one Bundle per patient; ``analyze`` on each gives byte-identical ``patients.csv``,
``assessments.csv`` and ``mrd.csv`` to ``analyze`` on the contract folder they came from.

FHIR carries drugs, not phases: the contract's treatments travel as drug records and come back
through the phases-from-drugs rules. So the contract folder compared is the one the drugs describe:
its treatments replaced by those the same rules derive from the contract's own treatments
(``treatments_to_drug_records`` then ``convert.therapy``, no FHIR involved), which differ from the
written ones only where drug periods cannot show a phase boundary (docs/phases-from-drugs.md).
Recorded responses have no FHIR form; they change none of the three files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mrdtrack.cli import app
from mrdtrack.importers.drug_records import treatments_to_drug_records
from mrdtrack.importers.fhir.convert import therapy
from mrdtrack.importers.fhir.export import contract_to_fhir, latest_date, write_bulk, write_bundles
from mrdtrack.importers.phase_rules import PhaseRules
from mrdtrack.io.write import write_tables

EXAMPLE = Path(__file__).parents[1] / "examples" / "cohort"
OUTPUTS = ("patients.csv", "assessments.csv", "mrd.csv")
runner = CliRunner()


def _typed(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if c == "date" or c.endswith("_date"):
                df[c] = pd.to_datetime(df[c])
        out[name] = df
    return out


def as_the_drugs_show_it(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The contract's treatments through drug records and back by the phases-from-drugs rules."""
    rules = PhaseRules()
    t = _typed(tables)
    drugs, procs = treatments_to_drug_records(t["treatments"], rules)
    records = drugs.assign(days_supply=np.nan, open_active=drugs["end_date"].isna())
    ev = t["events"]
    death = ev[ev["event"] == "death"].groupby("patient_id")["date"].min()
    p = t["patients"][["patient_id", "diagnosis_date"]].assign(death_date=lambda x: x["patient_id"].map(death))
    progs = ev[ev["event"] == "progression"][["patient_id", "date"]]
    tx = procs.rename(columns={"record_id": "record"})
    treatments, _ = therapy(records, tx, p, progs, latest_date(t), rules)
    return treatments


def _analyze(cohort: Path, out: Path) -> Path:
    r = runner.invoke(app, ["analyze", str(cohort), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _doors(tables: dict[str, pd.DataFrame], folder: Path, fhir_tables=None) -> dict[str, Path]:
    """Write the contract folder (as the drugs show it), the Bulk export and the Bundles; analyze each."""
    fhir_tables = fhir_tables or tables
    contract = {**tables, "treatments": as_the_drugs_show_it(fhir_tables)}
    write_tables(contract, folder / "contract", "csv")
    resources = contract_to_fhir(_typed(fhir_tables))
    write_bulk(resources, folder / "bulk", "2030-01-01T00:00:00Z")
    write_bundles(resources, folder / "bundles")
    return {door: _analyze(folder / door, folder / f"out_{door}") for door in ("contract", "bulk", "bundles")}


@pytest.fixture(scope="session")
def example_outputs(tmp_path_factory):
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False).replace("", None)
              for p in EXAMPLE.glob("*.csv")}
    return _doors(tables, tmp_path_factory.mktemp("fhir_example"))


@pytest.fixture(scope="session")
def simulated_outputs(tmp_path_factory):
    from mrdtrack.simulate import simulate_cohort

    tables = simulate_cohort(2000, 16).tables
    return _doors(tables, tmp_path_factory.mktemp("fhir_sim2000"))


@pytest.mark.parametrize("door", ["bulk", "bundles"])
@pytest.mark.parametrize("name", OUTPUTS)
def test_example_cohort_same_outputs(example_outputs, door, name):
    assert (example_outputs[door] / name).read_bytes() == (example_outputs["contract"] / name).read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("door", ["bulk", "bundles"])
@pytest.mark.parametrize("name", OUTPUTS)
def test_simulated_cohort_same_outputs(simulated_outputs, door, name):
    assert (simulated_outputs[door] / name).read_bytes() == (simulated_outputs["contract"] / name).read_bytes()


def test_example_treatments_as_the_drugs_show_them_are_the_written_ones_but_names(example_outputs):
    """In the example every phase boundary shows in the drugs: only names and end reasons change."""
    got = pd.read_csv(example_outputs["contract"].parent / "contract" / "treatments.csv")
    want = pd.read_csv(EXAMPLE / "treatments.csv")
    cols = ["patient_id", "phase", "start_date", "end_date"]
    assert got[cols].fillna("").values.tolist() == want[cols].fillna("").values.tolist()
