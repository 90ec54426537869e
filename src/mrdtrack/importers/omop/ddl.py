"""DDL of the OMOP CDM v5.4 tables mrdtrack reads (official column names and types, OHDSI CommonDataModel
v5.4 DDL), written by the project for the simulator's DuckDB writer and the PostgreSQL tests.

One deliberate change from the official DDL: ``value_as_number``, ``range_low`` and ``range_high``
are DOUBLE PRECISION instead of NUMERIC, since a NUMERIC without a scale rounds MRD levels such as
1e-6 in some engines (docs/omop.md). Only the tables mrdtrack reads are listed.
"""

from __future__ import annotations

INT, B, D, TS, N, F = "INTEGER", "BIGINT", "DATE", "TIMESTAMP", "NUMERIC", "DOUBLE PRECISION"


def V(n: int) -> str:
    return f"VARCHAR({n})"


TABLES: dict[str, list[tuple[str, str]]] = {
    "person": [("person_id", INT), ("gender_concept_id", INT), ("year_of_birth", INT), ("month_of_birth", INT),
               ("day_of_birth", INT), ("birth_datetime", TS), ("race_concept_id", INT), ("ethnicity_concept_id", INT),
               ("location_id", INT), ("provider_id", INT), ("care_site_id", INT), ("person_source_value", V(50)),
               ("gender_source_value", V(50)), ("gender_source_concept_id", INT), ("race_source_value", V(50)),
               ("race_source_concept_id", INT), ("ethnicity_source_value", V(50)), ("ethnicity_source_concept_id", INT)],
    "observation_period": [("observation_period_id", INT), ("person_id", INT), ("observation_period_start_date", D),
                           ("observation_period_end_date", D), ("period_type_concept_id", INT)],
    "visit_occurrence": [("visit_occurrence_id", INT), ("person_id", INT), ("visit_concept_id", INT), ("visit_start_date", D),
                         ("visit_start_datetime", TS), ("visit_end_date", D), ("visit_end_datetime", TS),
                         ("visit_type_concept_id", INT), ("provider_id", INT), ("care_site_id", INT),
                         ("visit_source_value", V(50)), ("visit_source_concept_id", INT)],
    "condition_occurrence": [("condition_occurrence_id", INT), ("person_id", INT), ("condition_concept_id", INT),
                             ("condition_start_date", D), ("condition_start_datetime", TS), ("condition_end_date", D),
                             ("condition_end_datetime", TS), ("condition_type_concept_id", INT),
                             ("condition_status_concept_id", INT), ("stop_reason", V(20)), ("provider_id", INT),
                             ("visit_occurrence_id", INT), ("visit_detail_id", INT), ("condition_source_value", V(50)),
                             ("condition_source_concept_id", INT), ("condition_status_source_value", V(50))],
    "drug_exposure": [("drug_exposure_id", INT), ("person_id", INT), ("drug_concept_id", INT),
                      ("drug_exposure_start_date", D), ("drug_exposure_start_datetime", TS),
                      ("drug_exposure_end_date", D), ("drug_exposure_end_datetime", TS), ("verbatim_end_date", D),
                      ("drug_type_concept_id", INT), ("stop_reason", V(20)), ("refills", INT), ("quantity", N),
                      ("days_supply", INT), ("sig", "TEXT"), ("route_concept_id", INT), ("lot_number", V(50)),
                      ("provider_id", INT), ("visit_occurrence_id", INT), ("visit_detail_id", INT),
                      ("drug_source_value", V(50)), ("drug_source_concept_id", INT), ("route_source_value", V(50)),
                      ("dose_unit_source_value", V(50))],
    "procedure_occurrence": [("procedure_occurrence_id", INT), ("person_id", INT), ("procedure_concept_id", INT),
                             ("procedure_date", D), ("procedure_datetime", TS), ("procedure_end_date", D),
                             ("procedure_end_datetime", TS), ("procedure_type_concept_id", INT),
                             ("modifier_concept_id", INT), ("quantity", INT), ("provider_id", INT),
                             ("visit_occurrence_id", INT), ("visit_detail_id", INT), ("procedure_source_value", V(50)),
                             ("procedure_source_concept_id", INT), ("modifier_source_value", V(50))],
    "measurement": [("measurement_id", INT), ("person_id", INT), ("measurement_concept_id", INT), ("measurement_date", D),
                    ("measurement_datetime", TS), ("measurement_time", V(10)), ("measurement_type_concept_id", INT),
                    ("operator_concept_id", INT), ("value_as_number", F), ("value_as_concept_id", INT),
                    ("unit_concept_id", INT), ("range_low", F), ("range_high", F), ("provider_id", INT),
                    ("visit_occurrence_id", INT), ("visit_detail_id", INT), ("measurement_source_value", V(50)),
                    ("measurement_source_concept_id", INT), ("unit_source_value", V(50)), ("unit_source_concept_id", INT),
                    ("value_source_value", V(50)), ("measurement_event_id", B), ("meas_event_field_concept_id", INT)],
    "observation": [("observation_id", INT), ("person_id", INT), ("observation_concept_id", INT), ("observation_date", D),
                    ("observation_datetime", TS), ("observation_type_concept_id", INT), ("value_as_number", F),
                    ("value_as_string", V(60)), ("value_as_concept_id", INT), ("qualifier_concept_id", INT),
                    ("unit_concept_id", INT), ("provider_id", INT), ("visit_occurrence_id", INT), ("visit_detail_id", INT),
                    ("observation_source_value", V(50)), ("observation_source_concept_id", INT),
                    ("unit_source_value", V(50)), ("qualifier_source_value", V(50)), ("value_source_value", V(50)),
                    ("observation_event_id", B), ("obs_event_field_concept_id", INT)],
    "death": [("person_id", INT), ("death_date", D), ("death_datetime", TS), ("death_type_concept_id", INT),
              ("cause_concept_id", INT), ("cause_source_value", V(50)), ("cause_source_concept_id", INT)],
    "care_site": [("care_site_id", INT), ("care_site_name", V(255)), ("place_of_service_concept_id", INT),
                  ("location_id", INT), ("care_site_source_value", V(50)), ("place_of_service_source_value", V(50))],
    "concept": [("concept_id", INT), ("concept_name", V(255)), ("domain_id", V(20)), ("vocabulary_id", V(20)),
                ("concept_class_id", V(20)), ("standard_concept", V(1)), ("concept_code", V(50)),
                ("valid_start_date", D), ("valid_end_date", D), ("invalid_reason", V(1))],
    "concept_ancestor": [("ancestor_concept_id", INT), ("descendant_concept_id", INT), ("min_levels_of_separation", INT),
                         ("max_levels_of_separation", INT)],
    "episode": [("episode_id", B), ("person_id", B), ("episode_concept_id", INT), ("episode_start_date", D),
                ("episode_start_datetime", TS), ("episode_end_date", D), ("episode_end_datetime", TS),
                ("episode_parent_id", B), ("episode_number", INT), ("episode_object_concept_id", INT),
                ("episode_type_concept_id", INT), ("episode_source_value", V(50)), ("episode_source_concept_id", INT)],
    "episode_event": [("episode_id", B), ("event_id", B), ("episode_event_field_concept_id", INT)],
    "cohort": [("cohort_definition_id", INT), ("subject_id", INT), ("cohort_start_date", D), ("cohort_end_date", D)],
}


def create_table_sql(name: str, schema: str | None = None) -> str:
    cols = ",\n  ".join(f"{c} {t}" for c, t in TABLES[name])
    qualified = f"{schema}.{name}" if schema else name
    return f"CREATE TABLE {qualified} (\n  {cols}\n)"
