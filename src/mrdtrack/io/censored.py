"""Censored lab values (``<0.1``, ``<= 0.1``, OMOP ``operator_concept_id`` < / <=), the same in every door.

docs/data-model.md "Censored values": a result below a stated limit is
* serum or urine M-protein: 0 (not measurable on electrophoresis);
* free light chains: the stated limit, with a warning;
* any other test: an error for that row.
The original text is kept in the issue (or the import log).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from mrdtrack.contract import CENSORED_LIMIT_TESTS, CENSORED_ZERO_TESTS

CENSORED_OPERATORS = ("<", "<=")
#: '<0.1', '< 0.1', '<=0.1', '≤ 0.1' (lab exports print them so)
_CENSORED_TEXT = re.compile(r"^\s*(<=|<|≤)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")

ZERO, LIMIT, NOT_ALLOWED = "zero", "limit", "not_allowed"


def split_censored(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(operator '<' / '<=' or NA, the number's text or NA) for cells written like ``<0.1``."""
    m = text.astype("string").str.extract(_CENSORED_TEXT)
    op = m[0].replace("≤", "<=")
    return op, m[1]


def censored_outcome(test: pd.Series, censored) -> np.ndarray:
    """Per row, what a censored value becomes: ZERO, LIMIT or NOT_ALLOWED (None when not censored)."""
    censored = np.asarray(censored, dtype=bool)
    t = test.to_numpy(dtype=object)
    out = np.full(len(t), None, dtype=object)
    out[censored] = NOT_ALLOWED
    out[censored & np.isin(t, CENSORED_ZERO_TESTS)] = ZERO
    out[censored & np.isin(t, CENSORED_LIMIT_TESTS)] = LIMIT
    return out


def censored_value(limit, outcome: np.ndarray) -> np.ndarray:
    """The value a censored row is read as: 0 (ZERO), the limit (LIMIT), NaN (NOT_ALLOWED)."""
    x = np.asarray(limit, dtype="float64").copy()
    x[outcome == ZERO] = 0.0
    x[outcome == NOT_ALLOWED] = np.nan
    return x


def censored_message(test: pd.Series, original: pd.Series, outcome: np.ndarray) -> pd.Series:
    """One message per censored row naming the rule applied and the original value."""
    words = {ZERO: "read as 0 (not measurable on electrophoresis)",
             LIMIT: "read as the stated limit (the true value is lower)",
             NOT_ALLOWED: "cannot be used: only M-protein and free light chains accept a value below a limit"}
    t = test.astype(str).to_numpy(dtype=object)
    o = original.astype(str).to_numpy(dtype=object)
    w = np.array([words.get(x, "") for x in outcome], dtype=object)
    return pd.Series("censored " + t + " value '" + o + "' " + w, dtype=object)
