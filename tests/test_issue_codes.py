"""Issue codes: registered, documented, and carried by every line the pipeline writes."""

import re
from pathlib import Path

import pytest

from mrdtrack.issue_codes import CODES, markdown
from mrdtrack.issues import issue, issues_from_arrays

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "mrdtrack"


def test_docs_page_is_generated_from_the_registry():
    assert (ROOT / "docs" / "issues.md").read_text(encoding="utf-8") == markdown()


def test_codes_are_upper_snake_case_with_a_meaning():
    for code, meaning in CODES.items():
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", code), code
        assert meaning.strip(), code


def test_every_code_used_in_the_source_is_registered():
    used = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'code=["\']([A-Z_0-9]+)["\']', text))
        used |= set(re.findall(r'"code": ["\']([A-Z_0-9]+)["\']', text))
        used |= set(re.findall(r'report\("(?:error|warning|excluded)", "([A-Z_0-9]+)"', text))
    assert used, "the scan found no codes: the patterns are stale"
    assert used - set(CODES) == set()


def test_unregistered_code_is_refused():
    with pytest.raises(ValueError, match="unregistered"):
        issue("warning", "labs", "x", code="NO_SUCH_CODE")
    with pytest.raises(ValueError, match="unregistered"):
        issues_from_arrays(severity="warning", code="NO_SUCH_CODE", table="labs", patient_id=["A"])


def test_validation_lines_carry_codes(tmp_path):
    from mrdtrack.io.read import read_cohort

    broken = ROOT / "examples" / "broken"
    seen = set()
    for folder in sorted(p for p in broken.iterdir() if p.is_dir()):
        res = read_cohort(folder)
        assert res.issues["code"].notna().all(), folder.name
        seen |= set(res.issues["code"])
    assert seen <= set(CODES)
    # the broken cohorts exercise the main validation rules
    assert {"LAB_UNKNOWN_UNIT", "DUPLICATE_PATIENT", "ORPHAN_PATIENT_ID", "INVALID_DATE"} <= seen
