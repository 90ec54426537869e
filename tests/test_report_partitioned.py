"""The report does not depend on how the cohort was analysed: in memory or partitioned into buckets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mrdtrack.commands.report import run_report
from test_scale import simulated_cohort

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")


def _page(out: Path) -> str:
    return _TIMESTAMP.sub("<time>", (out / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-partitioned")
    cohort = simulated_cohort(root / "cohort", 300, 11)
    memory = root / "memory"
    run_report(cohort, memory, partitions=0, jobs=1)
    partitioned = root / "partitioned"
    run_report(cohort, partitioned, partitions=3, jobs=2)
    return memory, partitioned


def test_partitioned_report_page_equals_the_in_memory_one(reports):
    memory, partitioned = reports
    assert _page(partitioned) == _page(memory)


@pytest.mark.parametrize("folder", ["tables", "figures"])
def test_partitioned_report_files_equal_the_in_memory_ones(reports, folder):
    memory, partitioned = reports
    names = sorted(p.name for p in (memory / folder).iterdir())
    assert names == sorted(p.name for p in (partitioned / folder).iterdir())
    assert names
    different = [n for n in names if (memory / folder / n).read_bytes() != (partitioned / folder / n).read_bytes()]
    assert not different, f"{folder} differ: {different}"
