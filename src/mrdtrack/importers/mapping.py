"""The mapping from a clinical database's codes to the data contract (docs/mapping.md).

One built-in mapping (``DEFAULT_MAPPING``) holds every default of the OMOP and FHIR sources
(docs/omop.md): which persons form the cohort, which rows are which lab test, MRD method,
patient attribute or imaging study, extra drug matches and the numbers of the phase rules
(docs/phases-from-drugs.md). A user file (``--mapping FILE``, TOML or YAML) adds keys or replaces
single keys: a key given in the file replaces that key's default, whole.

Defaults select by LOINC code (resolved through the vocabulary, never by a hard-coded
measurement concept id). Where LOINC has no code, the default selects rows whose source value is
the contract's own name (``urine_ife``, ``mrd_ngs``, ...): a local convention the simulator's OMOP
writer follows and a user replaces with local codes.

``python -m mrdtrack.importers.mapping > docs/mapping.md`` writes the documentation page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mrdtrack.contract import LAB_TESTS, MRD_METHODS
from mrdtrack.errors import UserError

SELECTOR_TABLES = ("measurement", "observation")
SCALES = ("percent", "fraction")
PATIENT_ATTRIBUTES = ("heavy_chain", "light_chain", "iss_stage", "cytogenetic_risk")
IMAGING_MODALITIES = ("PET-CT", "MRI", "CT", "other")

# --- fixed OMOP concepts of the standard vocabularies (OMOP CDM v5.4 conventions, docs/omop.md)
GENDER = {8507: "M", 8532: "F"}
OPERATORS = {4171756: "<", 4171754: "<=", 4172703: "=", 4172704: ">", 4171755: ">="}
EPISODE_TREATMENT_REGIMEN = 32531
EPISODE_PROGRESSION = (32949, 32677)
#: LOINC answer codes of categorical results -> "positive" or "negative".
ANSWER_CODES = {"LA6576-8": "positive", "LA11882-0": "positive", "LA6577-6": "negative", "LA11883-8": "negative"}
#: Words (value concept names, value strings) read as positive / negative, lower case.
ANSWER_WORDS = {"positive": "positive", "detected": "positive", "present": "positive", "yes": "positive",
                "negative": "negative", "not detected": "negative", "absent": "negative", "no": "negative"}
#: Contract words of each categorical test for a positive / negative result (None: left out).
CATEGORY_WORDS = {"serum_ife": ("positive", "negative"), "urine_ife": ("positive", "negative"),
                  "bm_clonality": ("clonal", "polyclonal"), "new_lesion": ("yes", None)}
#: UCUM spellings of the contract's units (then the contract's own unit normalisation applies).
UNIT_ALIASES = {"mg/(24.h)": "mg/24h", "g/(24.h)": "g/24h", "mg/24.h": "mg/24h", "g/24.h": "g/24h",
                "cm2": "cm2", "cm^2": "cm2", "cm[2]": "cm2", "g/l": "g/L", "mg/l": "mg/L", "mg/dl": "mg/dL",
                "g/dl": "g/dL", "%": "%", "percent": "%"}
#: Units of an MRD row: divisor to a fraction of nucleated cells.
MRD_UNIT_SCALE = {"%": 100.0, "percent": 100.0, "{fraction}": 1.0, "1": 1.0, "fraction": 1.0}


@dataclass(frozen=True)
class Selector:
    """Rows of one table picked by LOINC code, concept id or source value (any part matches).

    ``scale`` and ``lod`` serve MRD methods only; ``table`` is ``measurement`` or ``observation``.
    Codes listed first win when a person has results of several on one date.
    """

    loinc: tuple[str, ...] = ()
    concept_id: tuple[int, ...] = ()
    source_value: tuple[str, ...] = ()
    table: str = "measurement"
    scale: str | None = None
    lod: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.loinc or self.concept_id or self.source_value)

    def describe(self) -> str:
        parts = [f"loinc = {list(self.loinc)}" if self.loinc else "",
                 f"concept_id = {list(self.concept_id)}" if self.concept_id else "",
                 f"source_value = {list(self.source_value)}" if self.source_value else "",
                 f'table = "{self.table}"' if self.table != "measurement" else "",
                 f'scale = "{self.scale}"' if self.scale else "",
                 f"lod = {self.lod:g}" if self.lod is not None else ""]
        return "{ " + ", ".join(p for p in parts if p) + " }"


@dataclass(frozen=True)
class CohortRule:
    """Who is in the cohort: diagnosis_date = earliest matching condition start."""

    snomed: tuple[str, ...] = ("109989006",)  # Multiple myeloma (disorder), with descendants
    icd10: tuple[str, ...] = ("C90.0",)  # prefix match on the condition's source value, dot optional


#: A second primary malignancy (the contract's ``spm`` event), in every door: a condition coded SNOMED CT
#: 363346000 (malignant neoplastic disease) or an ICD-10 C code other than C90 (myeloma itself) and
#: C77-C80 (secondary and unspecified sites), starting after diagnosis (docs/omop.md, docs/fhir.md).
SPM_SNOMED = ("363346000",)
SPM_ICD10 = r"C(?!90|7[7-9]|80)\d"
#: The ICD-10 prefixes that are not a second primary (SQL form of SPM_ICD10's exclusions).
SPM_ICD10_EXCLUDED = ("C90", "C77", "C78", "C79", "C80")


def _sv(*names: str, table: str = "measurement", **kw) -> Selector:
    return Selector(source_value=names, table=table, **kw)


DEFAULT_LABS = {
    "serum_m_protein": Selector(loinc=("33358-3", "51435-6")),
    "urine_m_protein": Selector(loinc=("42482-0",)),
    "flc_kappa": Selector(loinc=("36916-5",)),
    "flc_lambda": Selector(loinc=("33944-0",)),
    "serum_ife": Selector(loinc=("25700-6",)),
    "urine_ife": _sv("urine_ife"),
    "bm_plasma_cells": Selector(loinc=("11118-7",)),
    "bm_clonality": _sv("bm_clonality"),
    "plasmacytoma_spd": _sv("plasmacytoma_spd"),
    "new_lesion": _sv("new_lesion"),
}
DEFAULT_MRD = {
    "MFC": Selector(loinc=("93021-4",)),
    "NGF": _sv("mrd_ngf"),
    "NGS": _sv("mrd_ngs"),
}
DEFAULT_PATIENTS = {name: _sv(name, table="observation") for name in PATIENT_ATTRIBUTES}
DEFAULT_IMAGING = {"PET-CT": _sv("imaging_pet_ct"), "MRI": _sv("imaging_mri"), "CT": _sv("imaging_ct")}


@dataclass(frozen=True)
class Mapping:
    """The whole mapping: cohort rule and one selector per contract key (docs/mapping.md).

    ``phases`` holds overrides of the phase rules' numbers (docs/phases-from-drugs.md);
    ``transplant`` selects transplant procedures beyond the name rule.
    """

    cohort: CohortRule = CohortRule()
    labs: dict[str, Selector] = field(default_factory=lambda: dict(DEFAULT_LABS))
    mrd: dict[str, Selector] = field(default_factory=lambda: dict(DEFAULT_MRD))
    patients: dict[str, Selector] = field(default_factory=lambda: dict(DEFAULT_PATIENTS))
    imaging: dict[str, Selector] = field(default_factory=lambda: dict(DEFAULT_IMAGING))
    drugs: dict[str, Selector] = field(default_factory=dict)
    phases: dict[str, Any] = field(default_factory=dict)
    transplant: Selector = Selector()

    def keyed_selectors(self) -> list[tuple[str, str, Selector]]:
        """(kind, key, selector) in matching order: labs, mrd, patients, imaging (first match wins)."""
        out = []
        for kind in ("labs", "mrd", "patients", "imaging"):
            out += [(kind, k, s) for k, s in getattr(self, kind).items() if not s.empty]
        return out

    def phase_rules(self):
        """The phase rules with this mapping's ``[phases]`` numbers (docs/phases-from-drugs.md)."""
        from mrdtrack.importers.phase_rules import PhaseRules

        return PhaseRules().with_overrides(self.phases) if self.phases else PhaseRules()


