"""``mrdtrack stats km|logrank|cox|cif|gray|finegray``: survival statistics on any CSV or Parquet table (docs/cli.md).

A thin shell over :mod:`mrdtrack.stats`: reads the table, calls the core, writes CSV (or JSON when
``--out`` ends in ``.json``), reports dropped rows and warnings on stderr. Bad input exits 2.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mrdtrack.commands.common import err_console, guarded
from mrdtrack.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

stats_app = typer.Typer(
    name="stats",
    help="Survival statistics on any table (CSV or Parquet) that agree with R's survival package.\n\n"
         "Example: mrdtrack stats km data.csv --time futime --event death --group sex --out km.csv",
    no_args_is_help=True,
    add_completion=False,
)

FileArg = Annotated[Path, typer.Argument(help="Input table: .csv or .parquet.")]
TimeOpt = Annotated[str, typer.Option("--time", help="Follow-up (stop) time column.")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column: 0/1 or true/false.")]
StartOpt = Annotated[str | None, typer.Option("--start", help="Entry time column (delayed entry / (start, stop] rows).")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="Group column (one curve or test group per level).")]
StrataOpt = Annotated[str | None, typer.Option("--strata", help="Stratification column.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output file: .csv, or .json for JSON.")]
ConfLevelOpt = Annotated[float, typer.Option("--conf-level", help="Confidence level of the limits.")]


def read_table(path: Path) -> pd.DataFrame:
    """CSV or Parquet by extension; a missing or unreadable file is the user's error."""
    import pandas as pd

    if not path.exists():
        raise UserError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path)
    except Exception as exc:  # a parser error names the file
        raise UserError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from None
    raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .parquet")


@contextmanager
def _naming(path: Path):
    """Prefix the core's input errors with the file they are about."""
    from mrdtrack.stats.inputs import StatsInputError

    try:
        yield
    except StatsInputError as exc:
        raise UserError(f"{path}: {exc}") from None


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _used(df: pd.DataFrame, columns, path: Path) -> pd.DataFrame:
    """Drop rows missing a used column (as R does) and say how many on stderr."""
    from mrdtrack.stats.inputs import drop_missing

    cols = [c for c in columns if c]
    clean, dropped = drop_missing(df, cols)
    if dropped:
        err_console.print(f"{path}: dropped {dropped} row(s) with a missing value in {', '.join(cols)}",
                          highlight=False)
    return clean


def _warn(warnings) -> None:
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)


def _clean(value):
    import numpy as np

    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in df.to_dict(orient="records")]


def write_output(out: Path, table: pd.DataFrame, payload: dict | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(_clean(payload if payload is not None else {"rows": _records(table)}), indent=1)
                       + "\n")
    else:
        table.to_csv(out, index=False, lineterminator="\n")


def _r_strata(table: pd.DataFrame, group: str | None) -> pd.DataFrame:
    if group:
        table = table.assign(strata=group + "=" + table["strata"].astype(str))
    return table


@stats_app.command("km", help="Kaplan-Meier estimates at event times: strata,time,n_risk,n_event,survival,std_err,"
                              "lower,upper (R summary(survfit(...), censored = FALSE)); JSON adds the medians.\n\n"
                              "Example: mrdtrack stats km mgus2.csv --time futime --event death --group sex "
                              "--conf-type log-log --out km.csv")
@guarded
def km(file: FileArg, time: TimeOpt, event: EventOpt, out: OutOpt, start: StartOpt = None, group: GroupOpt = None,
       conf_type: Annotated[str, typer.Option("--conf-type", help="log (R default), log-log or plain.")] = "log",
       conf_level: ConfLevelOpt = 0.95) -> None:
    with _naming(file):
        _km(file, time, event, out, start, group, conf_type, conf_level)


def _km(file, time, event, out, start, group, conf_type, conf_level) -> None:
    from mrdtrack.stats import KM_COLUMNS, km_median, km_table

    df = _used(read_table(file), [time, event, start, group], file)
    table = km_table(df, time, event, start=start, group=group, conf_type=conf_type, conf_level=conf_level)
    _warn(table.attrs.get("warnings", []))
    table = _r_strata(table, group)[KM_COLUMNS]
    payload = None
    if out.suffix.lower() == ".json":
        med = _r_strata(km_median(df, time, event, start=start, group=group, conf_type=conf_type,
                                  conf_level=conf_level), group)
        payload = {"conf_type": conf_type, "conf_level": conf_level, "km": _records(table),
                   "median": _records(med), "warnings": table.attrs.get("warnings", [])}
    write_output(out, table, payload)


@stats_app.command("logrank", help="Log-rank test across the levels of --group, optionally stratified (R survdiff): "
                                   "chisq,df,p; JSON adds observed and expected events per group.\n\n"
                                   "Example: mrdtrack stats logrank mgus2.csv --time futime --event death --group sex "
                                   "--out logrank.csv")
@guarded
def logrank(file: FileArg, time: TimeOpt, event: EventOpt, out: OutOpt,
            group: Annotated[str, typer.Option("--group", help="Group column (two or more levels).")],
            strata: StrataOpt = None) -> None:
    import pandas as pd

    from mrdtrack.stats.logrank import logrank_test

    with _naming(file):
        df = _used(read_table(file), [time, event, group, strata], file)
        res = logrank_test(df, time, event, group, strata=strata)
    _warn(res["warnings"])
    table = pd.DataFrame([{"chisq": res["chisq"], "df": res["df"], "p": res["p"]}])
    payload = {"chisq": res["chisq"], "df": res["df"], "p": res["p"], "groups": _records(res["groups"]),
               "warnings": res["warnings"]}
    write_output(out, table, payload)


