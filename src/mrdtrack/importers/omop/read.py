"""An OMOP CDM v5.4 source -> the data contract's tables and the import log (docs/omop.md).

The shell part (``import_omop``) runs the queries of ``queries.py`` on the source (the facts read
and ordered by ``fact_rows.py``); the rest are pure functions from the query results to contract rows: facts (``importers.facts``), windows and
the data cut (``importers.window``), patients, events and therapy (``therapy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.contract import LAB_TESTS
from mrdtrack.errors import UserError
from mrdtrack.importers import facts as F
from mrdtrack.importers.log import LOG_COLUMNS, concat_logs, count_lines, log_frame, log_line, log_rows, merge_logs
from mrdtrack.importers.mapping import DEFAULT_MAPPING, EPISODE_PROGRESSION, GENDER, Mapping
from mrdtrack.importers.omop import queries as Q
from mrdtrack.importers.omop.connect import OmopConnection, open_source
from mrdtrack.importers.omop.fact_rows import fact_rows, id_text, in_text_order, person_text
from mrdtrack.importers.window import event_rows, keep_in_window, last_contact, out_of_window

LIGHT_CHAIN_FROM_RATIO = "LIGHT_CHAIN_FROM_RATIO"
DECIMAL_ROUNDS = "DECIMAL_ROUNDS_VALUES"
MIN_DECIMALS = 6  # MRD levels of 1e-6 need six decimals (docs/omop.md "Tables read")
KAPPA_RATIO, LAMBDA_RATIO = 1.65, 0.26  # IMWG normal FLC ratio range (Dispenzieri et al., Leukemia 2009)


@dataclass(frozen=True)
class OmopOptions:
    """The OMOP options of every command that takes a COHORT (docs/omop.md "Sources")."""

    schema: str | None = None
    vocab_schema: str | None = None
    cohort_id: int | None = None
    results_schema: str | None = None
    mapping: Mapping = DEFAULT_MAPPING


@dataclass
class Imported:
    """Contract tables (typed frames), the import log, the data cut and what was read."""

    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame
    data_cut: pd.Timestamp
    source: str
    kind: str
    details: dict = field(default_factory=dict)


def _frame(conn: OmopConnection, sql: str, types_mapper=None) -> pd.DataFrame:
    df = conn.query(sql).to_pandas(date_as_object=False, types_mapper=types_mapper)
    for c in df.columns:
        if c in ("date", "diagnosis_date", "start_date", "end_date", "birth_date"):
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


def _ids(x: pd.Series) -> pd.Series:
    """person_id as the contract's patient_id text (whole numbers without a decimal point)."""
    return pd.Series(person_text(x.to_numpy(dtype="int64")), index=x.index, dtype=object)


# ---------------------------------------------------------------------------------------- patients
def age_in_years(birth: pd.Series, year, month, day, diagnosis: pd.Series) -> pd.Series:
    """Whole years from the birth date (a missing day is the 1st, a missing month 15 June) to diagnosis."""
    m = pd.to_numeric(month, errors="coerce")
    d = pd.to_numeric(day, errors="coerce").where(m.notna(), 15).fillna(1)
    m = m.fillna(6)
    y = pd.to_numeric(year, errors="coerce")
    parts = pd.DataFrame({"year": y, "month": m, "day": d}).astype("float64")
    ok = parts.notna().all(axis=1)
    built = pd.Series(pd.NaT, index=birth.index, dtype="datetime64[ns]")
    if ok.any():
        built[ok] = pd.to_datetime(parts[ok].astype("int64"), errors="coerce")
    b = birth.fillna(built)
    years = diagnosis.dt.year - b.dt.year
    before = (diagnosis.dt.month < b.dt.month) | ((diagnosis.dt.month == b.dt.month) & (diagnosis.dt.day < b.dt.day))
    return (years - before.astype(int)).astype("float64")


