"""The SQL the OMOP reader sends (docs/omop.md "Tables read"): only the columns and persons needed.

Every query starts from the cohort (a CTE: persons with a myeloma condition, or an OHDSI cohort),
so a CDM of millions of persons is filtered in the database. The SQL is the common subset of
DuckDB and PostgreSQL; numbers are cast to DOUBLE PRECISION whatever their column type.
"""

from __future__ import annotations

from mrdtrack.importers.mapping import OPERATORS, SPM_ICD10_EXCLUDED, SPM_SNOMED, CohortRule
from mrdtrack.importers.omop.connect import OmopConnection

DRUG_EXPOSURE_FIELD = 1147094  # episode_event_field_concept_id: drug_exposure.drug_exposure_id
#: A person_id as the contract's patient_id text, compared in byte order (the plan's person order).
PERSON_TEXT = 'CAST(CAST({} AS BIGINT) AS VARCHAR) COLLATE "C"'


def _codes(codes) -> str:
    return ", ".join("'" + str(c).replace("'", "''") + "'" for c in codes) or "NULL"


def snomed_concepts(conn: OmopConnection, codes) -> str:
    """The concept ids of SNOMED ``codes`` and, when concept_ancestor is present, their descendants."""
    w = conn.where
    snomed = (f"SELECT concept_id FROM {w['concept']} WHERE vocabulary_id = 'SNOMED' "
              f"AND concept_code IN ({_codes(codes)})")
    if conn.has("concept_ancestor"):
        snomed += (f" UNION SELECT ca.descendant_concept_id FROM {w['concept_ancestor']} ca "
                   f"WHERE ca.ancestor_concept_id IN ({snomed})")
    return snomed


def cohort_cte(conn: OmopConnection, rule: CohortRule, cohort_id: int | None,
               span: tuple[str, str] | None = None) -> str:
    """``WITH mm_concepts AS (...), cohort AS (person_id, diagnosis_date)`` for the other queries;
    ``span`` (first, last person_id as text; empty: nobody): the cohort's persons from first to
    last in text order, one range of a streamed import. Two bounds, not a list of ids: a list of
    thousands of ids costs more to parse than the query costs to run (docs/omop.md "Large sources")."""
    w = conn.where
    snomed = snomed_concepts(conn, rule.snomed)
    icd = " OR ".join(f"replace(upper(trim(co.condition_source_value)), '.', '') LIKE '{c.replace('.', '').upper()}%'"
                      for c in rule.icd10) or "FALSE"
    if conn.has("condition_occurrence"):
        mm = (f"SELECT co.person_id, MIN(CAST(co.condition_start_date AS DATE)) AS diagnosis_date "
              f"FROM {w['condition_occurrence']} co WHERE co.condition_concept_id IN (SELECT concept_id FROM mm_concepts) "
              f"OR {icd} GROUP BY co.person_id")
    else:
        mm = "SELECT CAST(NULL AS BIGINT) AS person_id, CAST(NULL AS DATE) AS diagnosis_date WHERE FALSE"
    if cohort_id is None:
        body = "SELECT person_id, diagnosis_date FROM mm_dx"
    else:
        body = (f"SELECT c.subject_id AS person_id, COALESCE(MIN(d.diagnosis_date), MIN(CAST(c.cohort_start_date AS DATE))) "
                f"AS diagnosis_date FROM {w['cohort']} c LEFT JOIN mm_dx d ON d.person_id = c.subject_id "
                f"WHERE c.cohort_definition_id = {int(cohort_id)} GROUP BY c.subject_id")
    if span is not None:  # the plan's persons (with a person row) from first to last
        within = (f"{PERSON_TEXT.format('person_id')} BETWEEN '{int(span[0])}' AND '{int(span[1])}' "
                  f"AND person_id IN (SELECT person_id FROM {w['person']})" if span else "FALSE")
        body = f"SELECT person_id, diagnosis_date FROM ({body}) r WHERE {within}"
    return f"WITH mm_concepts AS ({snomed}), mm_dx AS ({mm}), cohort AS ({body}) "


def persons(conn: OmopConnection, cte: str) -> str:
    w = conn.where
    site = (f"LEFT JOIN {w['care_site']} cs ON cs.care_site_id = p.care_site_id" if conn.has("care_site") else "")
    name = "cs.care_site_name" if conn.has("care_site") else "CAST(NULL AS VARCHAR)"
    return (cte + "SELECT p.person_id, c.diagnosis_date, p.gender_concept_id, p.year_of_birth, p.month_of_birth, "
            f"p.day_of_birth, CAST(p.birth_datetime AS DATE) AS birth_date, {name} AS center "
            f"FROM {w['person']} p JOIN cohort c ON c.person_id = p.person_id {site} ORDER BY p.person_id")


