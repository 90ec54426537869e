"""Simulation scenarios: every modelling parameter of the simulator, with its default.

A scenario is a flat table of ``name = value`` in TOML or YAML. The packaged scenarios are
``default`` (calibrated to Alonso et al., Blood Adv 2020;4(10):2163) and ``null`` (progression
drawn independently of the MRD trajectory). A user's file overrides any subset of the defaults;
an unknown name or a value of the wrong kind is a ``ScenarioError`` (exit 2 at the command line).

Units: times in days unless the name says ``years`` or ``months``; burdens as log10 of the clonal
plasma-cell fraction of nucleated marrow cells (the MRD scale); ``*_range`` fields are
``[low, high]`` of a uniform draw; ``*_shares`` fields are probabilities in a fixed order that
sum to 1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mrdtrack.errors import UserError

PACKAGED = ("default", "null", "registry")


class ScenarioError(UserError, ValueError):
    """A scenario file or value is not acceptable (the user's input: exit 2)."""


def _p(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Scenario:
    """Every parameter of the latent model and of the observation model (docs/simulator.md)."""

    name: str = _p("default", "name of the scenario (free text)")

    # --- population and calendar
    diagnosis_first: str = _p("2011-07-01", "earliest diagnosis date (ISO)")
    diagnosis_last: str = _p("2017-06-30", "latest diagnosis date (ISO); diagnoses are uniform in between")
    data_cut: str = _p("2019-06-30", "administrative data cut (ISO)")
    age_median: float = _p(60.0, "median age at diagnosis (years)")
    age_sd: float = _p(7.5, "SD of age at diagnosis (normal, then clipped to age_range)")
    age_range: tuple[float, ...] = _p((32.0, 74.0), "ages are clipped to this range (transplant-eligible)")
    male_share: float = _p(0.56, "share of men")
    iss_shares: tuple[float, ...] = _p((0.38, 0.37, 0.25), "ISS I, II, III")
    high_risk_share: float = _p(0.18, "share with high-risk cytogenetics")
    heavy_chain_shares: tuple[float, ...] = _p((0.55, 0.21, 0.20, 0.03, 0.01),
                                               "IgG, IgA, none (light-chain only), IgD, IgM")
    kappa_share: float = _p(0.62, "share with kappa as the involved light chain")
    centres: int = _p(8, "number of treating centres (patients spread uniformly)")

    # --- therapy timeline
    induction_delay_range: tuple[float, ...] = _p((7.0, 35.0), "days from diagnosis to induction start")
    induction_days_range: tuple[float, ...] = _p((120.0, 185.0), "induction duration (days)")
    transplant_delay_range: tuple[float, ...] = _p((30.0, 75.0), "days from induction end to transplant")
    consolidation_share: float = _p(0.35, "share receiving consolidation after transplant")
    consolidation_delay_range: tuple[float, ...] = _p((60.0, 90.0), "days from transplant to consolidation start")
    consolidation_days_range: tuple[float, ...] = _p((50.0, 70.0), "consolidation duration (days)")
    maintenance_delay_range: tuple[float, ...] = _p((80.0, 110.0), "days from transplant to maintenance start")
    maintenance_after_consolidation_range: tuple[float, ...] = _p((14.0, 35.0),
                                                                 "days from consolidation end to maintenance start")
    toxicity_stop_rate_per_year: float = _p(0.25, "hazard of stopping maintenance for toxicity")
    fixed_duration_share: float = _p(0.2, "share treated with a planned, fixed maintenance duration")
    fixed_duration_months: float = _p(24.0, "planned duration of fixed-duration maintenance (months)")
    mrd_guided_stop_share: float = _p(0.15, "chance of stopping at a not-detected sample with lod <= "
                                            "mrd_guided_stop_max_lod after mrd_guided_stop_min_years")
    mrd_guided_stop_min_years: float = _p(2.0, "MRD-guided stop only from this many years of maintenance")
    mrd_guided_stop_max_lod: float = _p(1e-5, "MRD-guided stop needs a sample at least this sensitive")
    later_line_share: float = _p(0.92, "share of progressing patients who start a later line")
    later_line_delay_range: tuple[float, ...] = _p((14.0, 60.0), "days from recorded progression to a later line")

    # --- latent burden before maintenance
    diagnosis_bmpc_median_pct: float = _p(35.0, "median clonal marrow plasma cells at diagnosis (%)")
    diagnosis_bmpc_log_sd: float = _p(0.45, "SD of the natural log of that percentage")
    diagnosis_bmpc_range: tuple[float, ...] = _p((10.0, 90.0), "clonal plasma cells at diagnosis clipped to (%)")
    induction_reduction_mean: float = _p(2.1, "mean log10 reduction of the burden by induction")
    induction_reduction_sd: float = _p(0.8, "its between-patient SD")
    transplant_reduction_mean: float = _p(0.8, "mean log10 reduction by the transplant (over 60 days)")
    transplant_reduction_sd: float = _p(0.5, "its between-patient SD")
    consolidation_reduction_mean: float = _p(0.4, "mean log10 reduction by consolidation")
    consolidation_reduction_sd: float = _p(0.3, "its between-patient SD")
    min_total_reduction: float = _p(1.0, "at least this log10 reduction from diagnosis to maintenance start")
    high_risk_reduction_shift: float = _p(-0.3, "added to the induction reduction of high-risk patients")

    # --- latent burden during maintenance
    kinetics_shares_standard: tuple[float, ...] = _p((0.38, 0.35, 0.27),
                                                     "deepening, stable, regrowing: standard-risk mix")
    kinetics_shares_high: tuple[float, ...] = _p((0.25, 0.30, 0.45), "the same for high-risk patients")
    kinetics_entry_coupling: float = _p(0.6, "log odds of deepening (vs the other two) per log10 of burden at "
                                             "maintenance start above kinetics_entry_reference")
    kinetics_entry_reference: float = _p(-3.5, "reference log10 burden of that coupling")
    deepening_slope_mean: float = _p(-1.0, "mean initial slope of deepening patients (log10/year)")
    deepening_slope_sd: float = _p(0.35, "its between-patient SD")
    deepening_slope_max: float = _p(-0.2, "deepening slopes are at most this (log10/year)")
    flat_slope_sd: float = _p(0.1, "SD of the initial slope of stable and regrowing patients (mean 0)")
    delay_median_years: tuple[float, ...] = _p((7.0, 3.0, 1.0),
                                               "median delay before regrowth: deepening, stable, regrowing")
    delay_log_sd: float = _p(0.5, "SD of the natural log of the delay")
    regrowth_rate_median: float = _p(2.5, "median regrowth slope after the delay (log10/year)")
    regrowth_rate_log_sd: float = _p(0.35, "SD of the natural log of the regrowth slope")
    high_risk_regrowth_factor: float = _p(1.4, "regrowth slope multiplier for high-risk patients")
    iss3_regrowth_factor: float = _p(1.2, "regrowth slope multiplier for ISS III")
    burden_floor_mean: float = _p(-7.5, "mean lowest reachable log10 burden")
    burden_floor_sd: float = _p(0.4, "its between-patient SD")
    progression_margin_range: tuple[float, ...] = _p((1.0, 1.0),
                                                     "progression when the followed marker exceeds this multiple "
                                                     "of its IMWG progression increment")
    background_progression_rate_per_year: float = _p(0.003, "hazard of clinical progression (new lesion) "
                                                           "during maintenance, whatever the burden")
    progression_surge_per_year: float = _p(6.0, "slope of the burden's rise after progression (log10/year)")

    # --- null scenario
    independent_progression: bool = _p(False, "true: progression time drawn independently of the MRD trajectory")
    independent_pfs_median_years: float = _p(4.3, "null scenario: median time from maintenance start to progression")
    independent_pfs_shape: float = _p(1.3, "null scenario: Weibull shape of that time")
    independent_cap_margin: float = _p(1.0, "null scenario: before progression the burden stays this many log10 "
                                            "below the progression level")

    # --- deaths and follow-up
    other_death_rate_per_year: float = _p(0.004, "hazard of death from other causes at age 60")
    other_death_age_log_hazard: float = _p(0.08, "log hazard per year of age (other causes)")
    post_progression_death_median_years: float = _p(3.5, "median survival after progression (exponential)")
    loss_to_follow_up_rate_per_year: float = _p(0.01, "hazard of being lost to follow-up")
    last_contact_lag_range: tuple[float, ...] = _p((0.0, 45.0), "days between last contact and the data cut")
    spm_rate_per_year: float = _p(0.006, "hazard of a second primary malignancy from maintenance start")

    # --- serology: what a patient's disease secretes at diagnosis
    serum_m_median_g_dl: float = _p(3.2, "median serum M-protein at diagnosis, IgG and IgA (g/dL)")
    serum_m_minor_median_g_dl: float = _p(1.2, "the same for IgD and IgM")
    serum_m_log_sd: float = _p(0.45, "SD of its natural log")
    urine_m_median_heavy: float = _p(60.0, "median urine M-protein at diagnosis, heavy-chain disease (mg/24h)")
    urine_m_median_light: float = _p(700.0, "the same for light-chain-only disease (mg/24h)")
    urine_m_log_sd: float = _p(1.0, "SD of its natural log")
    flc_mono_median_heavy: float = _p(60.0, "median monoclonal free light chain at diagnosis, heavy chain (mg/L)")
    flc_mono_median_light: float = _p(900.0, "the same for light-chain-only disease (mg/L)")
    flc_mono_log_sd: float = _p(0.8, "SD of its natural log")
    flc_mono_min_light: float = _p(150.0, "light-chain-only monoclonal FLC at diagnosis is at least this (mg/L)")
    kappa_normal_median: float = _p(12.0, "median polyclonal kappa (mg/L)")
    lambda_normal_median: float = _p(15.0, "median polyclonal lambda (mg/L)")
    flc_normal_log_sd: float = _p(0.2, "SD of the natural log of the polyclonal FLC")
    flc_suppression: float = _p(0.6, "largest fractional suppression of the uninvolved chain")

    # --- assays
    lab_interval_range: tuple[float, ...] = _p((60.0, 90.0), "days between lab visits after induction")
    induction_lab_interval_range: tuple[float, ...] = _p((26.0, 35.0), "days between lab visits during induction")
    spep_limit_g_dl: float = _p(0.1, "electrophoresis limit: below it the serum M-protein is reported as 0")
    upep_limit_mg: float = _p(20.0, "urine electrophoresis limit (mg/24h); below it 0")
    serum_cv: float = _p(0.08, "coefficient of variation of serum M-protein")
    urine_cv: float = _p(0.15, "coefficient of variation of urine M-protein")
    flc_cv: float = _p(0.08, "coefficient of variation of free light chains")
    serum_clearance_per_year: float = _p(3.0, "intact M-protein falls at most this fast (log10/year): after a steep "
                                              "fall the serum lags the marrow")
    serum_ife_limit_g_dl: float = _p(0.015, "serum immunofixation detects an M-protein from this (g/dL)")
    serum_ife_limit_flc_mg_l: float = _p(15.0, "serum immunofixation detects monoclonal free light chain from this")
    urine_ife_limit_mg: float = _p(5.0, "urine immunofixation detects from this (mg/24h)")
    urine_every_visit_min_mg: float = _p(200.0, "urine tested at every visit when the diagnosis value is at least "
                                                "this (or serum M-protein < 1 g/dL); otherwise at diagnosis only")
    marrow_normal_pc_range: tuple[float, ...] = _p((0.5, 2.5), "polyclonal marrow plasma cells (%)")
    marrow_log_sd: float = _p(0.25, "sampling noise of marrow plasma cells (natural log)")
    clonality_limit_log10: float = _p(-3.3, "marrow reported clonal when the log10 burden is at least this")
    marrow_delay_range: tuple[float, ...] = _p((7.0, 28.0), "days from a suspected-CR visit to the marrow")
    imaging_share: float = _p(0.5, "share with PET-CT at diagnosis, before maintenance and at 2 years")
    imaging_positive_log10: float = _p(-3.0, "later PET-CT positive when the log10 burden is at least this")
    recorded_pd_response_share: float = _p(0.5, "share of recorded progressions also entered as a PD response")

    # --- events recording
    recorded_progression_share: float = _p(0.96, "share of progressions recorded in the events table")
    recorded_progression_lag_range: tuple[float, ...] = _p((0.0, 14.0), "days from the lab visit that shows "
                                                                       "progression to the recorded date")

    # --- MRD sampling
    post_induction_sample_share: float = _p(0.4, "share with an MRD sample at the end of induction")
    pre_maintenance_sample_share: float = _p(0.9, "share with an MRD sample before maintenance start")
    pre_maintenance_sample_range: tuple[float, ...] = _p((3.0, 20.0), "days before maintenance start")
    cr_sample_share: float = _p(0.7, "chance of an MRD sample at a CR suspected during maintenance")
    yearly_sample_share: float = _p(0.85, "chance that each yearly on-maintenance sample is taken")
    yearly_sample_jitter_days: float = _p(45.0, "yearly samples fall within +/- this of the anniversary")
    method_shares: tuple[float, ...] = _p((0.45, 0.40, 0.15), "MRD method mix: MFC, NGF, NGS")
    mfc_cells_range: tuple[float, ...] = _p((2e5, 5e5), "cells analysed by conventional flow (MFC)")
    ngf_cells_range: tuple[float, ...] = _p((2e6, 1e7), "cells analysed by next-generation flow (NGF)")
    ngs_cells_range: tuple[float, ...] = _p((1e6, 3e6), "cell equivalents sequenced (NGS)")
    flow_lod_events: float = _p(20.0, "flow LOD = this many clonal events / cells analysed")
    ngs_lod_events: float = _p(2.0, "NGS LOD = this many clonal reads / cells sequenced")
    mrd_noise_sd: float = _p(0.15, "measurement noise of log10 MRD level")

    # --- truth
    truth_thresholds: tuple[float, ...] = _p((1e-4, 1e-5), "thresholds at which the true MRD classes are written")

    @staticmethod
    def docs() -> dict[str, tuple[Any, str]]:
        """Per field: (default, meaning), for docs/simulator.md."""
        return {f.name: (f.default, f.metadata["doc"]) for f in dataclasses.fields(Scenario)}

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


_SHARE_FIELDS = {"iss_shares": 3, "heavy_chain_shares": 5, "kinetics_shares_standard": 3,
                 "kinetics_shares_high": 3, "method_shares": 3}
_RANGE_SUFFIX = "_range"


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"scenario field {name}: expected true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ScenarioError(f"scenario field {name}: expected a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ScenarioError(f"scenario field {name}: expected a whole number, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ScenarioError(f"scenario field {name}: expected a number, got {value!r}")
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ScenarioError(f"scenario field {name}: expected text, got {value!r}")
    return value


def _check(s: Scenario) -> None:
    for name, k in _SHARE_FIELDS.items():
        v = getattr(s, name)
        if len(v) != k or min(v) < 0 or abs(sum(v) - 1) > 1e-6:
            raise ScenarioError(f"scenario field {name}: expected {k} non-negative shares summing to 1, got {list(v)}")
    for f in dataclasses.fields(s):
        v = getattr(s, f.name)
        if f.name.endswith(_RANGE_SUFFIX) and (len(v) != 2 or v[0] > v[1]):
            raise ScenarioError(f"scenario field {f.name}: expected [low, high] with low <= high, got {list(v)}")
        if (f.name.endswith("_share") or f.name.endswith("_shares")) and isinstance(v, float) and not 0 <= v <= 1:
            raise ScenarioError(f"scenario field {f.name}: a share must be in [0, 1], got {v}")
    if len(s.delay_median_years) != 3 or min(s.delay_median_years) <= 0:
        raise ScenarioError("scenario field delay_median_years: expected 3 positive numbers")
    if not s.truth_thresholds or not all(0 < t <= 0.01 for t in s.truth_thresholds):
        raise ScenarioError("scenario field truth_thresholds: each must be in (0, 0.01]")
    dates = {}
    for name in ("diagnosis_first", "diagnosis_last", "data_cut"):
        try:
            dates[name] = dt.date.fromisoformat(getattr(s, name))
        except ValueError:
            raise ScenarioError(f"scenario field {name}: not a date (YYYY-MM-DD): {getattr(s, name)!r}") from None
    if not dates["diagnosis_first"] <= dates["diagnosis_last"]:
        raise ScenarioError("scenario: diagnosis_first must not be after diagnosis_last")
    if (dates["data_cut"] - dates["diagnosis_last"]).days < 730:
        raise ScenarioError("scenario: data_cut must be at least 2 years after diagnosis_last "
                            "(every patient reaches maintenance before it)")
    if s.centres < 1:
        raise ScenarioError("scenario field centres: at least 1")
    for name in ("mrd_noise_sd", "regrowth_rate_median", "serum_clearance_per_year", "progression_surge_per_year", "independent_pfs_median_years",
                 "independent_pfs_shape", "post_progression_death_median_years", "fixed_duration_months"):
        if getattr(s, name) <= 0:
            raise ScenarioError(f"scenario field {name}: must be positive")


def make_scenario(values: dict[str, Any] | None = None, base: Scenario | None = None) -> Scenario:
    """A Scenario from ``base`` (default: the defaults) with ``values`` overriding, every value checked."""
    base = base or Scenario()
    defaults = {f.name: getattr(base, f.name) for f in dataclasses.fields(Scenario)}
    out = dict(defaults)
    for name, value in (values or {}).items():
        if name not in defaults:
            raise ScenarioError(f"unknown scenario field {name!r} (docs/simulator.md lists every field)")
        out[name] = _coerce(name, value, defaults[name])
    s = Scenario(**out)
    _check(s)
    return s


def _parse(text: str, suffix: str, where: str) -> dict[str, Any]:
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ScenarioError(f"{where}: a scenario file must be .toml, .yaml or .yml")
    except ScenarioError:
        raise
    except Exception as exc:  # parse errors of either format
        raise ScenarioError(f"{where}: not valid {suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a table of field = value")
    return data


_TOML_HEADER = """\
# The default scenario of the mrdtrack simulator, calibrated to Alonso et al., Blood Adv 2020;4(10):2163
# (docs/simulator.md has the model and the calibration). Every field of mrdtrack.simulate.Scenario,
# with its default: copy this file, change what your design question needs, and pass it with
# `mrdtrack simulate --scenario FILE` (fields you leave out keep these values).
# Generated by mrdtrack.simulate.scenario.scenario_toml(Scenario()); a test keeps it in sync.
"""


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "[" + ", ".join(_toml_value(float(x)) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(v)


def scenario_toml(s: Scenario) -> str:
    """The scenario as a TOML file, each field preceded by its meaning (``default.toml``)."""
    import textwrap

    lines = [_TOML_HEADER]
    for f in dataclasses.fields(s):
        lines += ["# " + line for line in textwrap.wrap(f.metadata["doc"], 110)]
        lines.append(f"{f.name} = {_toml_value(getattr(s, f.name))}")
    return "\n".join(lines) + "\n"


def packaged_scenario_text(name: str) -> str:
    """The TOML text of a packaged scenario (``default`` or ``null``)."""
    return resources.files("mrdtrack").joinpath("scenarios", f"{name}.toml").read_text(encoding="utf-8")


def load_scenario(spec: str | Path | Scenario | None = "default") -> Scenario:
    """A packaged scenario by name, a scenario file (TOML/YAML) by path, or a Scenario as is.

    A user's file overrides the defaults of ``Scenario`` (the ``default`` scenario's values).
    """
    if isinstance(spec, Scenario):
        return spec
    if spec is None:
        spec = "default"
    if isinstance(spec, str) and spec in PACKAGED:
        return make_scenario(_parse(packaged_scenario_text(spec), ".toml", f"scenario {spec}"))
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc.strerror}); "
                            f"give a file or one of {', '.join(PACKAGED)}") from exc
    values = _parse(text, path.suffix.lower(), str(path))
    try:
        return make_scenario(values)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
