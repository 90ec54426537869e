"""A range's measurement and observation rows as the source-neutral facts frame (docs/omop.md
"Tables read", "Large sources").

The database returns the rows unordered, person_id a number (``queries.facts``). They are put in
the contract's order here, patient_id as text, then table, then row id, by integer keys: the
person's place in the plan's persons (already in patient_id text order), the table's place among
the table names and the row id. Sorting rows of text in the database cost more than the rest of
the read. Text columns come as pandas categoricals (``coded_text``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mrdtrack.importers.omop import queries as Q
from mrdtrack.importers.omop.connect import OmopConnection

#: OMOP query columns -> the facts frame's (importers.facts.FACT_COLUMNS).
RENAMED = {"source_value": "source_values", "source_table": "table"}
_LAST = np.iinfo(np.int64).max  # a missing row id sorts last, as NULLs in an ascending SQL order


def coded_text(table: pa.Table) -> pa.Table:
    """The table's text columns dictionary-encoded: pandas categoricals, whose rows are small integer
    codes to select and copy, and whose distinct values (a handful of codes, units and answers among
    a range's 500,000 results) are worked on once each."""
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            table = table.set_column(i, f.name, pc.dictionary_encode(table.column(i)))
    return table


def id_text(ids: pd.Series) -> pd.Series:
    """OMOP ids (person_id, episode_id, drug_exposure_id ...) as text: whole numbers, no decimal
    point (a driver may hand them over as floats), the way patient_id and record ids are written."""
    return ids.astype("int64").astype(str)


def person_text(ids) -> np.ndarray:
    """person_id numbers as the contract's patient_id text (``id_text``), an object array."""
    return id_text(pd.Series(np.asarray(ids, dtype="int64"))).to_numpy(dtype=object)


def in_text_order(ids: np.ndarray) -> np.ndarray:
    """Person ids ordered by their patient_id text (byte order)."""
    return ids[np.argsort(person_text(ids), kind="stable")]


def contract_order(rows: pa.Table, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the rows' order, each row's person's place in the persons, the persons): by patient_id text
    (the place in ``persons``, ids in that order), table name (``table_rank``), then row id. A cohort
    person without a person row (not among the plan's persons, so read only with the whole cohort)
    keeps its facts, in its text place among the others."""
    ids = rows.column("person_id").to_numpy()
    place = pd.Index(persons).get_indexer(ids)
    if (place < 0).any():
        persons = in_text_order(np.union1d(persons, ids[place < 0]))
        place = pd.Index(persons).get_indexer(ids)
    record = pc.fill_null(rows.column("record_id"), _LAST).to_numpy()
    return np.lexsort((record, rows.column("table_rank").to_numpy(), place)), place, persons


def fact_rows(conn: OmopConnection, cte: str, persons: np.ndarray) -> pd.DataFrame:
    """Measurement and observation rows of the cohort's persons ``persons`` (their ids in patient_id
    text order) as the facts frame (FACT_COLUMNS with ``table`` and ``record_id`` naming the record,
    plus ``concept_name``), in the contract's order."""
    tables = ["measurement"] + (["observation"] if conn.has("observation") else [])
    rows = conn.query(Q.facts(conn, cte, tables))
    order, place, persons = contract_order(rows, persons)
    rows = coded_text(rows.drop_columns(["person_id", "table_rank"])).take(order)
    rows = rows.set_column(rows.schema.get_field_index("date"), "date", rows.column("date").cast(pa.timestamp("ns")))
    df = rows.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    df.columns = [RENAMED.get(c, c) for c in df.columns]
    df.insert(0, "patient_id", person_text(persons)[place[order]])
    for c, t in (("concept_id", "Int64"), ("source_concept_id", "Int64"), ("value_number", "float64"),
                 ("range_low", "float64")):
        if df[c].dtype != t:
            df[c] = df[c].astype(t)
    return df
