"""Data cut, last contact and windows for imported rows (docs/omop.md "Events, data cut, windows")."""

import pandas as pd

from mrdtrack.importers.window import clip_periods, data_cut, keep_in_window, last_contact, out_of_window

T = pd.Timestamp


def test_data_cut_never_from_future_dates():
    dates = [pd.Series([T("2020-01-01"), T("2031-01-01")]), [T("2021-06-01")]]
    assert data_cut(dates, today=T("2025-01-01")) == T("2021-06-01")
    assert data_cut(dates, today=T("2025-01-01"), given=T("2020-05-05")) == T("2020-05-05")


def test_last_contact_not_after_death():
    contacts = pd.DataFrame({"patient_id": ["a", "a", "b"], "date": [T("2020-01-01"), T("2020-09-01"), T("2020-03-01")]})
    got = last_contact(contacts, pd.Series({"a": T("2020-06-01")}))
    assert got.to_dict() == {"a": T("2020-01-01"), "b": T("2020-03-01")}


def test_rows_outside_the_window_are_kept_out_and_counted():
    rows = pd.DataFrame({"patient_id": ["a"] * 4, "date": [T("2019-01-01"), T("2020-02-01"), T("2020-08-01"),
                                                            T("2021-01-01")]})
    why = out_of_window(rows, pd.Series({"a": T("2020-01-01")}), pd.Series({"a": T("2020-07-01")}),
                        T("2020-12-01"), 90)
    kept, lines = keep_in_window(rows, "measurement", why)
    assert kept["date"].tolist() == [T("2020-02-01")]
    assert sorted((x["detail"], x["count"]) for x in lines) == [
        ("measurement rows after death: kept out", 2), ("measurement rows more than 90 days before diagnosis: kept out", 1)]
    assert {x["code"] for x in lines} == {"OUT_OF_WINDOW"}


def test_periods_clipped_at_death_and_cut():
    p = pd.DataFrame({"patient_id": ["a", "a", "b"], "start_date": [T("2020-01-01"), T("2020-08-01"), T("2020-01-01")],
                      "end_date": [T("2020-09-01"), T("2020-09-01"), T("2022-01-01")]})
    out, lines = clip_periods(p, pd.Series({"a": T("2020-07-01")}), T("2021-01-01"))
    assert out["end_date"].tolist() == [T("2020-07-01"), T("2021-01-01")]
    assert [x["count"] for x in lines] == [1, 2]
