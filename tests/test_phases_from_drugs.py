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
    bridged = list(d.loc[d["code"] == "MAINTENANCE_BRIDGED", "detail"])
    assert bridged == ["gap 2025-04-01 to 2025-05-31 (61 days) bridged"]


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
    want = pd.DataFrame({"patient_id": "P1", "ingredient": R,
                         "start_date": pd.to_datetime(["2024-01-01", "2024-04-12"]),
                         "end_date": pd.to_datetime(["2024-03-11", "2024-05-02"]),
                         "record_ids": ["P1-r0;P1-r1", "P1-r2;P1-r3"]})
    pd.testing.assert_frame_equal(periods, want, check_dtype=False)
    assert list(log.loc[log["code"] == "DRUG_PERIOD", "record_ids"]) == ["P1-r0;P1-r1", "P1-r2;P1-r3"]


# --- ingredient names -------------------------------------------------------------------------------

def test_ingredient_matching_longest_name_wins_and_products_split():
    texts = pd.Series(["Melphalan flufenamide 40 mg inj", "MELPHALAN 200 mg/m2", "Revlimid 25 mg",
                       "bortezomib/lenalidomide/dexamethasone pack", "melphalanic acid", None],
                      index=[5, 6, 7, 8, 9, 10])
    got = ingredients_in_text(texts, RULES)
    want = pd.DataFrame({"index_of_text": [5, 6, 8, 8, 8],
                         "ingredient": ["melphalan flufenamide", "melphalan", V, R, D]})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_rules_overrides_check_keys_and_types():
    new = RULES.with_overrides({"persistence_days": 45, "partners": ["Dexamethasone"],
                                "transplant": {"concept_id": [1]}})
    assert (new.persistence_days, new.partners, RULES.persistence_days) == (45, ("dexamethasone",), 30)
    with pytest.raises(UserError, match="unknown key 'persistance_days'"):
        RULES.with_overrides({"persistance_days": 45})
    with pytest.raises(UserError, match="line_gap_days: expected a whole number"):
        RULES.with_overrides({"line_gap_days": "180"})


def test_every_decision_code_is_registered():
    _, d = run(VRD + CONS + [(R, "2025-01-15", "2026-06-30"), ("melphalan", "2024-07-01", "2024-07-01")],
               progressions=["2026-07-01"])
    assert set(d["code"]) <= set(CODES)


# --- invariants -----------------------------------------------------------------------------------

INGREDIENTS = [V, R, D, DARA, "melphalan", "cyclophosphamide", "carfilzomib"]
_record = st.tuples(st.sampled_from(INGREDIENTS), st.integers(0, 900), st.integers(0, 250))
_cohort = st.lists(st.tuples(st.lists(_record, min_size=1, max_size=9), st.lists(st.integers(0, 1000), max_size=2),
                             st.lists(st.integers(0, 1000), max_size=2)), min_size=2, max_size=4)


def _cohort_frames(cohort):
    day0 = pd.Timestamp("2024-01-01")
    rec, procs, progs = [], [], []
    for k, (rows, tx, prog) in enumerate(cohort):
        pid = f"P{k}"
        days = [(i, day0 + pd.Timedelta(days=s), day0 + pd.Timedelta(days=s + n)) for i, s, n in rows]
        rec.append(records(days, pid))
        procs += [(pid, day0 + pd.Timedelta(days=d), f"{pid}-tx{j}") for j, d in enumerate(tx)]
        progs += [(pid, day0 + pd.Timedelta(days=d)) for d in prog]
    pats = pd.DataFrame({"patient_id": [f"P{k}" for k in range(len(cohort))], "diagnosis_date": day0,
                         "death_date": pd.NaT})
    return (pd.concat(rec, ignore_index=True), pd.DataFrame(procs, columns=["patient_id", "date", "record_id"]),
            pd.DataFrame(progs, columns=["patient_id", "date"]), pats)


def _derive(rec, procs, progs, pats):
    cut = pd.Timestamp("2026-06-30")
    periods, _ = drug_periods(rec, pats, cut, RULES)
    return derive_treatments(periods, procs, pats, progs, cut, RULES)[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cohort, st.randoms(use_true_random=False))
def test_shuffling_rows_or_adding_patients_never_changes_a_patients_phases(cohort, rnd):
    rec, procs, progs, pats = _cohort_frames(cohort)
    alone = _derive(*(f[f["patient_id"] == "P0"] for f in (rec, procs, progs, pats)))
    order = list(range(len(rec)))
    rnd.shuffle(order)
    together = _derive(rec.iloc[order], procs.iloc[::-1], progs.iloc[::-1], pats.iloc[::-1])
    pd.testing.assert_frame_equal(together[together["patient_id"] == "P0"].reset_index(drop=True), alone)
    assert together["start_date"].notna().all()
    assert (together["end_date"].isna() | (together["end_date"] >= together["start_date"])).all()
    assert (together.groupby("patient_id")["phase"].apply(lambda s: (s == "maintenance").sum()) <= 1).all()


# --- round trip: contract treatments -> drug records -> treatments ----------------------------------

def _simulated():
    from mrdtrack.simulate import simulate_cohort

    tables = simulate_cohort(300, 7).tables
    cut = max(pd.to_datetime(tables[t][c]).max() for t in tables for c in tables[t].columns
              if c == "date" or c.endswith("_date"))
    ev = tables["events"]
    death = ev[ev["event"] == "death"].groupby("patient_id")["date"].min()
    pats = tables["patients"][["patient_id", "diagnosis_date"]].assign(
        death_date=lambda p: p["patient_id"].map(death))
    return tables["treatments"], pats, ev[ev["event"] == "progression"][["patient_id", "date"]], death, cut


