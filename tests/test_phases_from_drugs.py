"""Vignettes of the phases-from-drugs rules (docs/phases-from-drugs.md): one small hand-written
patient per rule, its drug records in, its expected ``treatments`` rows out (written by hand);
a hypothesis property (a patient's phases do not depend on row order or on other patients); and
the round trip contract treatments -> drug records -> treatments on a simulated cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrdtrack.errors import UserError
from mrdtrack.importers.drug_periods import drug_periods
from mrdtrack.importers.drug_records import canonical_regimen, treatments_to_drug_records
from mrdtrack.importers.ingredients import ingredients_in_text
from mrdtrack.importers.phase_rules import PhaseRules
from mrdtrack.importers.phases import TREATMENT_COLUMNS, derive_treatments
from mrdtrack.issue_codes import CODES

RULES = PhaseRules()
CUT = "2027-01-01"
V, R, D, DARA = "bortezomib", "lenalidomide", "dexamethasone", "daratumumab"
VRD_NAME = "bortezomib+lenalidomide+dexamethasone"
# the usual first line: VRD induction, transplant by procedure on 2024-07-03
VRD = [(V, "2024-01-10", "2024-05-20"), (R, "2024-01-10", "2024-05-20"), (D, "2024-01-10", "2024-05-20")]
TX = ["2024-07-03"]


def records(rows, pid="P1") -> pd.DataFrame:
    """(ingredient, start, end[, days_supply]) tuples -> drug records with ids r0, r1, ..."""
    rows = [r if len(r) == 4 else (*r, np.nan) for r in rows]
    return pd.DataFrame({"patient_id": pid, "ingredient": [r[0] for r in rows],
                         "start_date": pd.to_datetime([r[1] for r in rows]),
                         "end_date": pd.to_datetime([r[2] for r in rows]),
                         "days_supply": [float(r[3]) for r in rows],
                         "record_id": [f"{pid}-r{i}" for i in range(len(rows))]})


def run(rows, procedures=(), progressions=(), *, dx="2024-01-01", death=None, cut=CUT, rules=RULES):
    """The whole path for one patient P1: records -> periods -> treatments, decisions."""
    pats = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": pd.to_datetime([dx]),
                         "death_date": pd.to_datetime([death])})
    periods, log = drug_periods(records(rows), pats, pd.Timestamp(cut), rules)
    procs = pd.DataFrame({"patient_id": "P1", "date": pd.to_datetime(list(procedures)),
                          "record_id": [f"tx{i}" for i in range(len(procedures))]})
    progs = pd.DataFrame({"patient_id": "P1", "date": pd.to_datetime(list(progressions))})
    treatments, decisions = derive_treatments(periods, procs, pats, progs, pd.Timestamp(cut), rules)
    return treatments, pd.concat([log, decisions], ignore_index=True)


def expected(rows) -> pd.DataFrame:
    """(phase, regimen, start, end, end_reason) tuples of patient P1."""
    return pd.DataFrame({"patient_id": "P1", "phase": [r[0] for r in rows], "regimen": [r[1] for r in rows],
                         "start_date": pd.to_datetime([r[2] for r in rows]),
                         "end_date": pd.to_datetime([r[3] for r in rows]), "end_reason": [r[4] for r in rows]},
                        columns=TREATMENT_COLUMNS).astype({"patient_id": object, "phase": object,
                                                            "regimen": object, "end_reason": object})


def check(rows, want, **kw):
    got, decisions = run(rows, **kw)
    pd.testing.assert_frame_equal(got, expected(want))
    return decisions


INDUCTION = ("induction", VRD_NAME, "2024-01-10", "2024-05-20", None)
TRANSPLANT = ("transplant", None, "2024-07-03", "2024-07-03", None)


# --- induction and transplant ---------------------------------------------------------------------

def test_vrd_induction_alone():
    d = check(VRD, [INDUCTION])
    assert list(d.loc[d["code"] == "LINE_START", "detail"]) == ["line 1 starts 2024-01-10 (bortezomib, lenalidomide)"]


def test_transplant_by_procedure():
    check(VRD, [INDUCTION, TRANSPLANT], procedures=TX)


def test_transplant_by_short_melphalan_with_procedure_8_days_later():
    d = check(VRD + [("melphalan", "2024-07-01", "2024-07-02")],
              [INDUCTION, ("transplant", "melphalan", "2024-07-10", "2024-07-10", None)], procedures=["2024-07-10"])
    assert set(d.loc[d["code"] == "TRANSPLANT_FROM_PROCEDURE", "record_ids"]) == {"tx0;P1-r3"}


def test_transplant_by_short_melphalan_alone_is_dated_2_days_after():
    d = check(VRD + [("melphalan", "2024-07-01", "2024-07-01")],
              [INDUCTION, ("transplant", "melphalan", "2024-07-03", "2024-07-03", None)])
    assert "TRANSPLANT_FROM_CONDITIONING" in set(d["code"]) and "PHASE_CONDITIONING" in set(d["code"])


def test_procedure_15_days_after_conditioning_is_a_transplant_of_its_own():
    check(VRD + [("melphalan", "2024-07-01", "2024-07-01")],
          [INDUCTION, ("transplant", "melphalan", "2024-07-03", "2024-07-03", None),
           ("transplant", None, "2024-07-16", "2024-07-16", None)], procedures=["2024-07-16"])


def test_mobilisation_cyclophosphamide_is_not_a_regimen_change():
    d = check(VRD + [("cyclophosphamide", "2024-06-01", "2024-06-02")], [INDUCTION, TRANSPLANT], procedures=TX)
    assert list(d.loc[d["code"] == "PHASE_MOBILISATION", "record_ids"]) == ["P1-r3"]


def test_ten_days_of_cyclophosphamide_is_a_new_line_and_pushes_the_transplant_out_of_line_1():
    d = check(VRD + [("cyclophosphamide", "2024-06-01", "2024-06-10")],
              [INDUCTION, ("later_line", "cyclophosphamide", "2024-06-01", "2024-06-10", None)], procedures=TX)
    assert {"LINE_NEW_INGREDIENT", "TRANSPLANT_OUT_OF_WINDOW"} <= set(d["code"])


# --- consolidation and maintenance ----------------------------------------------------------------

CONS = [(V, "2024-10-01", "2024-11-30"), (R, "2024-10-01", "2024-11-30"), (D, "2024-10-01", "2024-11-30")]
CONSOLIDATION = ("consolidation", VRD_NAME, "2024-10-01", "2024-11-30", None)


def test_consolidation_then_lenalidomide_maintenance_after_a_gap():
    check(VRD + CONS + [(R, "2025-01-15", "2026-06-30")],
          [INDUCTION, TRANSPLANT, CONSOLIDATION, ("maintenance", R, "2025-01-15", "2026-06-30", "other")],
          procedures=TX)


def test_maintenance_with_lenalidomide_that_ran_in_consolidation_starts_after_the_others_end():
    rows = [(V, "2024-10-01", "2024-11-30"), (R, "2024-10-01", "2026-06-30"), (D, "2024-10-01", "2024-11-30")]
    check(VRD + rows, [INDUCTION, TRANSPLANT, CONSOLIDATION, ("maintenance", R, "2024-12-01", "2026-06-30", "other")],
          procedures=TX)


def test_maintenance_bridges_a_61_day_gap():
    d = check(VRD + [(R, "2024-10-01", "2025-03-31"), (R, "2025-06-01", "2025-12-31")],
              [INDUCTION, TRANSPLANT, ("maintenance", R, "2024-10-01", "2025-12-31", "other")], procedures=TX)
    assert list(d.loc[d["code"] == "MAINTENANCE_BRIDGED", "detail"]) == ["gap 2025-04-01 to 2025-05-31 (61 days) bridged"]


@pytest.mark.parametrize("progression, reason", [("2026-01-30", "progression"), ("2026-01-31", "other"),
                                                 ("2025-11-01", "progression"), ("2025-10-31", "other")])
def test_maintenance_end_reason_window_is_60_days_before_to_30_days_after(progression, reason):
    check(VRD + [(R, "2024-10-01", "2025-12-31")],
          [INDUCTION, TRANSPLANT, ("maintenance", R, "2024-10-01", "2025-12-31", reason)],
          procedures=TX, progressions=[progression])


def test_maintenance_reaching_the_data_cut_is_ongoing_with_blank_end_reason():
    d = check(VRD + [(R, "2024-10-01", "2027-06-30")],
              [INDUCTION, TRANSPLANT, ("maintenance", R, "2024-10-01", None, None)], procedures=TX, cut="2026-12-31")
    assert "DRUG_PERIOD_CLIPPED_DATA_CUT" in set(d["code"])


def test_maintenance_lenalidomide_plus_daratumumab_after_d_vrd_consolidation():
    rows = [(DARA, "2024-10-01", "2026-06-30"), (V, "2024-10-01", "2024-11-30"), (R, "2024-10-01", "2026-06-30"),
            (D, "2024-10-01", "2024-11-30")]
    check(VRD + rows, [INDUCTION, TRANSPLANT,
                       ("consolidation", "bortezomib+daratumumab+lenalidomide+dexamethasone", "2024-10-01",
                        "2024-11-30", None),
                       ("maintenance", "daratumumab+lenalidomide", "2024-12-01", "2026-06-30", "other")], procedures=TX)


def test_maintenance_lenalidomide_plus_daratumumab_from_the_start_is_no_consolidation():
    check(VRD + [(DARA, "2024-10-01", "2026-06-30"), (R, "2024-10-01", "2026-06-30")],
          [INDUCTION, TRANSPLANT, ("maintenance", "daratumumab+lenalidomide", "2024-10-01", "2026-06-30", "other")],
          procedures=TX)


def test_maintenance_shorter_than_60_days_is_not_maintenance():
    check(VRD + [(R, "2024-10-01", "2024-11-28")], [INDUCTION, TRANSPLANT], procedures=TX)


NO_TX = [(V, "2024-01-10", "2024-06-30"), (R, "2024-01-10", "2025-12-31"), (D, "2024-01-10", "2024-06-30")]


def test_maintenance_without_transplant_when_therapy_drops_to_lenalidomide_after_90_days():
    check(NO_TX, [("induction", VRD_NAME, "2024-01-10", "2024-06-30", None),
                  ("maintenance", R, "2024-07-01", "2025-12-31", "other")])


def test_no_maintenance_without_transplant_when_the_drop_comes_before_90_days():
    rows = [(V, "2024-01-10", "2024-03-09"), (R, "2024-01-10", "2025-12-31"), (D, "2024-01-10", "2024-03-09")]
    check(rows, [("induction", VRD_NAME, "2024-01-10", "2025-12-31", None)])


# --- new lines ------------------------------------------------------------------------------------

RESTART = [(V, "2024-10-01", "2024-12-31"), (D, "2024-10-01", "2024-12-31")]


def test_new_line_after_a_recorded_progression():
    d = check(VRD + RESTART, [INDUCTION, ("later_line", "bortezomib+dexamethasone", "2024-10-01", "2024-12-31", None)],
              progressions=["2024-09-01"])
    assert "LINE_AFTER_PROGRESSION" in set(d["code"])


def test_restarting_a_regimen_ingredient_without_progression_stays_in_line_1():
    check(VRD + RESTART, [("induction", VRD_NAME, "2024-01-10", "2024-12-31", None)])


def test_new_line_after_a_180_day_gap_but_not_after_179():
    short = [(V, "2024-01-10", "2024-03-31"), (R, "2024-01-10", "2024-03-31"), (D, "2024-01-10", "2024-03-31")]
    after = [(V, "2024-09-28", "2024-12-31"), (D, "2024-09-28", "2024-12-31")]  # gap 2024-04-01..09-27 = 180 days
    d = check(short + after, [("induction", VRD_NAME, "2024-01-10", "2024-03-31", None),
                              ("later_line", "bortezomib+dexamethasone", "2024-09-28", "2024-12-31", None)])
    assert "LINE_AFTER_GAP" in set(d["code"])
    after = [(V, "2024-09-27", "2024-12-31"), (D, "2024-09-27", "2024-12-31")]  # 179 days
    check(short + after, [("induction", VRD_NAME, "2024-01-10", "2024-12-31", None)])


def test_new_ingredient_after_the_60_day_regimen_window_starts_a_line():
    d = check(VRD + [(DARA, "2024-03-11", "2024-08-31")],  # 61 days after the line start
              [("induction", VRD_NAME, "2024-01-10", "2024-03-10", None),
               ("later_line", DARA, "2024-03-11", "2024-08-31", None)])
    assert "LINE_NEW_INGREDIENT" in set(d["code"])


def test_new_ingredient_within_the_regimen_window_joins_the_regimen():
    check(VRD + [(DARA, "2024-03-10", "2024-05-20")],  # 60 days after the line start
          [("induction", "bortezomib+daratumumab+lenalidomide+dexamethasone", "2024-01-10", "2024-05-20", None)])


def test_steroid_only_changes_never_start_a_line():
    check(VRD + [("prednisone", "2024-04-01", "2024-04-30"), (D, "2025-01-01", "2025-01-31")],
          [INDUCTION], progressions=["2024-12-01"])


def test_periods_ending_before_diagnosis_minus_30_days_are_left_out():
    d = check([("cyclophosphamide", "2023-06-01", "2023-11-30")] + VRD, [INDUCTION])
    assert list(d.loc[d["code"] == "DRUG_PERIOD_BEFORE_LINE1", "record_ids"]) == ["P1-r0"]


# --- clipping and periods --------------------------------------------------------------------------

def test_clipping_at_death():
    d = check(VRD + [(R, "2024-10-01", "2026-06-30"), (DARA, "2025-12-01", "2025-12-31")],
              [INDUCTION, TRANSPLANT, ("maintenance", R, "2024-10-01", "2025-09-30", "other")],
              procedures=TX, death="2025-09-30")
    assert {"DRUG_PERIOD_CLIPPED_DEATH", "DRUG_RECORD_AFTER_END"} <= set(d["code"])


def test_persistence_merge_and_days_supply():
    rows = [(R, "2024-01-01", None, 21), (R, "2024-02-20", "2024-03-11"),  # gap 29 days: merged
            (R, "2024-04-12", "2024-05-02"), (R, "2024-04-20", None)]  # gap 31: new period; no end nor supply: 1 day
    pats = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": pd.to_datetime(["2024-01-01"]),
                         "death_date": pd.NaT})
    periods, log = drug_periods(records(rows), pats, pd.Timestamp(CUT), RULES)
    want = pd.DataFrame({"patient_id": "P1", "ingredient": R, "start_date": pd.to_datetime(["2024-01-01", "2024-04-12"]),
                         "end_date": pd.to_datetime(["2024-03-11", "2024-05-02"]),
                         "record_ids": ["P1-r0;P1-r1", "P1-r2;P1-r3"]})
    pd.testing.assert_frame_equal(periods, want, check_dtype=False)
    assert list(log.loc[log["code"] == "DRUG_PERIOD", "record_ids"]) == ["P1-r0;P1-r1", "P1-r2;P1-r3"]


# --- ingredient names -------------------------------------------------------------------------------

def test_ingredient_matching_longest_name_wins_and_products_split():
    texts = pd.Series(["Melphalan flufenamide 40 mg inj", "MELPHALAN 200 mg/m2", "Revlimid 25 mg",
                       "bortezomib/lenalidomide/dexamethasone pack", "melphalanic acid", None], index=[5, 6, 7, 8, 9, 10])
    got = ingredients_in_text(texts, RULES)
    want = pd.DataFrame({"index_of_text": [5, 6, 8, 8, 8],
                         "ingredient": ["melphalan flufenamide", "melphalan", V, R, D]})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_rules_overrides_check_keys_and_types():
    assert RULES.with_overrides({"persistence_days": 45, "partners": ["Dexamethasone"]}).partners == ("dexamethasone",)
    with pytest.raises(UserError, match="unknown key 'persistance_days'"):
        RULES.with_overrides({"persistance_days": 45})
    with pytest.raises(UserError, match="line_gap_days: expected a whole number"):
        RULES.with_overrides({"line_gap_days": "180"})


def test_every_decision_code_is_registered():
    _, d = run(VRD + CONS + [(R, "2025-01-15", "2026-06-30"), ("melphalan", "2024-07-01", "2024-07-01")],
               progressions=["2026-07-01"])
    assert set(d["code"]) <= set(CODES)
