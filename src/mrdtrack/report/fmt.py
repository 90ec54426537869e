"""Formatting of the pipeline's numbers for people (no statistic is computed here)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

MISSING = "–"
NOT_ESTIMABLE = "not estimable (too few events)"
#: "not estimable" with the reason, by the issue code the statistics gave (docs/issues.md).
NOT_ESTIMABLE_BECAUSE = {"COX_NOT_CONVERGED": "not estimable (the Cox model did not converge)",
                         "COX_INFINITE_COEFFICIENT": NOT_ESTIMABLE}


def is_missing(v: Any) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def num(v: Any, digits: int = 1) -> str:
    """A number with ``digits`` decimals, or a dash when missing."""
    if is_missing(v):
        return MISSING
    return f"{float(v):.{digits}f}"


def sci(v) -> str:
    """A small fraction such as an MRD threshold in scientific notation: 1e-05, 2.5e-06."""
    if is_missing(v):
        return MISSING
    mantissa, exponent = f"{float(v):.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def pct(v: Any, digits: int = 1) -> str:
    """A fraction (0-1) as a percentage."""
    if is_missing(v):
        return MISSING
    return f"{100 * float(v):.{digits}f}%"


def pvalue(p: Any) -> str:
    """A p-value as journals print it (p < 0.001 below that)."""
    if is_missing(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}"


def share(s: dict | None) -> str:
    """``{numerator, denominator, value, ci_low, ci_high}`` as '12/35 (34.3%; 95% CI 20.8-50.8%)'."""
    if not s or is_missing(s.get("denominator")) or not s.get("denominator"):
        return "not estimable (no patient qualifies)"
    text = f"{int(s['numerator'])}/{int(s['denominator'])} ({pct(s.get('value'))}"
    if not is_missing(s.get("ci_low")) and not is_missing(s.get("ci_high")):
        text += f"; 95% CI {pct(s['ci_low'])} to {pct(s['ci_high'])}"
    return text + ")"


def estimate(e: dict | None, unit: str = "", digits: int = 1) -> str:
    """``{value, ci_low, ci_high}`` as '41.3 months (95% CI 30.2 to NR)'.

    A missing median or upper limit is 'not reached' (NR: the curve or its limit never falls to
    0.5); a missing lower limit is shown as a dash.
    """
    if not e or is_missing(e.get("value")):
        return "not reached" if e is not None else MISSING
    u = f" {unit}" if unit else ""
    lo = MISSING if is_missing(e.get("ci_low")) else num(e["ci_low"], digits)
    hi = "NR" if is_missing(e.get("ci_high")) else num(e["ci_high"], digits)
    return f"{num(e['value'], digits)}{u} (95% CI {lo} to {hi})"


def hazard_ratio(e: dict | None) -> str:
    """A hazard ratio ``{value, ci_low, ci_high}`` as 'HR 0.42 (0.21-0.83)'; one the statistics
    marked ``estimable: false`` (with the issue code of the reason) as 'not estimable (...)'."""
    if e and e.get("estimable") is False:
        return NOT_ESTIMABLE_BECAUSE.get(e.get("reason"), NOT_ESTIMABLE)
    if not e or is_missing(e.get("value")):
        return MISSING
    v = float(e["value"])
    lo, hi = e.get("ci_low"), e.get("ci_high")
    if not estimable(v, lo, hi):
        return NOT_ESTIMABLE
    return f"HR {v:.2f} (95% CI {num(lo, 2)} to {num(hi, 2)})"


def estimable(hr, lo, hi) -> bool:
    """Whether a hazard ratio and its limits are finite and positive (a group without events
    gives a ratio near 0 with an unbounded upper limit: not an estimate)."""
    vals = [hr, lo, hi]
    if any(is_missing(x) for x in vals):
        return False
    vals = [float(x) for x in vals]
    return all(math.isfinite(x) for x in vals) and all(x > 0 for x in vals)


def label(code: Any) -> str:
    """A code such as ``not_decreasing`` as words ('not decreasing')."""
    if is_missing(code) or code == "":
        return "not available"
    return str(code).replace("_", " ")


def significant(v: Any, digits: int = 2) -> str:
    """A number to ``digits`` significant digits ('-0.71', '0.0032'), without exponent where short."""
    if is_missing(v):
        return MISSING
    f = float(v)
    if f == 0 or not math.isfinite(f):
        return num(f, 0) if f == 0 else MISSING
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(f)))))
    return f"{round(f, decimals):.{decimals}f}"


def for_people(key: str, v: Any) -> Any:
    """A value of the patient page as people read it: months with one decimal, the MRD slope with
    two significant digits, other decimals with three; text, booleans and whole numbers as they are."""
    if isinstance(v, bool) or v is None or isinstance(v, str) or isinstance(v, int):
        return v
    if key.endswith("_months"):
        return num(v, 1)
    if float(v).is_integer():
        return str(int(v))
    if "slope" in key:
        return significant(v, 2)
    return significant(v, 3)