def _fact_select(table: str, alias: str, observation: bool, table_rank: int) -> str:
    number = "CAST(NULL AS DOUBLE PRECISION)" if observation else f"CAST({alias}.range_low AS DOUBLE PRECISION)"
    text = (f"COALESCE({alias}.value_as_string, vc.concept_name, {alias}.value_source_value)" if observation
            else f"COALESCE(vc.concept_name, {alias}.value_source_value)")
    ops = " ".join(f"WHEN {k} THEN '{v}'" for k, v in OPERATORS.items())
    operator = "CAST(NULL AS VARCHAR)" if observation else f"CASE {alias}.operator_concept_id {ops} END"
    return (f"SELECT CAST({alias}.person_id AS BIGINT) AS person_id, '{table}' AS source_table, "
            f"{table_rank} AS table_rank, CAST({alias}.{table}_id AS BIGINT) AS record_id, "
            f"CAST({alias}.{table}_date AS DATE) AS date, "
            f"CAST({alias}.{table}_concept_id AS BIGINT) AS concept_id, "
            f"CAST({alias}.{table}_source_concept_id AS BIGINT) AS source_concept_id, "
            f"{alias}.{table}_source_value AS source_value, CAST({alias}.value_as_number AS DOUBLE PRECISION) AS value_number, "
            f"{operator} AS operator, "
            f"COALESCE(CASE WHEN {alias}.unit_concept_id <> 0 THEN uc.concept_code END, {alias}.unit_source_value) AS unit, "
            f"CASE WHEN vc.vocabulary_id = 'LOINC' THEN vc.concept_code END AS value_code, {text} AS value_text, "
            f"{number} AS range_low, CASE WHEN mc.vocabulary_id = 'LOINC' THEN mc.concept_code END AS loinc, "
            "mc.concept_name AS concept_name ")


def _facts_of(conn: OmopConnection, table: str, table_rank: int) -> str:
    w = conn.where
    a = "m"
    return (_fact_select(table, a, table == "observation", table_rank)
            + f"FROM {w[table]} {a} JOIN cohort c ON c.person_id = {a}.person_id "
            f"LEFT JOIN {w['concept']} mc ON mc.concept_id = {a}.{table}_concept_id "
            f"LEFT JOIN {w['concept']} uc ON uc.concept_id = {a}.unit_concept_id "
            f"LEFT JOIN {w['concept']} vc ON vc.concept_id = {a}.value_as_concept_id")


def facts(conn: OmopConnection, cte: str, tables) -> str:
    """Measurement and observation rows of cohort persons, with their codes resolved, unordered:
    the reader puts them in the contract's order (``table_rank``: the table name's place in byte
    order; ``omop.fact_rows``), cheaper than the database sorting rows of text."""
    return cte + " UNION ALL ".join(_facts_of(conn, t, sorted(tables).index(t)) for t in tables)


def deaths(conn: OmopConnection, cte: str) -> str:
    return (cte + "SELECT d.person_id, MIN(CAST(d.death_date AS DATE)) AS date "
            f"FROM {conn.where['death']} d JOIN cohort c ON c.person_id = d.person_id GROUP BY d.person_id")


def second_primaries(conn: OmopConnection, cte: str) -> str:
    """Conditions of cohort persons that are a second primary malignancy (mapping.SPM_SNOMED with its
    descendants, or an ICD-10 C code outside mapping.SPM_ICD10_EXCLUDED), starting after diagnosis."""
    w = conn.where
    code = "replace(upper(trim(co.condition_source_value)), '.', '')"
    icd = f"({code} LIKE 'C%' AND substr({code}, 2, 1) BETWEEN '0' AND '9' AND NOT (" + " OR ".join(f"{code} LIKE '{p}%'" for p in SPM_ICD10_EXCLUDED) + "))"
    snomed = snomed_concepts(conn, SPM_SNOMED)
    return (cte + "SELECT co.person_id, CAST(co.condition_start_date AS DATE) AS date, "
            "'condition_occurrence:' || CAST(co.condition_occurrence_id AS VARCHAR) AS record "
            f"FROM {w['condition_occurrence']} co JOIN cohort c ON c.person_id = co.person_id "
            f"WHERE (co.condition_concept_id IN ({snomed}) OR {icd}) "
            "AND co.condition_concept_id NOT IN (SELECT concept_id FROM mm_concepts) "
            "AND CAST(co.condition_start_date AS DATE) > c.diagnosis_date ORDER BY co.condition_occurrence_id")


def contacts(conn: OmopConnection, cte: str) -> str:
    """Observation-period ends and visit dates of cohort persons (last contact, data cut)."""
    parts = _contact_parts(conn)
    return cte + " UNION ALL ".join(parts) if parts else ""


def _contact_parts(conn: OmopConnection) -> list[str]:
    parts = []
    if conn.has("observation_period"):
        parts.append(f"SELECT o.person_id, CAST(o.observation_period_end_date AS DATE) AS date, 'observation_period' AS src "
                     f"FROM {conn.where['observation_period']} o JOIN cohort c ON c.person_id = o.person_id")
    if conn.has("visit_occurrence"):
        parts.append("SELECT v.person_id, CAST(COALESCE(v.visit_end_date, v.visit_start_date) AS DATE) AS date, "
                     f"'visit_occurrence' AS src FROM {conn.where['visit_occurrence']} v "
                     "JOIN cohort c ON c.person_id = v.person_id")
    return parts


