"""mrdtrack: serial MRD monitoring and IMWG response-depth analysis in multiple myeloma.

The notebook API (docs/api.md), imported on first use so that ``import mrdtrack`` stays fast:

* ``mrdtrack.read_cohort(path, config=None, ...)`` -> ReadResult (``cohort``, ``issues``, ``counts``)
* ``mrdtrack.analyze(cohort_or_path, profile=None, config=None, ...)`` -> Analysis (``patients``,
  ``assessments``, ``mrd``, ``issues``, ``summary``)
* ``mrdtrack.write_report(analysis, out_dir)`` -> path of report.html
* ``mrdtrack.stats``: ``kaplan_meier``, ``logrank_test``, ``cox_ph``, ``cumulative_incidence``, ...
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {"read_cohort": "mrdtrack.api", "analyze": "mrdtrack.api", "write_report": "mrdtrack.api",
        "stats": "mrdtrack.stats", "Config": "mrdtrack.config", "UserError": "mrdtrack.errors",
        "InvalidCohort": "mrdtrack.errors"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'mrdtrack' has no attribute {name!r}")
    module = import_module(_API[name])
    value = module if name == "stats" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
