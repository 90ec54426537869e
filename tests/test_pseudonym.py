"""Keyed pseudonyms (cli.md --pseudonymize)."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from mrdtrack.errors import UserError
from mrdtrack.pseudonym import KEY_ENV, pseudonym_key_from_env, pseudonymize_frames, pseudonymize_id


def test_pseudonym_is_p_dash_first_ten_hex_of_hmac_sha256():
    expected = "P-" + hmac.new(b"secret", b"PT-001", hashlib.sha256).hexdigest()[:10]
    assert pseudonymize_id("PT-001", "secret") == expected
    assert len(expected) == 12


def test_pseudonym_known_value():
    # computed independently with: hmac.new(b"k", b"a", hashlib.sha256).hexdigest()[:10]
    assert pseudonymize_id("a", "k") == "P-78da91511e"
    assert pseudonymize_id("a", "k") != pseudonymize_id("a", "k2")
    assert pseudonymize_id("a", "k") != pseudonymize_id("b", "k")
    assert pseudonymize_id("a", "k") == pseudonymize_id("a", b"k")


def test_key_from_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UserError, match=KEY_ENV):
        pseudonym_key_from_env()
    monkeypatch.setenv(KEY_ENV, "")
    with pytest.raises(UserError):
        pseudonym_key_from_env()
    monkeypatch.setenv(KEY_ENV, "abc")
    assert pseudonym_key_from_env() == "abc"


def test_frames_replace_ids_everywhere_and_keep_other_values():
    patients = pd.DataFrame({"patient_id": ["PT-001", "PT-002", None], "age": [60, 70, 80]})
    issues = pd.DataFrame({
        "patient_id": ["PT-001", None, "PT-002"],
        "column": ["date", "patient_id", "note"],
        "value": ["2020-01-01", "PT-002", "7"],
        "message": ["PD at PT-001 not confirmed", "duplicate id PT-002", "PT-0010 is not PT-001x"],
    })
    out = pseudonymize_frames({"patients": patients, "issues": issues}, "key")
    p1, p2 = pseudonymize_id("PT-001", "key"), pseudonymize_id("PT-002", "key")
    assert out["patients"]["patient_id"].tolist()[:2] == [p1, p2]
    assert pd.isna(out["patients"]["patient_id"].iloc[2])
    assert out["patients"]["age"].tolist() == [60, 70, 80]
    assert out["issues"]["patient_id"].tolist()[0] == p1
    assert out["issues"]["value"].tolist() == ["2020-01-01", p2, "7"]
    assert out["issues"]["message"].tolist() == [f"PD at {p1} not confirmed", f"duplicate id {p2}",
                                                 "PT-0010 is not PT-001x"]
    # the inputs are untouched
    assert patients["patient_id"].iloc[0] == "PT-001"


def test_short_numeric_ids_are_not_replaced_inside_text():
    df = pd.DataFrame({"patient_id": ["7"], "message": ["PD not confirmed within 7 days"]})
    out = pseudonymize_frames({"x": df}, "k")["x"]
    assert out["patient_id"].iloc[0] == pseudonymize_id("7", "k")
    assert out["message"].iloc[0] == "PD not confirmed within 7 days"
