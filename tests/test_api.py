"""The notebook API: lazy top level, and every example of docs/api.md executed in order."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_lazy():
    code = "import sys, mrdtrack; assert 'pandas' not in sys.modules, 'pandas imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_unknown_attribute():
    import mrdtrack

    try:
        mrdtrack.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_every_example_in_docs_api_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/api.md", "exec"), namespace)  # noqa: S102 - the documentation's own code
    printed = capsys.readouterr().out
    assert "issue lines" in printed and "report.html" in printed
    assert (tmp_path / "notebook-report" / "report.html").is_file()
    assert namespace["stricter"].summary["config"]["mrd_threshold"] == 1e-6
    assert set(namespace["km"].columns) >= {"time", "survival", "lower", "upper"}
    assert "LAB_UNKNOWN_UNIT" in printed  # the invalid cohort's problems were listed


def test_api_equals_the_command_line(tmp_path):
    import filecmp

    import mrdtrack
    from mrdtrack.commands.analyze import run_analyze

    run_analyze(ROOT / "examples" / "cohort", tmp_path / "cli", profile="alonso2020")
    mrdtrack.analyze(ROOT / "examples" / "cohort", profile="alonso2020", out_dir=tmp_path / "api")
    for name in ("assessments.csv", "mrd.csv", "patients.csv", "issues.csv", "summary.json"):
        assert filecmp.cmp(tmp_path / "cli" / name, tmp_path / "api" / name, shallow=False), name


def test_stats_api_matches_the_estimators():
    import pandas as pd

    import mrdtrack
    from mrdtrack.stats.logrank import logrank_test

    d = pd.read_csv(ROOT / "tests" / "fixtures" / "r" / "mgus2.csv").dropna(subset=["futime", "death", "sex"])
    tidy = mrdtrack.stats.logrank_test(d, time="futime", event="death", group="sex")
    raw = logrank_test(d, "futime", "death", "sex")
    assert list(tidy["group"]) == list(raw["groups"]["group"])
    assert (tidy["p"] == raw["p"]).all() and (tidy["chisq"] == raw["chisq"]).all()
    cox = mrdtrack.stats.cox_ph(d, time="futime", event="death", covariates=["sex", "age"])
    assert list(cox["term"]) == ["sexM", "age"] and cox.attrs["converged"]