def light_chain_from_ratio(labs: pd.DataFrame, patient_ids: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Involved light chain from the first kappa/lambda ratio (> 1.65 kappa, < 0.26 lambda), a warning each."""
    flc = labs[labs["test"].isin(["flc_kappa", "flc_lambda"]) & labs["patient_id"].isin(patient_ids)]
    factor = flc.apply(lambda r: LAB_TESTS[r["test"]].units.get(r["unit"], np.nan), axis=1) if len(flc) else []
    flc = flc.assign(mg_l=pd.to_numeric(flc["value"], errors="coerce") * factor)
    wide = flc.pivot_table(index=["patient_id", "date"], columns="test", values="mg_l", aggfunc="first")
    if not {"flc_kappa", "flc_lambda"} <= set(wide.columns):
        return pd.Series(dtype=object), log_frame()
    wide = wide.dropna().reset_index().sort_values(["patient_id", "date"]).drop_duplicates("patient_id")
    ratio = wide["flc_kappa"] / wide["flc_lambda"]
    chain = np.select([ratio > KAPPA_RATIO, ratio < LAMBDA_RATIO], ["kappa", "lambda"], None)
    got = pd.Series(chain, index=wide["patient_id"].to_numpy(), dtype=object)
    w = wide[pd.notna(chain)]
    log = log_rows(LIGHT_CHAIN_FROM_RATIO, "warning", "person:" + w["patient_id"].astype(str), w["patient_id"],
                   "light_chain " + got[w["patient_id"]].astype(str).to_numpy() + " from the first FLC ratio "
                   + ratio[pd.notna(chain)].map(lambda x: f"{x:.3g}").to_numpy() + " on "
                   + w["date"].dt.strftime("%Y-%m-%d").to_numpy())
    return got.dropna(), log


def patients_table(persons: pd.DataFrame, attributes: pd.DataFrame, labs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract patients rows: patient_id = person_id, never person_source_value (docs/omop.md)."""
    pid = _ids(persons["person_id"])
    p = pd.DataFrame({"patient_id": pid, "diagnosis_date": persons["diagnosis_date"].to_numpy(),
                      "age_at_diagnosis": age_in_years(persons["birth_date"], persons["year_of_birth"],
                                                       persons["month_of_birth"], persons["day_of_birth"],
                                                       persons["diagnosis_date"]).to_numpy(),
                      "sex": persons["gender_concept_id"].map(GENDER).fillna("U").to_numpy(dtype=object)})
    attrs = attributes.set_index("patient_id") if len(attributes) else pd.DataFrame(index=pd.Index([], name="patient_id"))
    for col in ("heavy_chain", "light_chain", "iss_stage", "cytogenetic_risk"):
        p[col] = p["patient_id"].map(attrs[col]) if col in attrs else None
    p["center"] = persons["center"].astype(object).to_numpy()
    log = log_frame()
    missing = p["light_chain"].isna()
    if missing.any():
        chain, log = light_chain_from_ratio(labs, p.loc[missing, "patient_id"])
        p.loc[missing, "light_chain"] = p.loc[missing, "patient_id"].map(chain)
    return p.astype({c: object for c in ("heavy_chain", "light_chain", "iss_stage", "cytogenetic_risk")}), log


# ------------------------------------------------------------------------------------------ events
def events_table(deaths: pd.DataFrame, progressions: pd.DataFrame, contact: pd.Series,
                 spm: pd.DataFrame | None = None) -> pd.DataFrame:
    """death, recorded progression, second primary malignancy (spm) and last_contact rows."""
    spm = pd.DataFrame(columns=["patient_id", "date"]) if spm is None else spm
    return event_rows([(deaths["patient_id"], deaths["date"], "death"),
                       (progressions["patient_id"], progressions["date"], "progression"),
                       (spm["patient_id"], spm["date"], "spm"),
                       (contact.index.to_numpy(dtype=object), contact.to_numpy(), "last_contact")])


def decimal_lines(columns: pd.DataFrame) -> list[dict]:
    """A warning per DECIMAL column with fewer than MIN_DECIMALS decimals (MRD levels would round)."""
    cols = columns[columns["data_type"].str.startswith(("numeric", "decimal")) & columns["numeric_scale"].notna()
                   & (pd.to_numeric(columns["numeric_scale"], errors="coerce") < MIN_DECIMALS)]
    return [log_line(DECIMAL_ROUNDS, "warning", "measurement", f"measurement.{c} is {t} with {int(k)} decimal(s): "
                     f"values below 1e-{int(k)} are rounded in the database (MRD levels need {MIN_DECIMALS})")
            for c, t, k in zip(cols["column_name"], cols["data_type"], cols["numeric_scale"])]


# -------------------------------------------------------------------------------------------- shell
def _window(rows: pd.DataFrame, table: str, diagnosis, death, cut, pre_days) -> tuple[pd.DataFrame, list]:
    why = out_of_window(rows, diagnosis, death, cut, pre_days)
    return keep_in_window(rows, table, why)


def in_person_order(rows: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Rows ordered by patient_id as text (the contract's order), each person's rows as they came:
    every person-ordered piece of a range then follows the previous range's (docs/omop.md "Large sources")."""
    text = id_text(ids) if ids.dtype.kind in "iuf" else ids.astype(str)
    codes = pd.factorize(text.to_numpy(dtype=object), sort=True)[0]
    return rows.iloc[np.argsort(codes, kind="stable")].reset_index(drop=True)


@dataclass
class SourcePlan:
    """What is global to a source, found once before its ranges of persons are read: the cohort
    (persons in patient_id text order), the data cut and the DECIMAL warnings (docs/omop.md)."""

    conn: OmopConnection
    options: OmopOptions
    config: Config
    persons: pd.DataFrame
    cut: pd.Timestamp
    log: pd.DataFrame

    def ranges(self, persons_per_range: int | None = None) -> list[np.ndarray]:
        """The person ids in consecutive ranges of ``persons_per_range`` (None: one range)."""
        ids = self.persons["person_id"].to_numpy()
        step = max(1, persons_per_range or len(ids))
        return [ids[i:i + step] for i in range(0, len(ids), step)]


def plan_source(conn: OmopConnection, options: OmopOptions, data_cut, today: pd.Timestamp,
                config: Config) -> SourcePlan:
    """The cohort, the data cut ("never set by future dates") and the source-level warnings."""
    if options.cohort_id is not None and not conn.has("cohort"):
        raise UserError(f"{conn.label}: --omop-cohort-id needs a 'cohort' table (results schema "
                        f"{options.results_schema or conn.schema})")
    cte = Q.cohort_cte(conn, options.mapping.cohort, options.cohort_id)
    persons = _frame(conn, Q.persons(conn, cte))
    if persons.empty:
        raise UserError(f"{conn.label}: no person has a myeloma condition (SNOMED "
                        f"{', '.join(options.mapping.cohort.snomed)} or ICD-10 {', '.join(options.mapping.cohort.icd10)})"
                        + (f" in cohort {options.cohort_id}" if options.cohort_id is not None else ""))
    if data_cut is not None and not pd.isna(data_cut):
        cut = pd.Timestamp(data_cut).normalize()
    else:
        latest = _frame(conn, Q.latest_date(conn, cte, f"{today:%Y-%m-%d}"))["date"]
        cut = pd.Timestamp(latest.iloc[0]) if len(latest) and not pd.isna(latest.iloc[0]) else pd.NaT
    decimal = log_frame(decimal_lines(conn.query(Q.numeric_scales(conn)).to_pandas()))
    return SourcePlan(conn, options, config, in_person_order(persons, persons["person_id"]), cut, decimal)


@dataclass
class RangeResult:
    """One range of persons imported: contract tables, its log (``concat_logs`` pieces) and the
    counts of its unmapped concepts (summed over ranges before they are logged)."""

    tables: dict[str, pd.DataFrame]
    log: pd.DataFrame
    unmapped: pd.Series


def text_span(ids: np.ndarray) -> tuple[str, ...]:
    """The first and the last of person ids in patient_id text order (``queries.cohort_cte``; no ids: ())."""
    ordered = in_text_order(np.asarray(ids, dtype="int64"))
    return tuple(person_text(ordered[[0, -1]])) if len(ordered) else ()


def import_range(plan: SourcePlan, ids: np.ndarray, whole: bool | None = None) -> RangeResult:
    """The persons ``ids`` (whole persons: consecutive persons of the cohort in patient_id text
    order, as ``SourcePlan.ranges`` cuts them) read and converted against the plan's global data
    cut; ``whole``: they are the whole cohort (no filter in the queries; default: as many as the plan's)."""
    from mrdtrack.importers.omop.therapy import treatments_table

    conn, options = plan.conn, plan.options
    whole = len(ids) == len(plan.persons) if whole is None else whole
    cte = Q.cohort_cte(conn, options.mapping.cohort, options.cohort_id, None if whole else text_span(ids))
    persons = plan.persons[plan.persons["person_id"].isin(ids)].reset_index(drop=True)
    facts = fact_rows(conn, cte, persons["person_id"].to_numpy(dtype="int64"))
    deaths = _frame(conn, Q.deaths(conn, cte)) if conn.has("death") else pd.DataFrame(columns=["person_id", "date"])
    deaths["patient_id"] = _ids(deaths["person_id"]) if len(deaths) else pd.Series(dtype=object)
    sql = Q.contacts(conn, cte)
    contacts = _frame(conn, sql) if sql else pd.DataFrame({"person_id": [], "date": pd.Series(dtype="datetime64[ns]")})
    contacts["patient_id"] = _ids(contacts["person_id"]) if len(contacts) else pd.Series(dtype=object)
    episodes = _frame(conn, Q.episodes(conn, cte)) if conn.has("episode") else None
    if episodes is not None:
        episodes = in_person_order(episodes, episodes["person_id"])
    return _assemble(conn, cte, options, persons, facts, deaths, contacts, episodes, plan.cut, plan.config,
                     treatments_table)


def merged_log(plan: SourcePlan, results: list[RangeResult]) -> pd.DataFrame:
    """The import log of every range as one: the DECIMAL warnings, the unmapped concepts (counts
    summed), then every range's lines merged piece by piece (``merge_logs``)."""
    counts = [r.unmapped for r in results if len(r.unmapped)]
    unmapped = pd.concat(counts).groupby(level=[0, 1, 2, 3]).sum().sort_index() if counts else pd.Series(dtype="int64")
    return concat_logs([plan.log, log_frame(F.unmapped_lines(unmapped)), merge_logs([r.log for r in results])])[
        LOG_COLUMNS]


def _concat_tables(results: list[RangeResult]) -> dict[str, pd.DataFrame]:
    names = results[0].tables.keys()
    return {n: pd.concat([r.tables[n] for r in results], ignore_index=True) if len(results) > 1
            else results[0].tables[n] for n in names}


def open_plan(cohort: str, options: OmopOptions, data_cut, today, config: Config | None) -> SourcePlan:
    """Open the source and plan its import; the caller closes ``plan.conn``."""
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today).normalize()
    conn = open_source(cohort, options.schema, options.vocab_schema, options.results_schema)
    try:
        return plan_source(conn, options, data_cut, today, config or Config())
    except BaseException:
        conn.close()
        raise


def imported_of(plan: SourcePlan, tables: dict, log: pd.DataFrame) -> Imported:
    """The import's result: tables (empty when streamed to files), log, data cut and what was read."""
    conn = plan.conn
    return Imported(tables, log, plan.cut, conn.label, conn.kind, {"schema": conn.schema, "tables": sorted(conn.where)})


def import_omop(cohort: str, options: OmopOptions = OmopOptions(), data_cut=None,
                today: pd.Timestamp | None = None, config: Config | None = None,
                persons_per_range: int | None = None) -> Imported:
    """Read an OMOP source into contract tables (docs/omop.md); UserError for an unusable source.
    ``persons_per_range``: read and convert that many persons at a time (the same tables and log)."""
    plan = open_plan(cohort, options, data_cut, today, config)
    try:
        results = [import_range(plan, ids) for ids in plan.ranges(persons_per_range)]
        return imported_of(plan, _concat_tables(results), merged_log(plan, results))
    finally:
        plan.conn.close()


def _assemble(conn, cte, options, persons, facts, deaths, contacts, episodes, cut, config,
              treatments_table) -> RangeResult:
    pids = _ids(persons["person_id"])
    diagnosis = pd.Series(persons["diagnosis_date"].to_numpy(), index=pids.to_numpy())
    death = pd.Series(deaths["date"].to_numpy(), index=deaths["patient_id"].to_numpy()) if len(deaths) else pd.Series(
        dtype="datetime64[ns]")
    pre = config.pre_diagnosis_days
    res = F.facts_to_contract(facts, options.mapping, summarise=False,
                              window=lambda rows: out_of_window(rows, diagnosis, death, cut, pre).to_numpy())
    logs, labs, mrd, img = [res.log], res.labs, res.mrd, res.imaging
    progs = pd.DataFrame(columns=["patient_id", "date"])
    if episodes is not None and len(episodes):
        pe = episodes[episodes["episode_concept_id"].isin(EPISODE_PROGRESSION)]
        progs = pd.DataFrame({"patient_id": _ids(pe["person_id"]), "date": pe["start_date"]})
        progs, l4 = _window(progs, "episode", diagnosis, death, cut, pre)
        logs.append(log_frame(l4))
    spm = pd.DataFrame(columns=["patient_id", "date"])
    if conn.has("condition_occurrence"):
        rows = _frame(conn, Q.second_primaries(conn, cte))
        rows = in_person_order(rows, rows["person_id"])
        spm = pd.DataFrame({"patient_id": _ids(rows["person_id"]) if len(rows) else pd.Series(dtype=object),
                            "date": rows["date"]}).drop_duplicates(["patient_id", "date"])
        spm, l_spm = _window(spm, "condition_occurrence", diagnosis, death, cut, pre)
        logs.append(log_frame(l_spm))
    dead = deaths[deaths["date"] <= cut] if not pd.isna(cut) else deaths
    contact = last_contact(pd.concat([contacts[["patient_id", "date"]], facts[["patient_id", "date"]]]), death, cut)
    patients, l5 = patients_table(persons, res.attributes, labs)
    treatments, l6 = treatments_table(conn, cte, options, patients.assign(death_date=patients["patient_id"].map(death)),
                                      episodes, progs, cut, pre)
    logs += [l5, l6, log_frame(count_lines("measurement+observation", len(facts),
                                           len(labs) + len(mrd) + len(img) + res.used["patients"]))]
    tables = {"patients": patients, "treatments": treatments, "labs": labs, "mrd": mrd,
              "events": events_table(dead, progs, contact, spm), "imaging": img}
    return RangeResult(tables, concat_logs(logs), res.unmapped)
