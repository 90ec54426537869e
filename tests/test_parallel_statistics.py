"""The cohort statistics give the same results whether the models run in a forked child
(``start_models``) or in this process, and a failure in the child reaches the caller."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mrdtrack.api import read_cohort
from mrdtrack.config import Config
from mrdtrack.outcomes.cohort_statistics import cohort_statistics, start_models
from mrdtrack.pipeline import derive_all
from mrdtrack.processes import can_fork, run_in_child
from mrdtrack.simulate import simulate_cohort

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork and a single thread")


def _derived(tmp_path):
    for name, table in simulate_cohort(300, 11).tables.items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    return derive_all(read_cohort(tmp_path).cohort, Config())


def test_models_in_a_child_give_the_same_summary_tables_and_issues(tmp_path):
    d = _derived(tmp_path)
    config = Config()
    inline = cohort_statistics(d.patients, d.mrd_changes, config)
    forked = cohort_statistics(d.patients, d.mrd_changes, config,
                               start_models(d.patients, d.mrd_changes, config, min_patients=0))
    assert json.dumps(inline[0], default=str) == json.dumps(forked[0], default=str)
    assert list(inline[1]) == list(forked[1])
    for name in inline[1]:
        pd.testing.assert_frame_equal(inline[1][name], forked[1][name])
    pd.testing.assert_frame_equal(inline[2], forked[2])
    assert inline[0]["competing_risks"] and inline[0]["time_varying_cox"]


def _fails():
    raise ValueError("the model failed")


def test_an_exception_in_the_child_is_raised_in_the_parent():
    with pytest.raises(ValueError, match="the model failed"):
        run_in_child(_fails)()


def test_a_large_result_comes_back_whole():
    big = run_in_child(lambda: list(range(300_000)))()  # well beyond a pipe's buffer
    assert big == list(range(300_000))
