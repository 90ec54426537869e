"""Contract tables -> OMOP CDM v5.4 tables (``mrdtrack simulate --format omop``; the tests' fixtures).

The simulator's cohort (or any contract folder) written as OMOP, with a small CONCEPT table using
the codes of the default mapping (docs/mapping.md): LOINC for the tests that have one, the
contract's own names as source values for the rest, the fixed concepts of docs/omop.md (sex,
operators, episodes) and, for everything else, local concepts numbered from 2,000,000,001 (the
OMOP range for site-specific concepts).

Patients become persons numbered 1, 2, ... in the patients table's order (``person_ids`` gives
the map); the contract's patient_id is the ``person_source_value`` (which mrdtrack never shows).
Therapy is written as Oncology-extension regimen episodes (default) or, with ``episodes=False``,
as drug exposures and transplant procedures only (``treatments_to_drug_records`` of the phases
module), so that both paths of the reader can be compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.contract import LAB_TESTS
from mrdtrack.importers.mapping import DEFAULT_MAPPING, EPISODE_PROGRESSION, EPISODE_TREATMENT_REGIMEN, SPM_SNOMED
from mrdtrack.importers.omop.ddl import TABLES, create_table_sql

LOCAL = 2_000_000_001
MM_SNOMED = ("109989006", "Multiple myeloma")
UCUM = {"g/dL": "g/dL", "g/L": "g/L", "mg/24h": "mg/(24.h)", "g/24h": "g/(24.h)", "mg/L": "mg/L", "mg/dL": "mg/dL",
        "%": "%", "cm2": "cm2", "{fraction}": "{fraction}"}
ANSWERS = {"positive": ("LA6576-8", "Positive"), "negative": ("LA6577-6", "Negative")}
WORD_ANSWER = {"positive": "positive", "clonal": "positive", "yes": "positive", "negative": "negative",
               "polyclonal": "negative"}
FIXED = [(8507, "MALE", "Gender", "Gender", "M"), (8532, "FEMALE", "Gender", "Gender", "F"),
         (4171756, "<", "Meas Value Operator", "SNOMED", "4171756"),
         (4171754, "<=", "Meas Value Operator", "SNOMED", "4171754"),
         (EPISODE_TREATMENT_REGIMEN, "Treatment Regimen", "Episode", "Episode", "OMOP4998891"),
         (EPISODE_PROGRESSION[0], "Disease Progression", "Episode", "Episode", "OMOP4998901")]
TRANSPLANT_NAME = "Autologous hematopoietic stem cell transplant"


class Concepts:
    """The CONCEPT table being built: fixed concepts plus local ones numbered from LOCAL."""

    def __init__(self):
        self.rows = [dict(concept_id=c, concept_name=n, domain_id=d, vocabulary_id=v, concept_class_id=d,
                          standard_concept="S", concept_code=code) for c, n, d, v, code in FIXED]
        self.by_key: dict[tuple[str, str], int] = {}

    def get(self, vocabulary: str, code: str, name: str, domain: str, cls: str | None = None) -> int:
        key = (vocabulary, code)
        if key not in self.by_key:
            cid = LOCAL + len(self.by_key)
            self.by_key[key] = cid
            self.rows.append(dict(concept_id=cid, concept_name=name, domain_id=domain, vocabulary_id=vocabulary,
                                  concept_class_id=cls or domain, standard_concept="S", concept_code=code))
        return self.by_key[key]

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df["valid_start_date"], df["valid_end_date"], df["invalid_reason"] = pd.Timestamp("1970-01-01"), \
            pd.Timestamp("2099-12-31"), None
        return df


def person_ids(patients: pd.DataFrame) -> dict[str, int]:
    """Contract patient_id -> person_id (1, 2, ... in the patients table's order)."""
    return {str(p): i + 1 for i, p in enumerate(patients["patient_id"].astype(str))}


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")


def _typed(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if c in ("date", "diagnosis_date", "start_date", "end_date"):
                df[c] = _dates(df[c])
        out[name] = df
    return out


def _person(p: pd.DataFrame, ids: dict, concepts: Concepts) -> tuple[pd.DataFrame, pd.DataFrame]:
    age = pd.to_numeric(p.get("age_at_diagnosis"), errors="coerce")
    birth = pd.Series([d - pd.DateOffset(years=int(a)) if pd.notna(a) and pd.notna(d) else pd.NaT
                       for d, a in zip(p["diagnosis_date"], age)], dtype="datetime64[ns]")
    centres = sorted(p["center"].dropna().astype(str).unique()) if "center" in p else []
    site = {c: i + 1 for i, c in enumerate(centres)}
    person = pd.DataFrame({
        "person_id": p["patient_id"].astype(str).map(ids).to_numpy(),
        "gender_concept_id": p.get("sex", pd.Series(index=p.index, dtype=object)).map({"M": 8507, "F": 8532})
        .fillna(0).astype("int64").to_numpy(),
        "year_of_birth": birth.dt.year.astype("Int64").to_numpy(), "month_of_birth": birth.dt.month.astype("Int64").to_numpy(),
        "day_of_birth": birth.dt.day.astype("Int64").to_numpy(), "birth_datetime": birth.to_numpy(),
        "race_concept_id": 0, "ethnicity_concept_id": 0,
        "care_site_id": (p["center"].astype(object).map(site) if "center" in p else pd.Series(np.nan, index=p.index))
        .astype("Int64").to_numpy(),
        "person_source_value": p["patient_id"].astype(str).to_numpy()})
    care = pd.DataFrame({"care_site_id": list(site.values()), "care_site_name": list(site.keys())})
    return person, care


def _lab_concept(test: str, concepts: Concepts) -> tuple[int, str | None]:
    sel = DEFAULT_MAPPING.labs[test]
    if sel.loinc:
        return concepts.get("LOINC", sel.loinc[0], LAB_TESTS[test].meaning, "Measurement", "Lab Test"), None
    return 0, sel.source_value[0]


def _measure_rows(pid, date, concept, source, number, operator, unit, value_concept, range_low) -> pd.DataFrame:
    return pd.DataFrame({"person_id": pid, "measurement_concept_id": concept, "measurement_date": date,
                         "measurement_type_concept_id": 32817, "operator_concept_id": operator,
                         "value_as_number": number, "value_as_concept_id": value_concept, "unit_concept_id": unit,
                         "range_low": range_low, "measurement_source_value": source})


def _answer_concepts(words: pd.Series, concepts: Concepts) -> pd.Series:
    ids = {w: concepts.get("LOINC", *ANSWERS[a], "Meas Value", "Answer") for w, a in WORD_ANSWER.items()}
    return words.astype(str).str.lower().map(ids).astype("Int64")


def _labs(labs: pd.DataFrame, ids: dict, concepts: Concepts) -> pd.DataFrame:
    parts = []
    for test, rows in labs.groupby("test", sort=False):
        concept, source = _lab_concept(test, concepts)
        pid = rows["patient_id"].astype(str).map(ids).to_numpy()
        if LAB_TESTS[test].numeric:
            unit = rows["unit"].astype(str).map(lambda u: concepts.get("UCUM", UCUM.get(u, u), u, "Unit"))
            value = pd.to_numeric(rows["value"], errors="coerce")
            parts.append(_measure_rows(pid, rows["date"].to_numpy(), concept, source, value.to_numpy(), pd.NA,
                                       unit.to_numpy(), pd.NA, np.nan))
        else:
            parts.append(_measure_rows(pid, rows["date"].to_numpy(), concept, source, np.nan, pd.NA, pd.NA,
                                       _answer_concepts(rows["value"], concepts).to_numpy(), np.nan))
    return pd.concat(parts, ignore_index=True) if parts else _measure_rows([], [], [], [], [], [], [], [], [])


def _mrd(mrd: pd.DataFrame, ids: dict, concepts: Concepts) -> pd.DataFrame:
    """MRD rows in {fraction} (exact: no scaling): not detected = '<' the LOD; detected = level, range_low = LOD."""
    frac = concepts.get("UCUM", "{fraction}", "fraction", "Unit")
    parts = []
    for method, rows in mrd.groupby("method", sort=False):
        sel = DEFAULT_MAPPING.mrd.get(method)
        if sel is None or sel.empty:
            continue
        concept = concepts.get("LOINC", sel.loinc[0], f"MRD by {method}", "Measurement", "Lab Test") if sel.loinc else 0
        source = None if sel.loinc else sel.source_value[0]
        det = (rows["result"] == "detected").to_numpy()
        lod = pd.to_numeric(rows["lod"], errors="coerce").to_numpy()
        level = pd.to_numeric(rows["level"], errors="coerce").to_numpy()
        parts.append(_measure_rows(rows["patient_id"].astype(str).map(ids).to_numpy(), rows["date"].to_numpy(), concept,
                                   source, np.where(det, level, lod), np.where(det, pd.NA, 4171756), frac, pd.NA,
                                   np.where(det, lod, np.nan)))
    return pd.concat(parts, ignore_index=True) if parts else _measure_rows([], [], [], [], [], [], [], [], [])


def _imaging(img: pd.DataFrame, ids: dict, concepts: Concepts) -> pd.DataFrame:
    parts = []
    for modality, rows in img.groupby("modality", sort=False):
        sel = DEFAULT_MAPPING.imaging.get(modality)
        if sel is None:
            continue
        parts.append(_measure_rows(rows["patient_id"].astype(str).map(ids).to_numpy(), rows["date"].to_numpy(), 0,
                                   sel.source_value[0], np.nan, pd.NA, pd.NA,
                                   _answer_concepts(rows["result"], concepts).to_numpy(), np.nan))
    return pd.concat(parts, ignore_index=True) if parts else _measure_rows([], [], [], [], [], [], [], [], [])


def _observations(p: pd.DataFrame, ids: dict) -> pd.DataFrame:
    parts = []
    for attr, sel in DEFAULT_MAPPING.patients.items():
        if attr not in p:
            continue
        rows = p[p[attr].notna()]
        parts.append(pd.DataFrame({"person_id": rows["patient_id"].astype(str).map(ids).to_numpy(),
                                   "observation_concept_id": 0, "observation_date": rows["diagnosis_date"].to_numpy(),
                                   "observation_type_concept_id": 32817, "value_as_string": rows[attr].astype(str).to_numpy(),
                                   "observation_source_value": sel.source_value[0]}))
    obs = pd.concat(parts, ignore_index=True)
    obs.insert(0, "observation_id", np.arange(1, len(obs) + 1))
    return obs


def _episodes(tr: pd.DataFrame, ev: pd.DataFrame, ids: dict, concepts: Concepts) -> pd.DataFrame:
    regimen = tr["regimen"].fillna("").astype(str).map(lambda r: concepts.get("mrdtrack", "regimen:" + r, r or "unnamed",
                                                                            "Regimen") if r else 0)
    line = np.where(tr["phase"] == "later_line", 2, 1)
    reg = pd.DataFrame({"person_id": tr["patient_id"].astype(str).map(ids).to_numpy(),
                        "episode_concept_id": EPISODE_TREATMENT_REGIMEN, "episode_start_date": tr["start_date"].to_numpy(),
                        "episode_end_date": tr["end_date"].to_numpy(), "episode_number": line,
                        "episode_object_concept_id": regimen.to_numpy(), "episode_type_concept_id": 32545,
                        "episode_source_value": tr["phase"].to_numpy()})
    prog = ev[ev["event"] == "progression"]
    pr = pd.DataFrame({"person_id": prog["patient_id"].astype(str).map(ids).to_numpy(),
                       "episode_concept_id": EPISODE_PROGRESSION[0], "episode_start_date": prog["date"].to_numpy(),
                       "episode_end_date": prog["date"].to_numpy(), "episode_number": 1,
                       "episode_object_concept_id": 0, "episode_type_concept_id": 32545,
                       "episode_source_value": "progression"})
    out = pd.concat([reg, pr], ignore_index=True)
    out.insert(0, "episode_id", np.arange(1, len(out) + 1))
    return out


def _drugs(tr: pd.DataFrame, ev: pd.DataFrame, data_cut: pd.Timestamp, ids: dict, concepts: Concepts):
    """Therapy as drug exposures and transplant procedures (the phases module's inverse rules)."""
    from mrdtrack.importers.drug_records import treatments_to_drug_records
    from mrdtrack.importers.phase_rules import PhaseRules

    recs, procs = treatments_to_drug_records(tr, PhaseRules(), data_cut)
    names = recs["ingredient"].astype(str)
    drug = pd.DataFrame({"drug_exposure_id": np.arange(1, len(recs) + 1),
                         "person_id": recs["patient_id"].astype(str).map(ids).to_numpy(),
                         "drug_concept_id": names.map(lambda n: concepts.get("RxNorm", "in:" + n, n, "Drug", "Ingredient")).to_numpy(),
                         "drug_exposure_start_date": recs["start_date"].to_numpy(),
                         "drug_exposure_end_date": recs["end_date"].to_numpy(), "drug_type_concept_id": 32817,
                         "drug_source_value": names.to_numpy()})
    tx = concepts.get("SNOMED", "mrdtrack-asct", TRANSPLANT_NAME, "Procedure")
    proc = pd.DataFrame({"procedure_occurrence_id": np.arange(1, len(procs) + 1),
                         "person_id": procs["patient_id"].astype(str).map(ids).to_numpy(), "procedure_concept_id": tx,
                         "procedure_date": procs["date"].to_numpy(), "procedure_type_concept_id": 32817,
                         "procedure_source_value": "ASCT"})
    prog = _episodes(tr.iloc[0:0], ev, ids, concepts)
    return drug, proc, prog


def _periods(tables: dict, ids: dict) -> pd.DataFrame:
    """One observation period per person: first to last date; ends at the last contact when recorded."""
    dates = []
    for df in tables.values():
        for c in ("date", "diagnosis_date", "start_date", "end_date"):
            if c in df:
                dates.append(pd.DataFrame({"patient_id": df["patient_id"].astype(str), "date": df[c]}))
    d = pd.concat(dates).dropna()
    g = d.groupby("patient_id")["date"]
    ev = tables["events"]
    lc = ev[ev["event"] == "last_contact"].groupby(ev["patient_id"].astype(str))["date"].max()
    end = g.max()
    end = lc.reindex(end.index).fillna(end)
    start = g.min()
    return pd.DataFrame({"observation_period_id": np.arange(1, len(start) + 1),
                         "person_id": start.index.map(ids).to_numpy(), "observation_period_start_date": start.to_numpy(),
                         "observation_period_end_date": end.to_numpy(), "period_type_concept_id": 32817})


def contract_to_omop(tables: dict[str, pd.DataFrame], episodes: bool = True) -> dict[str, pd.DataFrame]:
    """OMOP v5.4 tables (frames with the DDL's columns) holding the contract tables' cohort."""
    t = _typed(tables)
    p = t["patients"]
    ids = person_ids(p)
    concepts = Concepts()
    mm = concepts.get("SNOMED", *MM_SNOMED, "Condition", "Disorder")
    person, care = _person(p, ids, concepts)
    empty = {n: t.get(n, pd.DataFrame(columns=["patient_id", "date"])) for n in ("labs", "mrd", "imaging", "events")}
    spm = empty["events"][empty["events"]["event"] == "spm"] if "event" in empty["events"] else empty["events"]
    malignant = concepts.get("SNOMED", SPM_SNOMED[0], "Malignant neoplastic disease", "Condition", "Disorder")
    cond = pd.concat([
        pd.DataFrame({"person_id": person["person_id"], "condition_concept_id": mm,
                      "condition_start_date": p["diagnosis_date"].to_numpy(), "condition_source_value": "C90.00"}),
        pd.DataFrame({"person_id": spm["patient_id"].astype(str).map(ids).to_numpy(), "condition_concept_id": malignant,
                      "condition_start_date": spm["date"].to_numpy(), "condition_source_value": "C80.1"}),
    ], ignore_index=True)  # a second primary by its SNOMED concept (C80.1 alone would not qualify)
    cond.insert(0, "condition_occurrence_id", np.arange(1, len(cond) + 1))
    cond["condition_type_concept_id"] = 32817
    meas = pd.concat([_labs(empty["labs"], ids, concepts), _mrd(empty["mrd"], ids, concepts),
                      _imaging(empty["imaging"], ids, concepts)], ignore_index=True)
    meas.insert(0, "measurement_id", np.arange(1, len(meas) + 1))
    ev = empty["events"]
    death = ev[ev["event"] == "death"]
    out = {"person": person, "care_site": care, "condition_occurrence": cond, "measurement": meas,
           "observation": _observations(p, ids), "observation_period": _periods(t, ids),
           "death": pd.DataFrame({"person_id": death["patient_id"].astype(str).map(ids).to_numpy(),
                                  "death_date": death["date"].to_numpy(), "death_type_concept_id": 32817})}
    tr = t.get("treatments")
    if episodes:
        out["episode"] = _episodes(tr, ev, ids, concepts)
    else:
        cut = out["observation_period"]["observation_period_end_date"].max()
        out["drug_exposure"], out["procedure_occurrence"], out["episode"] = _drugs(tr, ev, cut, ids, concepts)
    out["concept"] = concepts.frame()
    return {name: _conform(name, df) for name, df in out.items()}


def _conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The DDL's columns in order (missing ones blank), typed as the DDL says."""
    out = pd.DataFrame(index=df.index)
    for col, typ in TABLES[name]:
        s = df[col] if col in df else pd.Series(pd.NA, index=df.index)
        if typ in ("INTEGER", "BIGINT"):
            s = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif typ in ("DATE", "TIMESTAMP"):
            s = pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
        elif typ in ("DOUBLE PRECISION", "NUMERIC"):
            s = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            s = s.astype(object).where(s.notna(), None)
        out[col] = s
    return out.reset_index(drop=True)


# ------------------------------------------------------------------------------------------ writers
def write_duckdb(omop: dict[str, pd.DataFrame], path: str | Path, schema: str = "main") -> Path:
    """One DuckDB file with the tables in ``schema`` (created with the project's v5.4 DDL)."""
    import duckdb

    path = Path(path)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        if schema != "main":
            con.execute(f"CREATE SCHEMA {schema}")
        for name, df in omop.items():
            con.execute(create_table_sql(name, schema))
            con.register("frame", df)
            con.execute(f"INSERT INTO {schema}.{name} SELECT * FROM frame")
            con.unregister("frame")
    finally:
        con.close()
    return path


def write_folder(omop: dict[str, pd.DataFrame], folder: str | Path, fmt: str = "parquet") -> list[Path]:
    """One file per table (``person.parquet``, ...; CSV dates as ISO text)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in omop.items():
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            df.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d")
        else:
            df.to_parquet(path, index=False)
        paths.append(path)
    return paths