def _as_the_drugs_show_it(tr, progs, death, cut):
    """The contract's rows as drugs can show them: regimens canonical, blank ends at death, end
    reasons as the rule infers them (only maintenance carries one)."""
    t = tr.copy()
    t["regimen"] = [canonical_regimen(r, RULES) for r in t["regimen"]]
    open_end = t["end_date"].isna() & (t["phase"] != "transplant")
    t.loc[open_end, "end_date"] = t.loc[open_end, "patient_id"].map(death)
    t["end_date"] = t["end_date"].where(t["end_date"] < cut)
    p = progs.groupby("patient_id")["date"].agg(list)
    def reason(row):
        if row.phase != "maintenance" or pd.isna(row.end_date):
            return None
        window = (row.end_date - pd.Timedelta(days=60), row.end_date + pd.Timedelta(days=30))
        return "progression" if any(window[0] <= d <= window[1] for d in p.get(row.patient_id, [])) else "other"
    t["end_reason"] = [reason(r) for r in t.itertuples()]
    return t


def _not_representable(tr, cut):
    """Patients whose contract rows hold what drug periods cannot show: two phases sharing a
    non-partner ingredient with a gap of at most persistence_days (the periods merge), or a
    maintenance shorter than maintenance_min_days that does not reach the data cut."""
    t = tr[tr["phase"] != "transplant"].sort_values(["patient_id", "start_date"])
    ings = [set(canonical_regimen(r, RULES).split("+")) - set(RULES.partners) for r in t["regimen"]]
    end = t["end_date"].fillna(cut)
    merged = set()
    for i in range(1, len(t)):
        same = t["patient_id"].iat[i] == t["patient_id"].iat[i - 1]
        gap = (t["start_date"].iat[i] - end.iat[i - 1]).days - 1
        if same and gap <= RULES.persistence_days and ings[i] & ings[i - 1]:
            merged.add(t["patient_id"].iat[i])
    m = tr[tr["phase"] == "maintenance"]
    short = m.loc[((m["end_date"] - m["start_date"]).dt.days + 1 < RULES.maintenance_min_days)
                  & (m["end_date"] < cut), "patient_id"]
    return merged, set(short)


def test_round_trip_of_a_simulated_cohort():
    tr, pats, progs, death, cut = _simulated()
    drugs, procs = treatments_to_drug_records(tr, RULES, data_cut=cut)
    periods, _ = drug_periods(drugs.assign(days_supply=np.nan), pats, cut, RULES)
    got, _ = derive_treatments(periods, procs, pats, progs, cut, RULES)
    want = _as_the_drugs_show_it(tr, progs, death, cut)
    merged, short = _not_representable(tr, cut)
    exact = []
    for pid, w in want.groupby("patient_id"):
        g = got[got["patient_id"] == pid].reset_index(drop=True)
        w = w[TREATMENT_COLUMNS].reset_index(drop=True)
        same = len(g) == len(w) and g.astype(object).where(g.notna(), "").equals(w.astype(object).where(w.notna(), ""))
        exact.append(same)
        if pid not in merged | short:
            assert same, (pid, w, g)
    # every patient not in merged | short round-trips (asserted above); the counts of seed 7 are
    # reported in docs/phases-from-drugs.md
    assert sum(exact) == len(exact) - len(merged | short)


def test_every_rules_field_is_documented():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "phases-from-drugs.md").read_text(encoding="utf-8")
    assert [f for f in PhaseRules.sources() if f"`{f}`" not in text] == []


def test_integer_patient_ids_as_omop_person_ids():
    rec = pd.DataFrame({"patient_id": [10, 10, 9], "ingredient": ["Lenalidomide", V, R],
                        "start_date": pd.to_datetime(["2024-01-10"] * 3), "days_supply": [28, 28, 90],
                        "record_id": [1, 2, 3]})
    pats = pd.DataFrame({"patient_id": [9, 10], "diagnosis_date": pd.to_datetime(["2024-01-01"] * 2),
                         "death_date": pd.NaT})
    cut = pd.Timestamp("2025-01-01")
    periods, _ = drug_periods(rec, pats, cut, RULES)
    got, _ = derive_treatments(periods, pd.DataFrame({"patient_id": [9], "date": pd.to_datetime(["2024-06-01"]),
                                                      "record_id": ["tx"]}),
                               pats, pd.DataFrame(columns=["patient_id", "date"]), cut, RULES)
    assert got[["patient_id", "phase", "regimen"]].values.tolist() == [
        [9, "induction", R], [9, "transplant", None], [10, "induction", "bortezomib+lenalidomide"]]


def test_tandem_transplants_are_both_phases_and_the_first_sets_the_windows():
    check(VRD + [("melphalan", "2024-10-01", "2024-10-01"), (R, "2025-01-01", "2026-06-30")],
          [INDUCTION, TRANSPLANT, ("transplant", "melphalan", "2024-10-03", "2024-10-03", None),
           ("maintenance", R, "2025-01-01", "2026-06-30", "other")], procedures=TX)


def test_a_dose_after_an_ingredient_names_the_ingredient():
    from mrdtrack.importers.drug_records import regimen_ingredients
    from mrdtrack.importers.phase_rules import PhaseRules

    rules = PhaseRules()
    assert regimen_ingredients("melphalan 200", rules) == ("melphalan",)
    assert regimen_ingredients("Melphalan 140 mg/m2", rules) == ("melphalan",)
