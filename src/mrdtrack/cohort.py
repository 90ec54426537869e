"""The validated, normalised cohort: the one object every derivation reads.

Tables are pandas DataFrames with the contract's columns (``contract.py``), dates as
``datetime64[ns]`` (NaT = missing), plus ``row``: the row number the user sees in the source file.
Labs are normalised to canonical units: ``value_num`` (float, NaN for text tests),
``value_text`` (text tests), ``unit`` (canonical unit). Nothing dated after ``data_cut`` is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mrdtrack.contract import ROW, TABLES
from mrdtrack.sorting import group_bounds

#: Extra normalised columns of the in-memory labs table.
LAB_COLUMNS = ["patient_id", "date", "test", "value_num", "value_text", "unit", ROW]


def empty_table(name: str) -> pd.DataFrame:
    """An empty normalised table with the right columns and dtypes."""
    if name == "labs":
        cols = LAB_COLUMNS
    else:
        cols = TABLES[name].column_names + [ROW]
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    for c in TABLES[name].columns if name != "labs" else []:
        if c.type == "date":
            df[c.name] = pd.Series(dtype="datetime64[ns]")
        elif c.type in ("number", "integer"):
            df[c.name] = pd.Series(dtype="float64")
    if name == "labs":
        df["date"] = pd.Series(dtype="datetime64[ns]")
        df["value_num"] = pd.Series(dtype="float64")
    df[ROW] = pd.Series(dtype="int64")
    return df


def _rows_of(df: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The rows of ``df`` whose patient is in ``ids``: ``df`` itself when that is every row (a
    bucket is usually one batch: no copy of its tables). Tables are never modified in place."""
    keep = df["patient_id"].isin(ids).to_numpy()
    return df if keep.all() else df[keep]


@dataclass(frozen=True)
class Cohort:
    patients: pd.DataFrame
    treatments: pd.DataFrame
    labs: pd.DataFrame
    mrd: pd.DataFrame
    events: pd.DataFrame
    imaging: pd.DataFrame = field(default_factory=lambda: empty_table("imaging"))
    responses: pd.DataFrame = field(default_factory=lambda: empty_table("responses"))
    data_cut: pd.Timestamp = pd.NaT
    #: table name -> {"path": str, "sha256": str}
    sources: dict = field(default_factory=dict)

    TABLE_NAMES = ("patients", "treatments", "labs", "mrd", "events", "imaging", "responses")

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    @property
    def patient_ids(self) -> np.ndarray:
        return self.patients["patient_id"].to_numpy()

    def subset(self, patient_ids) -> Cohort:
        """The same cohort restricted to whole patients ``patient_ids`` (a batch)."""
        ids = pd.Index(patient_ids)
        tables = {n: _rows_of(self.table(n), ids) for n in self.TABLE_NAMES}
        return replace(self, **tables)

    def batches(self, batch_size: int):
        """Successive sub-cohorts of at most ``batch_size`` whole patients, in patient order.

        Each table is cut once (rows grouped by batch with a stable sort, so each batch keeps the
        rows in their table order), not searched again for every batch: linear in the rows
        whatever the number of batches. Each batch equals ``subset`` of its patients.
        """
        ids = self.patients["patient_id"].to_numpy()
        size = max(1, batch_size)
        n_batches = -(-len(ids) // size)
        if n_batches <= 1 or pd.Index(ids).has_duplicates:
            for start in range(0, len(ids), size):
                yield self.subset(ids[start:start + size])
            return
        batch_of = pd.Series(np.arange(len(ids)) // size, index=pd.Index(ids))
        cuts = {}
        for name in self.TABLE_NAMES:
            df = self.table(name)
            b = df["patient_id"].map(batch_of).fillna(-1).to_numpy(dtype=np.int64)  # -1: not a cohort patient
            cuts[name] = (df, *group_bounds(b, n_batches))
        for k in range(n_batches):
            yield replace(self, **{name: df.iloc[order[bounds[k]:bounds[k + 1]]]
                                   for name, (df, order, bounds) in cuts.items()})