DEFAULT_MAPPING = Mapping()
KEYS = {"labs": tuple(LAB_TESTS), "mrd": tuple(m for m in MRD_METHODS), "patients": PATIENT_ATTRIBUTES,
        "imaging": IMAGING_MODALITIES}
_SELECTOR_FIELDS = {f.name for f in fields(Selector)}


# ------------------------------------------------------------------------------------- the user file
def _strings(where: str, name: str, value) -> tuple[str, ...]:
    vals = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in vals):
        raise UserError(f"{where}: '{name}' must be a list of codes (text), got {value!r}")
    return tuple(str(v).strip() for v in vals)


def _ints(where: str, value) -> tuple[int, ...]:
    vals = value if isinstance(value, list) else [value]
    try:
        return tuple(int(v) for v in vals if not isinstance(v, bool))
    except (TypeError, ValueError):
        raise UserError(f"{where}: 'concept_id' must be a list of whole numbers, got {value!r}") from None


def parse_selector(where: str, spec) -> Selector:
    """One selector from its file form (a table of loinc / concept_id / source_value / ...)."""
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a table like {{ loinc = [\"...\"] }}, got {spec!r}")
    unknown = sorted(set(spec) - _SELECTOR_FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown selector field(s) {', '.join(unknown)} "
                        f"(accepted: {', '.join(sorted(_SELECTOR_FIELDS))})")
    table = spec.get("table", "measurement")
    if table not in SELECTOR_TABLES:
        raise UserError(f"{where}: table must be one of {', '.join(SELECTOR_TABLES)}, got {table!r}")
    scale = spec.get("scale")
    if scale is not None and scale not in SCALES:
        raise UserError(f"{where}: scale must be one of {', '.join(SCALES)}, got {scale!r}")
    lod = spec.get("lod")
    if lod is not None and (isinstance(lod, bool) or not isinstance(lod, (int, float)) or not 0 < lod <= 0.01):
        raise UserError(f"{where}: lod must be a fraction of nucleated cells in (0, 0.01], got {lod!r}")
    sel = Selector(loinc=_strings(where, "loinc", spec.get("loinc", [])),
                   concept_id=_ints(where, spec.get("concept_id", [])),
                   source_value=_strings(where, "source_value", spec.get("source_value", [])),
                   table=table, scale=scale, lod=None if lod is None else float(lod))
    return sel


def _selectors(path: Path, section: str, data, accepted: tuple[str, ...] | None) -> dict[str, Selector]:
    if not isinstance(data, dict):
        raise UserError(f"{path}: [{section}] must be a table of key = selector")
    out = {}
    for key, spec in data.items():
        if accepted is not None and key not in accepted:
            raise UserError(f"{path}: [{section}] unknown key '{key}' (accepted: {', '.join(accepted)})")
        out[key] = parse_selector(f"{path}: [{section}] {key}", spec)
    return out


def _cohort_rule(path: Path, data) -> CohortRule:
    if not isinstance(data, dict) or set(data) - {"snomed", "icd10"}:
        raise UserError(f"{path}: [cohort] takes snomed = [codes] and icd10 = [codes]")
    base = CohortRule()
    return CohortRule(snomed=_strings(f"{path}: [cohort]", "snomed", data["snomed"]) if "snomed" in data else base.snomed,
                      icd10=_strings(f"{path}: [cohort]", "icd10", data["icd10"]) if "icd10" in data else base.icd10)


def merge_mapping(base: Mapping, data: dict, path: Path) -> Mapping:
    """``base`` with the file's keys replacing the same keys (per key, not per table)."""
    sections = {"cohort", "labs", "mrd", "patients", "imaging", "drugs", "phases"}
    unknown = sorted(set(data) - sections)
    if unknown:
        raise UserError(f"{path}: unknown table(s) {', '.join(unknown)} (accepted: {', '.join(sorted(sections))})")
    changes: dict[str, Any] = {}
    if "cohort" in data:
        changes["cohort"] = _cohort_rule(path, data["cohort"])
    for section in ("labs", "mrd", "patients", "imaging", "drugs"):
        if section in data:
            changes[section] = {**getattr(base, section),
                                **_selectors(path, section, data[section], KEYS.get(section))}
    if "phases" in data:
        phases = dict(data["phases"]) if isinstance(data["phases"], dict) else None
        if phases is None:
            raise UserError(f"{path}: [phases] must be a table of name = value")
        if "transplant" in phases:
            changes["transplant"] = parse_selector(f"{path}: [phases] transplant", phases.pop("transplant"))
        changes["phases"] = {**base.phases, **phases}
    merged = replace(base, **changes)
    if "phases" in changes:
        try:
            merged.phase_rules()
        except ImportError:  # the phase rules module is optional until it lands
            pass
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path}: [phases] {exc}") from None
    return merged


def load_mapping(path: str | Path | None) -> Mapping:
    """The default mapping, extended or overridden per key by a TOML/YAML file (``--mapping``)."""
    if path is None:
        return DEFAULT_MAPPING
    from mrdtrack.config import ConfigError, _read_config_file

    path = Path(path)
    try:
        data = _read_config_file(path)
    except ConfigError as exc:
        raise UserError(str(exc).replace("configuration", "mapping")) from None
    return merge_mapping(DEFAULT_MAPPING, data, path)


# ---------------------------------------------------------------------------------------- the page
def _selector_rows(title: str, selectors: dict[str, Selector], note: str) -> list[str]:
    out = [f"## [{title}]", "", note, "", "| key | default selector |", "|---|---|"]
    out += [f"| `{k}` | `{s.describe()}` |" for k, s in selectors.items()] or ["| (none) | |"]
    return out + [""]


def mapping_markdown(m: Mapping = DEFAULT_MAPPING) -> str:
    """docs/mapping.md, generated from ``DEFAULT_MAPPING`` and the fixed concepts above."""
    out = ["# The default mapping (generated from `src/mrdtrack/importers/mapping.py`; do not edit by hand)", "",
           "How the OMOP and FHIR sources (docs/omop.md) find the contract's rows. A file given with",
           "`--mapping FILE` (TOML or YAML, the same tables as below) adds keys or replaces single keys;",
           "a key in the file replaces that key's default whole. A selector matches a row by `loinc`",
           "(the row's concept is a LOINC concept with one of these codes), `concept_id` (the row's",
           "concept or source concept), or `source_value` (exact, case-insensitive, spaces trimmed);",
           "any part matching selects the row. When one selector lists several codes and a person has",
           "results of more than one on one date, the first-listed code wins.", "",
           "Where LOINC has no code, the default selects rows whose source value is the contract's own",
           "name (`urine_ife`, `mrd_ngs`, ...): the convention of `mrdtrack simulate --format omop`.",
           "Replace these keys with your local codes.", "",
           "## [cohort]", "", f"- `snomed = {list(m.cohort.snomed)}`: condition concepts (and their descendants "
           "through `concept_ancestor` when present); diagnosis_date = earliest matching condition start",
           f"- `icd10 = {list(m.cohort.icd10)}`: prefix match on `condition_source_value`, dot optional", ""]
    out += _selector_rows("labs", m.labs, "Contract lab test -> selector (docs/data-model.md lists the tests).")
    out += _selector_rows("mrd", m.mrd, "MRD method -> selector; `scale` (`percent` | `fraction`) when the unit "
                          "does not say; `lod` when the row does not state it.")
    out += _selector_rows("patients", m.patients, "Patient attribute -> selector; the value is read from the "
                          "value string, the source value or the value concept's name.")
    out += _selector_rows("imaging", m.imaging, "Imaging modality -> selector (an mrdtrack extension of the "
                          "OMOP convention); the value is positive or negative, read like a categorical test.")
    out += _selector_rows("drugs", m.drugs, "Ingredient -> extra drug matches (brand products, local codes).")
    out += ["## [phases]", "", "The numbers of docs/phases-from-drugs.md, each overridable by name;",
            "`transplant = { concept_id = [...] }` adds transplant procedures to the name rule.", "",
            "## Fixed concepts", "", "| meaning | concepts |", "|---|---|",
            "| sex | " + ", ".join(f"{k} = {v}" for k, v in GENDER.items()) + ", else U |",
            "| censored values (`operator_concept_id`) | "
            + ", ".join(f"{k} = `{v}`" for k, v in OPERATORS.items()) + " |",
            f"| episode: treatment regimen | {EPISODE_TREATMENT_REGIMEN} |",
            "| episode: progression | " + ", ".join(str(c) for c in EPISODE_PROGRESSION) + " |",
            "| categorical answers | " + ", ".join(f"`{k}` = {v}" for k, v in ANSWER_CODES.items()) + " |",
            "| answer words (case-insensitive) | " + ", ".join(f"{k} = {v}" for k, v in ANSWER_WORDS.items()) + " |",
            "| unit spellings | " + ", ".join(f"`{k}` = `{v}`" for k, v in UNIT_ALIASES.items() if k != v) + " |",
            "| MRD units | " + ", ".join(f"`{k}` (÷{v:g})" for k, v in MRD_UNIT_SCALE.items()) + " |", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(mapping_markdown(), end="")