def latest_date(conn: OmopConnection, cte: str, today: str) -> str:
    """The latest date not after ``today`` (ISO) among the cohort's measurement and observation
    dates, death dates (a person's first) and contacts: the data cut, found before any range is read
    (docs/omop.md "Events, data cut, windows")."""
    w = conn.where
    parts = [f"SELECT CAST(t.{t}_date AS DATE) AS date FROM {w[t]} t JOIN cohort c ON c.person_id = t.person_id"
             for t in ("measurement", "observation") if conn.has(t)]
    if conn.has("death"):
        parts.append(f"SELECT MIN(CAST(d.death_date AS DATE)) AS date FROM {w['death']} d "
                     "JOIN cohort c ON c.person_id = d.person_id GROUP BY d.person_id")
    parts += [f"SELECT date FROM ({p}) x" for p in _contact_parts(conn)]
    return (cte + f"SELECT MAX(date) AS date FROM ({' UNION ALL '.join(parts)}) u "
            f"WHERE date <= CAST('{today}' AS DATE)")


def episodes(conn: OmopConnection, cte: str) -> str:
    w = conn.where
    return (cte + "SELECT e.episode_id, e.person_id, e.episode_concept_id, CAST(e.episode_start_date AS DATE) AS start_date, "
            "CAST(e.episode_end_date AS DATE) AS end_date, e.episode_number, e.episode_source_value, "
            f"oc.concept_name AS object_name FROM {w['episode']} e JOIN cohort c ON c.person_id = e.person_id "
            f"LEFT JOIN {w['concept']} oc ON oc.concept_id = e.episode_object_concept_id ORDER BY e.episode_id")


def episode_drugs(conn: OmopConnection, cte: str) -> str:
    """Drug exposures linked to treatment-regimen episodes (Oncology extension)."""
    w = conn.where
    return (cte + "SELECT ee.episode_id, ee.event_id AS drug_exposure_id FROM "
            f"{w['episode_event']} ee JOIN {w['episode']} e ON e.episode_id = ee.episode_id "
            f"JOIN cohort c ON c.person_id = e.person_id WHERE ee.episode_event_field_concept_id = {DRUG_EXPOSURE_FIELD}")


def drugs(conn: OmopConnection, cte: str) -> str:
    """Drug exposures of cohort persons, with their ingredients through concept_ancestor when present."""
    w = conn.where
    ingredient = ""
    if conn.has("concept_ancestor"):
        ingredient = (f"LEFT JOIN (SELECT ca.descendant_concept_id, ic.concept_name FROM {w['concept_ancestor']} ca "
                      f"JOIN {w['concept']} ic ON ic.concept_id = ca.ancestor_concept_id "
                      "AND ic.concept_class_id = 'Ingredient') ing ON ing.descendant_concept_id = d.drug_concept_id ")
    iname = "ing.concept_name" if ingredient else "CAST(NULL AS VARCHAR)"
    return (cte + "SELECT d.drug_exposure_id, d.person_id, CAST(d.drug_exposure_start_date AS DATE) AS start_date, "
            "CAST(d.drug_exposure_end_date AS DATE) AS end_date, CAST(d.days_supply AS DOUBLE PRECISION) AS days_supply, "
            f"d.drug_concept_id, dc.concept_name AS drug_name, d.drug_source_value, {iname} AS ingredient_name "
            f"FROM {w['drug_exposure']} d JOIN cohort c ON c.person_id = d.person_id "
            f"LEFT JOIN {w['concept']} dc ON dc.concept_id = d.drug_concept_id {ingredient}"
            "ORDER BY d.drug_exposure_id, ingredient_name")


def procedures(conn: OmopConnection, cte: str) -> str:
    w = conn.where
    return (cte + "SELECT p.procedure_occurrence_id, p.person_id, CAST(p.procedure_date AS DATE) AS date, "
            "p.procedure_concept_id, pc.concept_name, p.procedure_source_value "
            f"FROM {w['procedure_occurrence']} p JOIN cohort c ON c.person_id = p.person_id "
            f"LEFT JOIN {w['concept']} pc ON pc.concept_id = p.procedure_concept_id ORDER BY p.procedure_occurrence_id")


def count_rows(conn: OmopConnection, cte: str, table: str) -> str:
    """Rows of ``table`` belonging to cohort persons (the import log's 'rows in')."""
    return cte + f"SELECT COUNT(*) AS n FROM {conn.where[table]} t JOIN cohort c ON c.person_id = t.person_id"


def numeric_scales(conn: OmopConnection) -> str:
    """Declared type and scale of measurement.value_as_number and range_low (DECIMAL rounding check)."""
    return ("SELECT lower(column_name) AS column_name, lower(data_type) AS data_type, numeric_scale "
            "FROM information_schema.columns WHERE lower(table_name) = 'measurement' "
            f"AND table_schema = '{conn.schema}' AND lower(column_name) IN ('value_as_number', 'range_low')")
