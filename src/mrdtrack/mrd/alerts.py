"""Open patient alerts as of a date D: the clinic worklist (docs/mrd.md section 5).

Only data dated on or before D are used, so the worklist of a past date can be replayed. An alert
is open when its condition holds at D; ``since`` is the date the condition started to hold. MRD
alerts concern patients whose maintenance is ongoing at D; ``pd_unconfirmed`` and ``progression``
concern every patient without a later line started by D. A patient who died on or before D has no
open alert (**convention**: the worklist is for patients still followed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrdtrack.config import Config
from mrdtrack.mrd.groups import days, first_row, last_row, take, to_dates
from mrdtrack.mrd.negativity import final_run_sustained, negative_runs

ALERT_COLUMNS = ["patient_id", "alert", "since", "detail"]
ALERTS = ("loss_of_mrd_negativity", "mrd_rising", "pd_unconfirmed", "progression", "mrd_overdue",
          "sustained_negative_reached")


def _iso(day: np.ndarray) -> pd.Series:
    return pd.Series(np.datetime_as_string(to_dates(np.asarray(day, float)), unit="D"))


def _sci(x: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(x, float)).map("{:.1e}".format)


def _frame(pids: np.ndarray, alert: str, which: np.ndarray, since: np.ndarray, detail: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pids[which], "alert": alert, "since": to_dates(since[which]),
                         "detail": detail.to_numpy(dtype=object)[which]})


def _anchor_days(anchors: pd.DataFrame, col: str) -> np.ndarray:
    if col not in anchors.columns:
        return np.full(len(anchors), np.nan)
    return days(anchors[col])


def maintenance_ongoing(anchors: pd.DataFrame, d: float) -> np.ndarray:
    """Per patient: maintenance started on or before D and not ended by D (no end, death or later
    line on or before D). A maintenance whose end is only the end of follow-up (no end date or
    reason recorded) counts as ongoing: the patient is still expected to be sampled."""
    ms = _anchor_days(anchors, "maintenance_start")
    mend = _anchor_days(anchors, "maintenance_end")
    eof = _anchor_days(anchors, "end_of_followup")
    reason = anchors["maintenance_end_reason"] if "maintenance_end_reason" in anchors else pd.Series(
        [None] * len(anchors), index=anchors.index)
    death = _anchor_days(anchors, "death_date")
    later = _anchor_days(anchors, "later_line_start")
    open_ended = reason.isna().to_numpy() & (mend == eof) & np.isnan(death)
    return (ms <= d) & ((mend >= d) | open_ended) & ~(death <= d) & ~(later <= d)


def confirmation_day(assessments: pd.DataFrame, anchors: pd.DataFrame, pd_confirm_days: int) -> np.ndarray:
    """Per assessment row: the day its PD became confirmed (docs/response-rules.md section 4), NaN for
    rows without ``pd_confirmed``: at once for a PD driven by a lesion (optional boolean column
    ``pd_lesion``); else the earlier of the next evaluable assessment when it also meets PD and a
    death or later line within ``pd_confirm_days`` before any further evaluable assessment; when
    neither is found, the PD day itself (a lesion PD, which needs no confirmation)."""
    a = assessments
    day = days(a["date"])
    ev = a["evaluable"].to_numpy(bool)
    order = np.lexsort((day, pd.factorize(a["patient_id"])[0]))
    pid_sorted = a["patient_id"].to_numpy()[order]
    ev_rows = order[ev[order]]
    next_row = np.full(len(a), -1)
    same = pid_sorted[ev[order]][1:] == pid_sorted[ev[order]][:-1]
    next_row[ev_rows[:-1][same]] = ev_rows[1:][same]
    meets = a["meets_pd"].to_numpy(bool)
    nxt_day = take(day, next_row)
    by_next = np.where(take(meets, next_row, False).astype(bool), nxt_day, np.nan)
    anc = anchors.set_index("patient_id")
    stop_day = np.full(len(a), np.nan)
    for col in ("death_date", "later_line_start"):
        if col in anc:
            ev_day = days(a["patient_id"].map(anc[col]))
            hit = (ev_day >= day) & (ev_day <= day + pd_confirm_days) & ~(nxt_day <= ev_day)
            stop_day = np.fmin(stop_day, np.where(hit, ev_day, np.nan))
    when = np.fmin(by_next, stop_day)
    when = np.where(np.isnan(when), day, when)
    if "pd_lesion" in a.columns:
        when = np.where(a["pd_lesion"].astype("boolean").fillna(False).to_numpy(bool), day, when)
    confirmed = a["pd_confirmed"].astype("boolean").fillna(False).to_numpy(bool)
    return np.where(confirmed, when, np.nan)


def _progression_as_of(a: pd.DataFrame, conf: np.ndarray, anchors, config: Config, d: float,
                      code_a: np.ndarray, n: int):
    """Per patient: the day of a progression known (confirmed) by D under the progression policy,
    and whether a derived PD was confirmed by D (whatever the policy). ``conf``: the
    confirmation day of each row of ``a``."""
    day = days(a["date"])
    known = conf <= d
    derived = np.full(n, np.nan)
    np.fmin.at(derived, code_a[known], day[known])
    recorded = _anchor_days(anchors, "recorded_progression_date")
    recorded = np.where(recorded <= d, recorded, np.nan)
    policy = {"derived": derived, "recorded": recorded}.get(config.progression_policy, np.fmin(derived, recorded))
    return policy, ~np.isnan(derived)


def patient_alerts(assessments: pd.DataFrame, samples: pd.DataFrame, anchors: pd.DataFrame, config: Config,
                   as_of) -> pd.DataFrame:
    """Open alerts at ``as_of`` (docs/mrd.md section 5): ``patient_id, alert, since, detail``, sorted
    by patient and alert. ``assessments``: assessments.csv columns plus boolean ``meets_pd`` and
    ``evaluable``; ``samples``: ``derive_mrd`` samples; ``anchors``: as for ``derive_mrd``."""
    d = float(days(np.array([pd.Timestamp(as_of).to_datetime64()]))[0])
    pids = anchors["patient_id"].to_numpy()
    n = len(pids)
    index = pd.Index(pids)

    # confirmation may come from data after D: computed on everything, then kept only if <= D
    conf = confirmation_day(assessments, anchors, config.pd_confirm_days)
    keep = days(assessments["date"]) <= d
    a, conf = assessments[keep], conf[keep]
    code_a = index.get_indexer(a["patient_id"])
    a, conf, code_a = a[code_a >= 0], conf[code_a >= 0], code_a[code_a >= 0]
    s = samples[days(samples["date"]) <= d]
    code_s = index.get_indexer(s["patient_id"])
    s, code_s = s[code_s >= 0], code_s[code_s >= 0]
    sday = days(s["date"])
    order = np.lexsort((sday, code_s))  # stable: keeps the samples' canonical order within a day
    s, code_s, sday = s.iloc[order], code_s[order], sday[order]

    later = _anchor_days(anchors, "later_line_start")
    no_later_line = ~(later <= d) & ~(_anchor_days(anchors, "death_date") <= d)
    ongoing = maintenance_ongoing(anchors, d)
    frames = []

    # progression / pd_unconfirmed
    prog, derived_known = _progression_as_of(a, conf, anchors, config, d, code_a, n)
    progression = no_later_line & ~np.isnan(prog)
    frames.append(_frame(pids, "progression", progression, prog,
                         "confirmed progression on " + _iso(prog) + "; no later line started"))
    aday = days(a["date"])
    a_order = np.lexsort((aday, code_a))
    a_sorted, code_as, aday_s = a.iloc[a_order], code_a[a_order], aday[a_order]
    latest = last_row(code_as, a_sorted["evaluable"].to_numpy(bool), n)
    latest_pd = take(a_sorted["meets_pd"].to_numpy(bool), latest, False).astype(bool)
    unconfirmed = no_later_line & latest_pd & ~progression & ~derived_known
    latest_day = take(aday_s, latest)
    frames.append(_frame(pids, "pd_unconfirmed", unconfirmed, latest_day,
                         "PD criterion met on " + _iso(latest_day) + ", not yet confirmed"))

    # MRD alerts: maintenance ongoing at D
    status = s["status"].to_numpy(object)
    neg, pos = status == "negative", status == "positive"
    evaluable = neg | pos
    level = s["level"].to_numpy(float)
    last_ev = last_row(code_s, evaluable, n)
    last_ev_day = take(sday, last_ev)
    latest_positive = take(pos, last_ev, False).astype(bool)
    last_neg = last_row(code_s, neg & (sday < last_ev_day[code_s]), n)
    last_neg_day = take(sday, last_neg)
    first_pos_after = first_row(code_s, pos & (sday > last_neg_day[code_s]), n)
    lost = ongoing & latest_positive & (last_neg >= 0)
    since = take(sday, first_pos_after)
    frames.append(_frame(pids, "loss_of_mrd_negativity", lost, since,
                         "MRD " + _sci(take(level, first_pos_after)) + " on " + _iso(since)
                         + " after negative on " + _iso(last_neg_day)))

    detected = (s["result"] == "detected").to_numpy(bool)
    last_det = last_row(code_s, detected, n)
    prev_det = last_row(code_s, detected & (np.arange(len(code_s)) < last_det[code_s]), n)
    rise = take(np.log10(level), last_det) - take(np.log10(level), prev_det)
    tol = config.mrd_rising_log10 * config.relative_tolerance
    rising = ongoing & (rise >= config.mrd_rising_log10 - tol)
    rise_day = take(sday, last_det)
    frames.append(_frame(pids, "mrd_rising", rising, rise_day,
                         "MRD rose from " + _sci(take(level, prev_det)) + " on " + _iso(take(sday, prev_det))
                         + " to " + _sci(take(level, last_det)) + " on " + _iso(rise_day)
                         + " (+" + pd.Series(rise).map("{:.1f}".format) + " log10)"))

    ms = _anchor_days(anchors, "maintenance_start")
    last_any = take(sday, last_row(code_s, np.ones(len(code_s), bool), n))
    ref = np.fmax(ms, last_any)
    limit = (config.mrd_interval_months + config.mrd_overdue_grace_months) * config.days_per_month
    overdue = ongoing & (d - ref > limit)
    due = ref + np.floor(limit) + 1  # the first day on which no sample in the window is true
    basis = pd.Series(np.where(last_any >= ms, "last MRD sample on ", "no MRD sample since maintenance start on "))
    frames.append(_frame(pids, "mrd_overdue", overdue, due,
                         basis + _iso(ref) + " (" + pd.Series((d - ref) / config.days_per_month).map(
                             "{:.1f}".format) + f" months ago; expected every {config.mrd_interval_months:g} months)"))

    prog_day = prog
    before_prog = evaluable & ~(sday >= prog_day[code_s])
    runs = negative_runs(code_s, sday, neg, pos, before_prog, config.mrd_sustained_days, n)
    start, reached = final_run_sustained(runs, n)
    sustained = ongoing & ~np.isnan(reached)
    frames.append(_frame(pids, "sustained_negative_reached", sustained, reached,
                         f"MRD negative at T={config.mrd_threshold:.0e} from " + _iso(start) + " to " + _iso(reached)
                         + ", no positive sample since"))

    out = pd.concat([f for f in frames if len(f)] or [pd.DataFrame(columns=ALERT_COLUMNS)], ignore_index=True)
    out["since"] = pd.to_datetime(out["since"])
    return out.sort_values(["patient_id", "alert"], kind="mergesort").reset_index(drop=True)[ALERT_COLUMNS]
