"""Table 1 (``report/table_one.py``) is the table ``tableone`` made before: same cells, same layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrdtrack.io.outputs import write_csv
from mrdtrack.report.sections import to_html
from mrdtrack.report.tables import TABLE1_VARIABLES, for_display, maintenance_cohort, table_one, table_one_input

TableOne = pytest.importorskip("tableone").TableOne
# tableone (the reference) warns about groups without an age; ours says nothing
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def tableone_reference(patients: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as the report computed it with tableone 0.9 (the code it replaced)."""
    df, orders = table_one_input(maintenance_cohort(patients))
    columns = [c for c in TABLE1_VARIABLES if c in df.columns]
    categorical = [c for c in columns if c != "age_at_diagnosis"]
    t1 = TableOne(df, columns=columns or None, categorical=categorical, groupby="MRD trend", missing=True,
                  overall=True, pval=False, order=orders, rename=TABLE1_VARIABLES,
                  label_suffix=True, decimals=1, include_null=False)
    out = t1.tableone.copy()
    out.columns = [c[1] if isinstance(c, tuple) else c for c in out.columns]
    out = out.reset_index()
    out.columns = ["variable", "level", *out.columns[2:]]
    return out


def random_patients(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)

    def pick(values, p_missing):
        v = rng.choice(np.array(values, dtype=object), n)
        v[rng.random(n) < p_missing] = None
        return v

    age = np.round(rng.normal(60, 9, n), 1)
    age[rng.random(n) < rng.choice([0.0, 0.1, 0.5])] = np.nan
    trends = ["negative", "decreasing", "not_decreasing", None]
    weights = rng.dirichlet(np.ones(4) * 0.6)
    return pd.DataFrame({
        "patient_id": [f"P{i}" for i in range(n)],
        "in_maintenance_cohort": rng.random(n) < 0.9,
        "maintenance_start": "2020-01-01",
        "age_at_diagnosis": age,
        "sex": pick(["F", "M"], 0.05),
        "iss_stage": pick(["I", "II", "III"], rng.choice([0.0, 0.3])),
        "cytogenetic_risk": pick(["high", "standard"], 0.2),
        "heavy_chain": pick(["IgG", "IgA", "IgD", "IgM", "none"], 0.0),
        "light_chain": pick(["kappa", "lambda"], 0.1),
        "response_at_maintenance_start": pick(["SD", "PR", "VGPR", "CR", "sCR", "MR"], 0.1),
        "mrd_trend": rng.choice(np.array(trends, dtype=object), n, p=weights),
    })


def _same(ours: pd.DataFrame, theirs: pd.DataFrame, tmp_path) -> None:
    assert list(ours.columns) == list(theirs.columns)
    write_csv(ours, tmp_path / "ours.csv")
    write_csv(theirs, tmp_path / "theirs.csv")
    assert (tmp_path / "ours.csv").read_text() == (tmp_path / "theirs.csv").read_text()
    assert to_html(for_display(ours)) == to_html(for_display(theirs))


@pytest.mark.parametrize("seed,n", [(1, 139), (2, 12), (3, 5), (4, 400), (5, 3), (6, 60), (7, 1000)])
def test_table_one_equals_tableone(seed, n, tmp_path):
    patients = random_patients(seed, n)
    _same(table_one(patients), tableone_reference(patients), tmp_path)


def test_table_one_with_variables_missing_or_empty(tmp_path):
    patients = random_patients(8, 80).drop(columns=["iss_stage", "light_chain"])
    patients["age_at_diagnosis"] = np.nan
    patients["sex"] = None
    _same(table_one(patients), tableone_reference(patients), tmp_path)


def test_table_one_group_of_one_and_age_missing_in_a_group(tmp_path):
    patients = random_patients(9, 50)
    patients["in_maintenance_cohort"] = True
    patients.loc[0, "mrd_trend"] = "negative"
    patients.loc[1:, "mrd_trend"] = patients.loc[1:, "mrd_trend"].replace("negative", "decreasing")
    patients.loc[patients["mrd_trend"] == "decreasing", "age_at_diagnosis"] = np.nan
    _same(table_one(patients), tableone_reference(patients), tmp_path)