@stats_app.command("cox", help="Cox proportional-hazards model (R coxph): term,coef,hr,se,p,lower,upper,loglik,"
                               "concordance; JSON adds the likelihood-ratio, Wald and score tests and the "
                               "proportional-hazards test (R cox.zph).\n\n"
                               "Example: mrdtrack stats cox mgus2.csv --time futime --event death "
                               "--covariates age,sex,hgb --ties efron --out cox.json\n\n"
                               "Counting process: mrdtrack stats cox heart.csv --start start --time stop --event event "
                               "--covariates age,surgery,transplant --categorical transplant --out cox.csv")
@guarded
def cox(file: FileArg, time: TimeOpt, event: EventOpt, out: OutOpt,
        covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated covariate columns.")],
        start: StartOpt = None, strata: StrataOpt = None,
        categorical: Annotated[str | None, typer.Option("--categorical",
                                                        help="Numeric columns to treat as categorical.")] = None,
        ties: Annotated[str, typer.Option("--ties", help="efron (R default) or breslow.")] = "efron",
        conf_level: ConfLevelOpt = 0.95) -> None:
    from mrdtrack.stats import cox_fit, cox_zph

    covs = _split(covariates)
    if not covs:
        raise UserError("--covariates: give one or more column names separated by commas")
    with _naming(file):
        df = _used(read_table(file), [time, event, start, strata, *covs], file)
        fit = cox_fit(df, time, event, covs, start=start, strata=strata, categorical=_split(categorical), ties=ties,
                      conf_level=conf_level)
    _warn(fit.warnings)
    payload = None
    if out.suffix.lower() == ".json":
        payload = fit.to_dict()
        with _naming(file):
            payload["ph_test"] = _records(cox_zph(fit))
    write_output(out, fit.table, payload)


CauseEventOpt = Annotated[str, typer.Option("--event", help="0 = censored; any other value names the cause.")]


@stats_app.command("cif", help="Cumulative incidence with competing events (Aalen-Johansen; R survfit with a "
                               "factor event), one row per distinct time (per group): [group,] time, n_risk, "
                               "n_event, n_censor, then cif_<cause>, std_err_<cause>, lower_<cause>, upper_<cause> "
                               "per cause. --event: 0 = censored, any other value names the cause.\n\n"
                               "Example: mrdtrack stats cif mgus2_events.csv --time etime --event cause --group sex "
                               "--out cif.csv")
@guarded
def cif(file: FileArg, time: TimeOpt, out: OutOpt, event: CauseEventOpt, start: StartOpt = None,
        group: GroupOpt = None,
        conf_type: Annotated[str, typer.Option("--conf-type", help="log (R default), log-log or plain.")] = "log",
        conf_level: ConfLevelOpt = 0.95) -> None:
    from mrdtrack.stats import cumulative_incidence

    with _naming(file):
        df = _used(read_table(file), [time, event, start, group], file)
        table = cumulative_incidence(df, time=time, event=event, group=group, start=start, conf_type=conf_type,
                                     conf_level=conf_level)
    _warn(table.attrs["warnings"])
    write_output(out, table, {"causes": table.attrs["causes"], "conf_type": conf_type, "conf_level": conf_level,
                              "cif": _records(table), "warnings": table.attrs["warnings"]})


@stats_app.command("gray", help="Gray's test that the cumulative incidence of each cause is equal across the levels "
                                "of --group (R cmprsk::cuminc(...)$Tests): cause, statistic, df, p.\n\n"
                                "Example: mrdtrack stats gray mgus2_events.csv --time etime --event cause --group sex "
                                "--out gray.csv")
@guarded
def gray(file: FileArg, time: TimeOpt, out: OutOpt, event: CauseEventOpt,
         group: Annotated[str, typer.Option("--group", help="Group column (two or more levels).")]) -> None:
    from mrdtrack.stats import gray_test

    with _naming(file):
        df = _used(read_table(file), [time, event, group], file)
        table = gray_test(df, time=time, event=event, group=group)
    _warn(table.attrs["warnings"])
    write_output(out, table, {"tests": _records(table), "groups": table.attrs["groups"],
                              "warnings": table.attrs["warnings"]})


@stats_app.command("finegray", help="Fine-Gray subdistribution hazards model for one cause (R cmprsk::crr, robust "
                                    "standard errors): term, coef, se, hr, lower, upper, p. Text covariates are "
                                    "categorical, coded as in `stats cox`. JSON adds n, events, convergence and "
                                    "log-likelihoods.\n\n"
                                    "Example: mrdtrack stats finegray mgus2_events.csv --time etime --event cause "
                                    "--cause pcm --covariates age,sex,mspike --out fg.csv")
@guarded
def finegray(file: FileArg, time: TimeOpt, out: OutOpt, event: CauseEventOpt,
             cause: Annotated[str, typer.Option("--cause", help="The cause of interest (a value of --event).")],
             covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated covariate columns.")],
             categorical: Annotated[str | None, typer.Option("--categorical",
                                                             help="Numeric columns to treat as categorical.")] = None,
             conf_level: ConfLevelOpt = 0.95) -> None:
    from mrdtrack.stats import fine_gray

    covs = _split(covariates)
    if not covs:
        raise UserError("--covariates: give one or more column names separated by commas")
    with _naming(file):
        df = _used(read_table(file), [time, event, *covs], file)
        table = fine_gray(df, time=time, event=event, cause=cause, covariates=covs, categorical=_split(categorical),
                          conf_level=conf_level)
    _warn(table.attrs["warnings"])
    meta = {k: table.attrs[k] for k in ("n", "events", "cause", "converged", "iterations", "loglik", "loglik_null",
                                        "flagged", "warnings")}
    write_output(out, table, {**meta, "coefficients": _records(table)})


def register(app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")
