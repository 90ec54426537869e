"""The MRD sample table: status at T, censored log10 level, therapy phase (docs/mrd.md section 1; docs/cli.md mrd.csv).

Rows are put in one canonical order (patient_id, date, then every sample column as a tie-break)
so that results never depend on the order in which a cohort's rows arrive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.issues import issue, issues_frame
from mrdtrack.mrd.groups import days
from mrdtrack.mrd.status import NEGATIVE, NOT_EVALUABLE, POSITIVE, mrd_log10_level, mrd_status_at_threshold

#: docs/cli.md ``mrd.csv`` columns, in order.
SAMPLE_COLUMNS = ["patient_id", "date", "phase", "method", "lod", "result", "level", "log10_level",
                  "censored", "status"]

_ORDER = ["patient_id", "day", "result", "level", "lod", "method", "cells_analyzed", "row"]


def _canonical_order(w: pd.DataFrame) -> np.ndarray:
    """Row order by ``_ORDER`` (missing values last), via one numeric lexsort."""
    keys = []
    for col in _ORDER:
        v = w[col]
        if v.dtype == object:
            v = pd.Series(pd.factorize(v, sort=True)[0], index=v.index).replace(-1, np.iinfo(np.int64).max)
        v = v.to_numpy(dtype=float)
        keys.append(np.where(np.isnan(v), np.inf, v))
    return np.lexsort(keys[::-1])


def sample_frame(mrd: pd.DataFrame, patient_ids, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Working table of samples: contract columns + ``code`` (position of the patient in
    ``patient_ids``), ``day`` (float days), ``status``, ``log10_level``, ``censored`` and the
    boolean flags ``evaluable``, ``negative``, ``positive``, ``detected``; sorted canonically.

    Samples of a patient not in ``patient_ids`` are left out and each is listed as an issue.
    """
    code = pd.Index(patient_ids).get_indexer(mrd["patient_id"])
    unknown = mrd[code < 0]
    issues = issues_frame(
        issue("excluded", "mrd", code="MRD_PATIENT_UNKNOWN", message="MRD sample of a patient not in the analysed patients", row=r,
              patient_id=p, column="patient_id", value=p)
        for p, r in zip(unknown["patient_id"], unknown.get("row", [None] * len(unknown))))
    w = mrd[code >= 0].copy()
    w["code"] = code[code >= 0]
    w["day"] = days(w["date"])
    if "cells_analyzed" not in w:
        w["cells_analyzed"] = np.nan
    if "row" not in w:
        w["row"] = np.arange(len(w))
    w = w.iloc[_canonical_order(w)].reset_index(drop=True)
    w["status"] = mrd_status_at_threshold(w, config.mrd_threshold, config.relative_tolerance)
    w = pd.concat([w, mrd_log10_level(w)], axis=1)
    w["negative"] = (w["status"] == NEGATIVE).to_numpy()
    w["positive"] = (w["status"] == POSITIVE).to_numpy()
    w["evaluable"] = (w["status"] != NOT_EVALUABLE).to_numpy()
    w["detected"] = ~w["censored"].to_numpy(dtype=bool)
    return w, issues
