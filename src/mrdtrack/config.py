"""Every threshold and window of mrdtrack, in one frozen object.

Each field carries its default and, in ``metadata["source"]``, where the value comes from
(the criterion or the project's convention). Named profiles bundle overrides:

* ``imwg2016`` (default): IMWG 2016 consensus (Kumar et al., Lancet Oncol 2016;17:e328-46),
  MRD analysis threshold 1e-5;
* ``alonso2020``: the seed study (Alonso et al., Blood Adv 2020;4(10):2163), MRD threshold 1e-4
  (its assays had a sensitivity of 1e-4 or better).

A study states its own values in a TOML or YAML file (``--config``); any field may be overridden.
The resolved configuration is written into every output (``summary.json``, the report).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMWG2016 = "Kumar et al., Lancet Oncol 2016;17:e328-46"
CONVENTION = "mrdtrack convention (docs/response-rules.md)"
CONTRACT = "mrdtrack data contract (docs/data-contract.md)"


def _f(default: Any, source: str, doc: str) -> Any:
    return field(default=default, metadata={"source": source, "doc": doc})


@dataclass(frozen=True)
class Config:
    """The resolved analysis configuration (all thresholds and windows)."""

    profile: str = _f("imwg2016", CONVENTION, "name of the profile the values started from")

    # --- data contract (docs/data-contract.md, consistency rules)
    pre_diagnosis_days: int = _f(90, CONTRACT, "no dated row may lie more than this many days before diagnosis_date")
    max_cell_chars: int = _f(10_000, CONVENTION, "a cell longer than this many characters is an error (corrupt or misaligned file)")

    # --- assessments and baseline (docs/response-rules.md sections 1-2)
    assessment_window_days: int = _f(7, CONVENTION, "results within this many days of the first ungrouped result form one assessment")
    baseline_window_days: int = _f(60, CONVENTION, "baseline = latest value on or before first treatment, at most this many days before it")
    marrow_window_days: int = _f(60, CONVENTION, "a marrow qualifies an assessment for CR within this many days (before or after)")
    relative_tolerance: float = _f(1e-9, CONVENTION, "relative tolerance of every threshold comparison")

    # --- measurable disease (IMWG 2016 table 2; Rajkumar 2011)
    measurable_serum_g_dl: float = _f(1.0, IMWG2016, "serum M-protein >= this (g/dL) makes serum measurable")
    measurable_urine_mg_24h: float = _f(200.0, IMWG2016, "urine M-protein >= this (mg/24h) makes urine measurable")
    measurable_flc_mg_l: float = _f(100.0, IMWG2016, "involved FLC >= this (mg/L) with an abnormal ratio makes dFLC measurable")
    flc_ratio_low: float = _f(0.26, IMWG2016, "lower limit of the normal kappa/lambda ratio (inclusive)")
    flc_ratio_high: float = _f(1.65, IMWG2016, "upper limit of the normal kappa/lambda ratio (inclusive)")

    # --- response levels (IMWG 2016 table 3)
    vgpr_serum_fraction: float = _f(0.10, IMWG2016, "VGPR: serum M-protein <= this fraction of baseline")
    pr_serum_fraction: float = _f(0.50, IMWG2016, "PR: serum M-protein <= this fraction of baseline")
    mr_serum_fraction: float = _f(0.75, IMWG2016, "MR: serum M-protein <= this fraction of baseline")
    vgpr_urine_mg_24h: float = _f(100.0, IMWG2016, "VGPR: urine M-protein < this (mg/24h)")
    pr_urine_fraction: float = _f(0.10, IMWG2016, "PR: urine M-protein <= this fraction of baseline")
    pr_urine_mg_24h: float = _f(200.0, IMWG2016, "PR: or urine M-protein < this (mg/24h)")
    mr_urine_fraction: float = _f(0.50, IMWG2016, "MR: urine M-protein <= this fraction of baseline")
    vgpr_flc_fraction: float = _f(0.10, IMWG2016, "VGPR (dFLC followed): dFLC <= this fraction of baseline")
    pr_flc_fraction: float = _f(0.50, IMWG2016, "PR (dFLC followed): dFLC <= this fraction of baseline")
    pr_marrow_fraction: float = _f(0.50, IMWG2016, "PR (marrow followed): plasma cells <= this fraction of baseline")
    pr_marrow_min_baseline_pct: float = _f(30.0, IMWG2016, "PR (marrow followed) needs baseline plasma cells >= this (%)")
    cr_marrow_max_pct: float = _f(5.0, IMWG2016, "CR: marrow plasma cells < this (%)")
    pr_plasmacytoma_shrink: float = _f(0.50, IMWG2016, "PR: baseline plasmacytoma SPD shrunk by >= this fraction")
    mr_plasmacytoma_shrink: float = _f(0.25, IMWG2016, "MR: baseline plasmacytoma SPD shrunk by >= this fraction")

    # --- progression (IMWG 2016 table 3)
    pd_relative_increase: float = _f(1.25, IMWG2016, "PD: value >= this multiple of the nadir")
    pd_serum_increase_g_dl: float = _f(0.5, IMWG2016, "PD: serum M-protein >= nadir + this (g/dL)")
    pd_serum_high_nadir_g_dl: float = _f(5.0, IMWG2016, "PD: when the serum nadir >= this (g/dL), +pd_serum_high_nadir_increase_g_dl alone suffices")
    pd_serum_high_nadir_increase_g_dl: float = _f(1.0, IMWG2016, "PD: increase that suffices alone when the nadir is high (g/dL)")
    pd_urine_increase_mg_24h: float = _f(200.0, IMWG2016, "PD: urine M-protein >= nadir + this (mg/24h)")
    pd_flc_increase_mg_l: float = _f(100.0, IMWG2016, "PD: dFLC > nadir + this (mg/L)")
    pd_marrow_increase_points: float = _f(10.0, IMWG2016, "PD: marrow plasma cells >= nadir + this (percentage points)")
    pd_plasmacytoma_factor: float = _f(1.5, IMWG2016, "PD: plasmacytoma SPD >= this multiple of the lowest SPD")
    pd_confirm_days: int = _f(120, CONVENTION, "PD confirmed by death or a later line within this many days")

    # --- MRD (docs/response-rules.md section 6, docs/mrd.md)
    mrd_threshold: float = _f(1e-5, IMWG2016, "analysis threshold T (fraction of nucleated cells)")
    mrd_cr_window_days: int = _f(90, CONVENTION, "MRD-negative CR: negative sample at most this many days before CR")
    mrd_sustained_days: int = _f(365, IMWG2016, "sustained MRD-negative: two negative samples at least this many days apart")
    entry_window_before_days: int = _f(180, CONVENTION, "entry sample: from this many days before maintenance start")
    entry_window_after_days: int = _f(30, CONVENTION, "entry sample: to this many days after maintenance start")
    kinetics_log_change: float = _f(0.5, CONVENTION, "decreasing/increasing: log10 change of at least this")
    mrd_log10_sd: float = _f(0.25, CONVENTION, "fixed residual SD of log10 MRD level in the censored slope fit")
    mrd_rising_log10: float = _f(1.0, CONVENTION, "alert mrd_rising: latest two detected samples rose by >= this (log10)")
    mrd_interval_months: float = _f(12.0, CONVENTION, "expected interval between MRD samples during maintenance (months)")
    mrd_overdue_grace_months: float = _f(3.0, CONVENTION, "alert mrd_overdue after mrd_interval_months + this")

    # --- outcomes (docs/outcomes.md)
    progression_policy: str = _f("earliest", CONVENTION, "analysis progression date: derived, recorded or earliest")
    progression_agreement_days: int = _f(30, CONVENTION, "derived and recorded progression within this many days agree ('both')")
    days_per_month: float = _f(30.4375, CONVENTION, "days in a month (365.25 / 12)")
    landmarks_months: tuple[float, ...] = _f((12.0, 24.0), CONVENTION, "landmark times after maintenance start (months)")
    survival_times_months: tuple[float, ...] = _f((12.0, 36.0, 60.0), CONVENTION, "fixed times at which survival is reported (months)")
    conf_level: float = _f(0.95, CONVENTION, "confidence level of intervals")
    km_conf_type: str = _f("log", CONVENTION, "Kaplan-Meier pointwise limits: log (R default), log-log or plain")
    ph_test_alpha: float = _f(0.05, CONVENTION, "a proportional-hazards test (cox.zph) below this p is a warning "
                              "beside the hazard ratio")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON-ready values (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @staticmethod
    def sources() -> dict[str, dict[str, str]]:
        """Per field: its source and one-line meaning (for the docs and the report)."""
        return {
            f.name: {"source": f.metadata["source"], "doc": f.metadata["doc"], "default": f.default}
            for f in dataclasses.fields(Config)
        }


PROFILES: dict[str, dict[str, Any]] = {
    "imwg2016": {},
    "alonso2020": {"mrd_threshold": 1e-4},
}

PROGRESSION_POLICIES = ("derived", "recorded", "earliest")
KM_CONF_TYPES = ("log", "log-log", "plain")


class ConfigError(ValueError):
    """A configuration file or value is not acceptable (the user's input: exit 2)."""


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file ({exc.strerror})") from exc
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: configuration must be .toml, .yaml or .yml")
    except ConfigError:
        raise
    except Exception as exc:  # parse errors of either format
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of field = value")
    return data


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"config field {name}: expected true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, float)) for v in value):
            raise ConfigError(f"config field {name}: expected a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"config field {name}: expected a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"config field {name}: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"config field {name}: expected text, got {value!r}")
    return value


def make_config(profile: str = "imwg2016", overrides: dict[str, Any] | None = None) -> Config:
    """Build a Config from a profile name plus field overrides, checking every value."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values: dict[str, Any] = {"profile": profile, **PROFILES[profile]}
    defaults = {f.name: f.default for f in dataclasses.fields(Config)}
    for name, value in (overrides or {}).items():
        if name not in defaults:
            raise ConfigError(f"unknown config field {name!r}")
        if name == "profile":
            continue
        values[name] = _coerce(name, value, defaults[name])
    cfg = Config(**values)
    _check(cfg)
    return cfg


def _check(cfg: Config) -> None:
    if cfg.progression_policy not in PROGRESSION_POLICIES:
        raise ConfigError(f"progression_policy must be one of {', '.join(PROGRESSION_POLICIES)}")
    if cfg.km_conf_type not in KM_CONF_TYPES:
        raise ConfigError(f"km_conf_type must be one of {', '.join(KM_CONF_TYPES)}")
    if not 0 < cfg.mrd_threshold <= 0.01:
        raise ConfigError("mrd_threshold must be in (0, 0.01]")
    if not 0 < cfg.conf_level < 1:
        raise ConfigError("conf_level must be in (0, 1)")


def load_config(profile: str = "imwg2016", path: str | Path | None = None) -> Config:
    """The configuration for ``--profile`` and ``--config FILE`` (file values win)."""
    overrides = _read_config_file(Path(path)) if path is not None else {}
    profile = overrides.pop("profile", profile) if isinstance(overrides.get("profile"), str) else profile
    return make_config(profile, overrides)

