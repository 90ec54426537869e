"""Kaplan-Meier estimates as R's ``survival::survfit`` computes them (survival 3.5-3).

* S(t) = prod_{t_k <= t} (1 - d_k / n_k) over distinct times, n_k = #{start < t_k <= stop}
  (delayed entry as ``Surv(start, stop, event)``).
* Greenwood: var(log S(t)) = sum d_k / (n_k (n_k - d_k)); ``std_err`` is the standard error of
  S(t), S(t) * sqrt(var), as ``summary.survfit`` prints it (NaN once S reaches 0, as R's NA).
* Pointwise limits (``survival:::survfit_confint``) with z = qnorm(1 - (1 - conf_level) / 2) and
  se = sqrt(var(log S)): ``log`` exp(log S -/+ z se), upper capped at 1; ``log-log``
  exp(-exp(log(-log S) -/+ z se / log S)) (undefined at S = 0 or 1); ``plain`` S -/+ z se S, cut to
  [0, 1].
* Median and its limits: ``print.survfit`` (``survival:::survmean``): the first time the curve
  (or its lower / upper limit) is below 0.5 + sqrt(machine eps); if the curve sits at 0.5 over an
  interval, the midpoint of that interval.

Tables carry any warnings (e.g. a group with no events) in ``DataFrame.attrs["warnings"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.stats.distributions import norm_ppf
from mrdtrack.stats.inputs import StatsInputError, group_codes, survival_data

CONF_TYPES = ("log", "log-log", "plain")
KM_COLUMNS = ["strata", "time", "n_risk", "n_event", "survival", "std_err", "lower", "upper"]
CURVE_COLUMNS = ["strata", "time", "n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper"]
_TOL = np.sqrt(np.finfo(float).eps)


def _check_options(conf_type: str, conf_level: float) -> None:
    if conf_type not in CONF_TYPES:
        raise StatsInputError(f"conf_type {conf_type!r}: use one of {', '.join(CONF_TYPES)}")
    if not 0 < conf_level < 1:
        raise StatsInputError(f"conf_level {conf_level!r}: must be between 0 and 1")


def confidence_limits(surv, se_log, conf_type: str = "log", conf_level: float = 0.95):
    """Pointwise limits of S from se = SE(log S) (R ``survfit_confint``, ``logse=TRUE``)."""
    _check_options(conf_type, conf_level)
    p = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    z = norm_ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = se * p * z
            return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        xx = np.where((p == 0) | (p == 1), np.nan, p)
        se2 = z * se / np.log(xx)
        return np.exp(-np.exp(np.log(-np.log(xx)) - se2)), np.exp(-np.exp(np.log(-np.log(xx)) + se2))


def _at_risk(start: np.ndarray | None, stop: np.ndarray, times: np.ndarray) -> np.ndarray:
    """#{start < t <= stop} for each t (start = -inf when there is no delayed entry)."""
    n = np.searchsorted(np.sort(stop), times, side="left")
    at = len(stop) - n
    if start is not None:
        at = at - (len(start) - np.searchsorted(np.sort(start), times, side="left"))
    return at.astype(np.int64)


def _one_curve(stop, event, start, conf_type, conf_level):
    times, inv = np.unique(stop, return_inverse=True)
    n_event = np.bincount(inv, weights=event, minlength=len(times))
    n_all = np.bincount(inv, minlength=len(times)).astype(float)
    n_risk = _at_risk(start, stop, times).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_event > 0, n_event / n_risk, 0.0)
        surv = np.cumprod(1.0 - hazard)
        green = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        var_log = np.cumsum(green)
        se_log = np.sqrt(var_log)
        std_err = np.where(np.isinf(se_log), np.nan, surv * se_log)
    lower, upper = confidence_limits(surv, se_log, conf_type, conf_level)
    return pd.DataFrame({"time": times, "n_risk": n_risk.astype(np.int64), "n_event": n_event.astype(np.int64),
                         "n_censor": (n_all - n_event).astype(np.int64), "survival": surv, "std_err": std_err,
                         "lower": lower, "upper": upper, "_se_log": se_log})


def _curves(df, time, event, start, group, conf_type, conf_level) -> tuple[pd.DataFrame, list[str]]:
    _check_options(conf_type, conf_level)
    data = survival_data(df, time, event, start, extra=[group] if group else ())
    codes, labels = group_codes(data.frame, group)
    frames, warnings = [], []
    for k, label in enumerate(labels):
        m = codes == k
        if not data.event[m].any():
            warnings.append(f"group {label!r} of {group or 'the table'} has no events: its curve stays at 1")
        c = _one_curve(data.time[m], data.event[m], None if data.start is None else data.start[m],
                       conf_type, conf_level)
        c.insert(0, "strata", label)
        frames.append(c)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["warnings"] = warnings
    out.attrs["n_dropped"] = data.n_dropped
    return out, warnings


