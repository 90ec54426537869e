"""Shared builders of the OMOP tests: a contract cohort, the same cohort with person ids, and as OMOP.

The OMOP writer numbers persons 1, 2, ... in the patients table's order; the comparison cohort is the
contract folder with each patient_id replaced by that person_id, so outputs compare byte for byte.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd

from mrdtrack.importers.omop.write import contract_to_omop, person_ids
from mrdtrack.io.sources import load_cohort_files
from mrdtrack.io.write import write_tables

EXAMPLE = Path(__file__).parents[1] / "examples" / "cohort"
COMPARED = ("patients.csv", "assessments.csv", "mrd.csv")


def example_tables() -> dict:
    return {n: t.frame for n, t in load_cohort_files(EXAMPLE).tables.items()}


def with_person_ids(tables: dict) -> dict:
    ids = person_ids(tables["patients"])
    return {n: df.assign(patient_id=df["patient_id"].astype(str).map(ids).astype(str)) for n, df in tables.items()}


def write_contract_with_person_ids(tables: dict, folder: Path) -> Path:
    write_tables(with_person_ids(tables), folder, "csv")
    return folder


def omop_of(tables: dict, episodes: bool = True) -> dict:
    return contract_to_omop(tables, episodes=episodes)


def differing(a: Path, b: Path, names=COMPARED) -> list[str]:
    return [n for n in names if not filecmp.cmp(a / n, b / n, shallow=False)]


def with_extra_rows(omop: dict, table: str, rows: list[dict]) -> dict:
    """``omop`` with ``rows`` added to ``table`` (ids numbered after the table's last)."""
    df = omop[table]
    extra = pd.DataFrame(rows, columns=df.columns)
    start = int(df.iloc[:, 0].max()) + 1
    extra.iloc[:, 0] = range(start, start + len(extra))
    return {**omop, table: pd.concat([df, extra.astype(df.dtypes.to_dict())], ignore_index=True)}
