"""Anchors and therapy phases (docs/data-contract.md; docs/cli.md `phase`)."""

import pandas as pd

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
