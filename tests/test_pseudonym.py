"""Keyed pseudonyms (docs/cli.md --pseudonymize)."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from mrdtrack.errors import UserError
from mrdtrack.pseudonym import KEY_ENV, pseudonym_key_from_env, pseudonymize_frames, pseudonymize_id


def test_pseudonym_is_p_dash_first_sixteen_hex_of_hmac_sha256():
    expected = "P-" + hmac.new(b"secret", b"PT-001", hashlib.sha256).hexdigest()[:16]
    assert pseudonymize_id("PT-001", "secret") == expected
    assert len(expected) == 18


def test_pseudonym_known_value():
    # computed independently with: hmac.new(b"k", b"a", hashlib.sha256).hexdigest()[:16]
    assert pseudonymize_id("a", "k") == "P-78da91511e675587"
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


def test_no_collision_among_a_million_ids():
    from mrdtrack.pseudonym import pseudonym_map

    ids = [f"MM{i:07d}" for i in range(1_000_000)]
    mapping = pseudonym_map(ids, "registry-key")
    assert len(mapping) == 1_000_000
    assert len(set(mapping.values())) == 1_000_000  # what the check also verifies
    assert all(len(v) == 18 for v in list(mapping.values())[:1000])


def test_forced_collision_stops_the_run_with_exit_1(monkeypatch, tmp_path):
    """With 1 hex digit (16 pseudonyms) the example's 25 patients must collide: exit 1, clear line."""
    from typer.testing import CliRunner

    import mrdtrack.pseudonym as pseudonym
    from mrdtrack.cli import app
    from mrdtrack.errors import PseudonymCollision

    monkeypatch.setattr(pseudonym, "HEX_DIGITS", 1)
    with pytest.raises(PseudonymCollision, match="same pseudonym"):
        pseudonym.pseudonym_map([f"ID{i}" for i in range(17)], "k")  # 17 ids, 16 pseudonyms
    monkeypatch.setenv(KEY_ENV, "k")
    example = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "cohort"
    for extra in ([], ["--partitions", "2"]):
        res = CliRunner().invoke(app, ["analyze", str(example), "--out", str(tmp_path / "o"), "--pseudonymize", *extra])
        assert res.exit_code == 1, res.output
        assert "same pseudonym" in res.output and "internal error" not in res.output
