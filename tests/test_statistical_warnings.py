"""Statistical warnings reach the user: each is an issue line (severity warning, its code) and the
number is shown as "not estimable", never as a hazard ratio of 0 or an interval from 0 to infinity."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.outcomes import cohort_statistics as cs
from mrdtrack.report.fmt import NOT_ESTIMABLE, hazard_ratio


def _frame(groups: dict[str, tuple[list[float], list[int]]]) -> pd.DataFrame:
    rows = [{"time": t, "event": e, "trend": g} for g, (times, events) in groups.items()
            for t, e in zip(times, events)]
    return pd.DataFrame(rows).assign(cytogenetic_risk=None, iss_stage=None)


def _codes(recs) -> list[str]:
    return [r["code"] for r in recs]


BALANCED = {
    "negative": ([3, 8, 12, 15, 20, 24, 30, 33, 36, 40], [0, 1, 0, 0, 1, 0, 0, 1, 0, 0]),
    "decreasing": ([2, 5, 9, 11, 14, 18, 22, 27, 31, 35], [1, 0, 1, 0, 1, 0, 1, 0, 0, 1]),
    "not_decreasing": ([1, 2, 4, 6, 7, 9, 10, 13, 16, 19], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1]),
}


def test_no_warning_when_everything_is_estimable():
    result, _, recs = cs.trend_comparison(_frame(BALANCED), Config(), [], "PFS")
    assert _codes(recs) == []
    hr = result["groups"]["negative"]["hazard_ratio"]
    assert hr["value"] > 0 and "estimable" not in hr


def test_group_without_events_is_not_estimable():
    groups = dict(BALANCED, negative=(BALANCED["negative"][0], [0] * 10))
    result, cox, recs = cs.trend_comparison(_frame(groups), Config(), [], "PFS")
    assert "GROUP_WITHOUT_EVENTS" in _codes(recs)
    assert "COX_INFINITE_COEFFICIENT" in _codes(recs)
    assert all(r["severity"] == "warning" for r in recs)
    hr = result["groups"]["negative"]["hazard_ratio"]
    assert hr["estimable"] is False and hr["value"] is None  # never a ratio of ~0 with an open interval
    assert hazard_ratio(hr) == NOT_ESTIMABLE
    assert cox.loc[cox["term"] == "negative", "hr"].isna().all()
    assert result["groups"]["decreasing"]["hazard_ratio"]["value"] > 0  # the other group keeps its estimate


def test_empty_group_in_the_log_rank_is_said():
    groups = {k: v for k, v in BALANCED.items() if k != "decreasing"}
    result, _, recs = cs.trend_comparison(_frame(groups), Config(), [], "PFS")
    assert "LOGRANK_EMPTY_GROUP" in _codes(recs)
    assert result["logrank_p"] is not None  # the other two groups are still compared


def test_non_convergence_is_a_warning_and_no_estimate(monkeypatch):
    # a real fit stopped after one Newton step has not converged
    monkeypatch.setattr(cs, "cox_fit", functools.partial(cs.cox_fit, max_iter=1))
    result, _, recs = cs.trend_comparison(_frame(BALANCED), Config(), [], "PFS")
    assert "COX_NOT_CONVERGED" in _codes(recs)
    hr = result["groups"]["negative"]["hazard_ratio"]
    assert hr["estimable"] is False and hr["reason"] == "COX_NOT_CONVERGED"
    assert "did not converge" in hazard_ratio(hr)


def test_proportional_hazards_violation_is_a_warning():
    rng = np.random.default_rng(7)
    early = np.sort(rng.uniform(0.1, 3, 40))  # not_decreasing: every event early
    late = np.concatenate([rng.uniform(0.1, 0.5, 8), rng.uniform(20, 30, 32)])  # decreasing: some early, most late
    groups = {"decreasing": (list(late), [1] * 40), "not_decreasing": (list(early), [1] * 40)}
    result, _, recs = cs.trend_comparison(_frame(groups), Config(), [], "PFS")
    assert "PH_VIOLATED" in _codes(recs)
    assert result["groups"]["decreasing"]["hazard_ratio"]["value"] > 0  # the estimate stays, with the warning
    relaxed = cs.trend_comparison(_frame(groups), Config(ph_test_alpha=1e-300), [], "PFS")[2]
    assert "PH_VIOLATED" not in _codes(relaxed)


def test_statistics_warnings_reach_issues_csv_and_the_report(tmp_path):
    from mrdtrack.commands.report import run_report

    example = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "cohort"
    html = run_report(example, tmp_path / "out").read_text(encoding="utf-8")
    issues = pd.read_csv(tmp_path / "out" / "issues.csv")
    stats = issues[issues["code"].isin(["COX_INFINITE_COEFFICIENT", "TOO_FEW_GROUPS", "GROUP_WITHOUT_EVENTS"])]
    assert len(stats) and (stats["severity"] == "warning").all()
    assert "not estimable" in html
    assert "HR 0.00" not in html
    assert not __import__("re").search(r"(?<![\w])(inf|infinity|nan)(?![\w])", html, flags=2)
