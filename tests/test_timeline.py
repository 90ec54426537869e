"""Anchors and therapy phases (docs/data-contract.md; docs/cli.md `phase`)."""

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_cohort
from mrdtrack.timeline import patient_anchors, phase_at


def _cohort():
    return make_cohort(
        patients=[("A", "2020-01-01"), ("B", "2020-01-01")],
        treatments=[
            ("A", "induction", "VRD", "2020-01-10", "2020-05-01"),
            ("A", "transplant", None, "2020-06-01", "2020-06-01"),
            ("A", "maintenance", "lenalidomide", "2020-09-01", None),
            ("A", "later_line", "DPd", "2022-03-01", None),
            ("B", "induction", "VRD", "2020-01-10", "2020-05-01"),
        ],
        events=[("A", "2023-01-01", "last_contact"), ("B", "2021-01-01", "death")],
    )


def test_anchors():
    a, issues = patient_anchors(_cohort())
    a = a.set_index("patient_id")
    assert a.loc["A", "maintenance_start"] == pd.Timestamp("2020-09-01")
    assert a.loc["A", "maintenance_end"] == pd.Timestamp("2023-01-01")
    assert a.loc["A", "later_line_start"] == pd.Timestamp("2022-03-01")
    assert a.loc["B", "end_of_followup"] == pd.Timestamp("2021-01-01")
    assert pd.isna(a.loc["B", "maintenance_start"])
    assert issues.empty


def test_phase_at():
    c = _cohort()
    a, _ = patient_anchors(c)
    dates = pd.DataFrame({"patient_id": ["A"] * 7, "date": pd.to_datetime([
        "2020-01-05", "2020-03-01", "2020-05-15", "2020-06-01", "2020-07-01", "2021-01-01", "2022-03-01"])})
    got = list(phase_at(dates, c.treatments, a))
    assert got == ["pre_treatment", "induction", "off_treatment", "transplant", "transplant",
                   "maintenance", "later_line"]


def test_phase_at_overlapping_phases_and_ties():
    """Where phases overlap the later-starting one holds the date; after it ends, an earlier phase
    still running holds it again; a transplant holds up to the next start; same-day starts: the
    later row. Dates with a time of day and unknown patients too."""
    c = make_cohort(
        patients=[("A", "2020-01-01"), ("B", "2020-01-01")],
        treatments=[
            ("A", "induction", "VRD", "2020-01-10", "2020-12-31"),   # long: overlaps what follows
            ("A", "consolidation", "VRD", "2020-03-01", "2020-04-01"),
            ("A", "transplant", None, "2020-05-01", "2020-05-01"),
            ("A", "maintenance", "lenalidomide", "2020-05-20", "2020-06-30"),
            ("B", "induction", "VRD", "2020-01-10", "2020-02-01"),
            ("B", "consolidation", "KRd", "2020-01-10", "2020-03-01"),  # same start: the later row
        ],
        events=[("A", "2023-01-01", "last_contact"), ("B", "2023-01-01", "last_contact")],
    )
    a, _ = patient_anchors(c)
    dates = pd.DataFrame({"patient_id": ["A"] * 7 + ["B", "B", "C"], "date": pd.to_datetime([
        "2020-03-15", "2020-04-15", "2020-05-10", "2020-05-25", "2020-08-01", "2021-02-01", "2020-03-15 14:30",
        "2020-01-20", "2020-02-15", "2020-03-01"], format="mixed")})
    got = list(phase_at(dates, c.treatments, a))
    assert got == ["consolidation", "induction", "transplant", "maintenance", "induction", "off_treatment",
                   "consolidation", "consolidation", "consolidation", "pre_treatment"]


PHASES = ["induction", "transplant", "consolidation", "maintenance", "later_line"]


def _phase_by_rule(date, rows, first, later, eof):
    """docs/cli.md `phase`, one date at a time: the latest-starting phase holding the date."""
    if pd.isna(first) or date < first:
        return "pre_treatment"
    if pd.notna(later) and date >= later:
        return "later_line"
    ordered = sorted(enumerate(rows), key=lambda r: (r[1][1], r[0]))  # by start, then row order
    held = None
    for k, (phase, start, end) in ordered:
        if phase == "transplant":
            nxt = ordered[[o[0] for o in ordered].index(k) + 1][1][1] if k != ordered[-1][0] else None
            holds = start <= date and (date < nxt if nxt is not None else date <= eof)
        else:
            holds = start <= date <= (end if end is not None else eof)
        if holds:
            held = phase
    return held or "off_treatment"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PHASES), st.integers(0, 400), st.integers(0, 120), st.booleans()),
                min_size=1, max_size=6),
       st.lists(st.integers(-30, 700), min_size=1, max_size=25))
def test_phase_at_matches_the_rule_date_by_date(phases, days):
    base = pd.Timestamp("2020-01-01")
    rows = [(p, base + pd.Timedelta(days=s), None if ongoing else base + pd.Timedelta(days=s + length))
            for p, s, length, ongoing in phases]
    c = make_cohort(patients=[("A", "2019-12-01")],
                    treatments=[("A", p, None, str(s.date()), None if e is None else str(e.date())) for p, s, e in rows],
                    events=[("A", str((base + pd.Timedelta(days=800)).date()), "last_contact")])
    a, _ = patient_anchors(c)
    anchor = a.iloc[0]
    dates = pd.DataFrame({"patient_id": "A", "date": [base + pd.Timedelta(days=d) for d in days]})
    got = list(phase_at(dates, c.treatments, a))
    want = [_phase_by_rule(d, rows, anchor["first_treatment_date"], anchor["later_line_start"],
                           anchor["end_of_followup"]) for d in dates["date"]]
    assert got == want