def km_curve(df: pd.DataFrame, time: str, event: str, *, start: str | None = None, group: str | None = None,
             conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Full Kaplan-Meier curve (event and censoring times, for plots): ``CURVE_COLUMNS``.

    ``strata`` holds the group level (``all`` without ``group``); R's ``survfit`` with its times.
    """
    out, _ = _curves(df, time, event, start, group, conf_type, conf_level)
    res = out[CURVE_COLUMNS].copy()
    res.attrs = dict(out.attrs)
    return res


def km_table(df: pd.DataFrame, time: str, event: str, *, start: str | None = None, group: str | None = None,
             conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Event times only, ``KM_COLUMNS``: R ``summary(survfit(...), censored = FALSE)``."""
    out, _ = _curves(df, time, event, start, group, conf_type, conf_level)
    res = out.loc[out["n_event"] > 0, KM_COLUMNS].reset_index(drop=True)
    res.attrs = dict(out.attrs)
    return res


def _first_below_half(y: np.ndarray, x: np.ndarray) -> float:
    """R ``survmean``'s ``minmin``: the median rule of ``print.survfit``."""
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return np.nan
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < _TOL and (y < y[0]).any():
        return float((x[0] + x[np.argmax(y < y[0])]) / 2)
    return float(x[0])


def km_median(df: pd.DataFrame, time: str, event: str, *, start: str | None = None, group: str | None = None,
              conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Median survival with limits per group, as ``print.survfit``: ``strata, n, events, median,
    lower, upper`` (NaN where the curve or a limit never reaches 0.5)."""
    out, warnings = _curves(df, time, event, start, group, conf_type, conf_level)
    rows = []
    for label, c in out.groupby("strata", sort=False):
        x = c["time"].to_numpy()
        rows.append({"strata": label, "n": int(c["n_event"].sum() + c["n_censor"].sum()),
                     "events": int(c["n_event"].sum()),
                     "median": _first_below_half(c["survival"].to_numpy(), x),
                     "lower": _first_below_half(c["lower"].to_numpy(), x),
                     "upper": _first_below_half(c["upper"].to_numpy(), x)})
    res = pd.DataFrame(rows)
    res.attrs["warnings"] = warnings
    return res


def km_survival_at(df: pd.DataFrame, time: str, event: str, times, *, start: str | None = None,
                   group: str | None = None, conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Survival at chosen times with limits: R ``summary(fit, times = times)`` (``extend = FALSE``:
    times after a group's last observation are left out). ``n_event`` counts events since the
    previous requested time. Columns ``KM_COLUMNS``."""
    req = np.sort(np.unique(np.asarray(times, dtype=float)))
    if req.size == 0 or not np.isfinite(req).all():
        raise StatsInputError("times: give one or more finite times")
    out, warnings = _curves(df, time, event, start, group, conf_type, conf_level)
    frames = []
    for label, c in out.groupby("strata", sort=False):
        t = c["time"].to_numpy()
        r = req[req <= t[-1]]
        idx = np.searchsorted(t, r, side="right") - 1  # last curve time <= requested time
        nxt = np.searchsorted(t, r, side="left")  # first curve time >= requested time: its risk set
        surv = np.where(idx >= 0, c["survival"].to_numpy()[np.maximum(idx, 0)], 1.0)
        se_log = np.where(idx >= 0, c["_se_log"].to_numpy()[np.maximum(idx, 0)], 0.0)
        cum_events = np.concatenate([[0], np.cumsum(c["n_event"].to_numpy())])
        ev = cum_events[idx + 1]
        lower, upper = confidence_limits(surv, se_log, conf_type, conf_level)
        with np.errstate(invalid="ignore"):
            std_err = np.where(np.isinf(se_log), np.nan, surv * se_log)
        frames.append(pd.DataFrame({"strata": label, "time": r, "n_risk": c["n_risk"].to_numpy()[nxt],
                                    "n_event": np.diff(np.concatenate([[0], ev])).astype(np.int64),
                                    "survival": surv, "std_err": std_err, "lower": lower, "upper": upper}))
    res = pd.concat(frames, ignore_index=True)[KM_COLUMNS]
    res.attrs["warnings"] = warnings
    return res


def number_at_risk(df: pd.DataFrame, time: str, *, times, group: str | None = None,
                   start: str | None = None) -> pd.DataFrame:
    """At-risk table under a plot: ``strata, time, n_risk`` = #{start < t <= time} at each chosen
    time (R ``summary(fit, times=)$n.risk`` for times within follow-up)."""
    req = np.asarray(times, dtype=float)
    data = survival_data(df, time, None, start, extra=[group] if group else ())
    codes, labels = group_codes(data.frame, group)
    frames = []
    for k, label in enumerate(labels):
        m = codes == k
        frames.append(pd.DataFrame({"strata": label, "time": req,
                                    "n_risk": _at_risk(None if data.start is None else data.start[m],
                                                       data.time[m], req)}))
    return pd.concat(frames, ignore_index=True)
