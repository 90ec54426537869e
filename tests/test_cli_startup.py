"""The CLI starts at once: importing the app and printing help import none of the heavy libraries
(pandas, numpy, pyarrow, matplotlib, scipy) nor the pipeline; each command imports what it needs
when it runs (docs/performance.md, round two). Timings are benchmarks, not tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("pandas", "numpy", "pyarrow", "matplotlib", "scipy", "jinja2", "mrdtrack.pipeline", "mrdtrack.report")

PROBE = """
import json, sys
argv = sys.argv[1:]
import mrdtrack.cli as cli
if argv:
    try:
        cli.app(argv, standalone_mode=True)
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {h.split('.')[0] for h in HEAVY}
                        and any(m == h or m.startswith(h + '.') for h in HEAVY))))
"""


def _python(code: str, *argv: str) -> str:
    """The last line ``code`` prints, run in a fresh interpreter with this checkout's source."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, check=True)
    return proc.stdout.strip().splitlines()[-1]


def _loaded(*argv: str) -> list[str]:
    return json.loads(_python(f"HEAVY = {HEAVY!r}\n" + PROBE, *argv))


@pytest.mark.parametrize("argv", [(), ("--help",), ("validate", "--help"), ("analyze", "--help"),
                                  ("report", "--help"), ("simulate", "--help"), ("stats", "km", "--help")])
def test_cli_start_imports_no_heavy_library(argv):
    assert _loaded(*argv) == []


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: running a command that needs pandas does load it."""
    code = ("import sys, mrdtrack.cli\nfrom mrdtrack.commands.alerts import parse_date\nparse_date('2024-01-01', 'x')\n"
            "print('pandas' in sys.modules)")
    assert _python(code) == "True"


def test_batch_size_default_mirrors_the_pipeline():
    from mrdtrack.commands.common import DEFAULT_BATCH_SIZE
    from mrdtrack.pipeline import DEFAULT_BATCH_SIZE as PIPELINE_DEFAULT

    assert DEFAULT_BATCH_SIZE == PIPELINE_DEFAULT


def test_jobs_default_is_the_cores_available():
    from mrdtrack.commands.common import default_jobs

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_jobs() == max(1, expected)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_jobs_default_follows_the_affinity_mask():
    """A process limited to one core (taskset, a container's cpuset) defaults to one job."""
    code = ("import os\nos.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
            "from mrdtrack.commands.common import default_jobs\nprint(default_jobs())")
    assert _python(code) == "1"


def test_report_with_workers_imports_neither_matplotlib_nor_scipy_stats_here(tmp_path):
    """``mrdtrack report --jobs 2`` of an in-memory cohort: matplotlib only in the figure workers;
    scipy.stats, tableone and statsmodels nowhere (issue 15: the report's start-up)."""
    cohort = Path(__file__).resolve().parents[1] / "examples" / "cohort"
    code = (f"import json, sys\nimport mrdtrack.cli as cli\n"
            f"try:\n    cli.app(['report', {str(cohort)!r}, '--out', {str(tmp_path / 'r')!r}, '--jobs', '2'])\n"
            f"except SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
            f"print(json.dumps(sorted(m for m in ('matplotlib', 'scipy.stats', 'tableone', 'statsmodels') "
            f"if m in sys.modules)))")
    assert json.loads(_python(code)) == []
    assert (tmp_path / "r" / "figures" / "km_pfs.svg").exists()


@pytest.mark.parametrize("argv", [["--help"], ["no-such-command"]])
def test_main_freezes_what_is_left_before_the_exit(argv):
    """``cli.main`` leaves the interpreter's exit nothing to walk (``gc.freeze``; 0.2 s of a demo
    report's exit), whether the command succeeded or typer stopped it; exit handlers still run."""
    code = ("import atexit, gc, sys\natexit.register(lambda: print('frozen' if gc.get_freeze_count() > 1000 "
            "else 'not frozen', flush=True))\nsys.argv = ['mrdtrack', *sys.argv[1:]]\n"
            "from mrdtrack.cli import main\nmain()")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
    assert proc.stdout.strip().splitlines()[-1] == "frozen"
    assert proc.returncode == (0 if argv == ["--help"] else 2)
