"""The cohort data contract: tables, columns, types, units and allowed values.

This module is the single source of truth for ``docs/data-contract.md``: the readers and the
validator check against it, and ``docs/data-model.md`` is generated from it
(``python -m mrdtrack.contract > docs/data-model.md``). Changing a name here is a breaking change
for every user's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TEXT, DATE, NUMBER, INTEGER, CATEGORY = "text", "date", "number", "integer", "category"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool | str  # True, False, or a condition in words ("when detected")
    meaning: str = ""
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False

    @property
    def always_required(self) -> bool:
        return self.required is True


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    meaning: str
    columns: tuple[Column, ...]
    optional: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class LabTest:
    """One lab test: numeric with accepted units (factor to the first, canonical unit) or text."""

    name: str
    meaning: str
    units: dict[str, float] = field(default_factory=dict)  # unit -> factor to canonical
    values: tuple[str, ...] = ()  # allowed text values (text tests)
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False

    @property
    def numeric(self) -> bool:
        return bool(self.units)

    @property
    def canonical_unit(self) -> str | None:
        return next(iter(self.units)) if self.units else None


PHASES = ("induction", "transplant", "consolidation", "maintenance", "later_line")
END_REASONS = ("progression", "toxicity", "mrd_guided_stop", "completed", "patient_choice", "death", "other")
RESPONSES = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD")
EVENTS = ("progression", "death", "last_contact", "spm")
MRD_METHODS = ("NGF", "MFC", "NGS", "other")
MRD_RESULTS = ("detected", "not_detected")

PATIENTS = Table("patients", "one row per patient", "patient characteristics", (
    Column("patient_id", TEXT, True, "unique within the cohort"),
    Column("diagnosis_date", DATE, True, "date of myeloma diagnosis"),
    Column("age_at_diagnosis", NUMBER, False, "years", minimum=0, maximum=120),
    Column("sex", CATEGORY, False, "", allowed=("F", "M", "U")),
    Column("heavy_chain", CATEGORY, False, "`none` = light-chain-only myeloma",
           allowed=("IgG", "IgA", "IgD", "IgE", "IgM", "none")),
    Column("light_chain", CATEGORY, "when FLC results exist", "the involved light chain",
           allowed=("kappa", "lambda")),
    Column("iss_stage", CATEGORY, False, "", allowed=("I", "II", "III")),
    Column("cytogenetic_risk", CATEGORY, False, "high = del(17p), t(4;14) or t(14;16)",
           allowed=("standard", "high")),
    Column("center", TEXT, False, "treating centre (multi-centre cohorts)"),
))

TREATMENTS = Table("treatments", "one row per phase of therapy", "therapy phases", (
    Column("patient_id", TEXT, True),
    Column("phase", CATEGORY, True, "`transplant` = autologous stem-cell transplant (start = end)",
           allowed=PHASES),
    Column("regimen", TEXT, False, "e.g. `VRD`, `lenalidomide`"),
    Column("start_date", DATE, True),
    Column("end_date", DATE, False, "blank = ongoing at the data cut"),
    Column("end_reason", CATEGORY, False, "", allowed=END_REASONS),
))

LABS = Table("labs", "one row per result (long format)", "laboratory results", (
    Column("patient_id", TEXT, True),
    Column("date", DATE, True, "sample date"),
    Column("test", CATEGORY, True, "see the lab tests table"),
    Column("value", TEXT, True, "number or text, by test"),
    Column("unit", TEXT, "for numeric tests", "one of the test's accepted units"),
))

MRD = Table("mrd", "one row per bone-marrow MRD sample", "MRD samples", (
    Column("patient_id", TEXT, True),
    Column("date", DATE, True, "sample date"),
    Column("method", CATEGORY, True, "next-generation flow, conventional flow, sequencing",
           allowed=MRD_METHODS),
    Column("lod", NUMBER, True, "limit of detection, fraction of nucleated cells",
           minimum=0, maximum=0.01, min_exclusive=True),
    Column("result", CATEGORY, True, "", allowed=MRD_RESULTS),
    Column("level", NUMBER, "when detected", "clonal cells as a fraction of nucleated cells",
           minimum=0, maximum=1, min_exclusive=True),
    Column("cells_analyzed", INTEGER, False, "", minimum=0),
))

IMAGING = Table("imaging", "one row per imaging study", "imaging results", (
    Column("patient_id", TEXT, True),
    Column("date", DATE, True),
    Column("modality", CATEGORY, True, "", allowed=("PET-CT", "MRI", "CT", "other")),
    Column("result", CATEGORY, True, "negative = no focal uptake", allowed=("negative", "positive")),
), optional=True)

RESPONSES_TABLE = Table("responses", "one row per recorded response",
                        "responses recorded by the treating physician", (
    Column("patient_id", TEXT, True),
    Column("date", DATE, True),
    Column("response", CATEGORY, True, "", allowed=RESPONSES),
), optional=True)

EVENTS_TABLE = Table("events", "one row per event", "progression, death, last contact, SPM", (
    Column("patient_id", TEXT, True),
    Column("date", DATE, True),
    Column("event", CATEGORY, True, "`spm` = second primary malignancy", allowed=EVENTS),
    Column("detail", TEXT, False, "e.g. `biochemical`, `clinical`, cause of death"),
))

TABLES: dict[str, Table] = {t.name: t for t in (
    PATIENTS, TREATMENTS, LABS, MRD, EVENTS_TABLE, IMAGING, RESPONSES_TABLE)}
REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if not t.optional)

LAB_TESTS: dict[str, LabTest] = {t.name: t for t in (
    LabTest("serum_m_protein", "serum M-protein (0 = no spike on electrophoresis)",
            {"g/dL": 1.0, "g/L": 0.1}, minimum=0),
    LabTest("urine_m_protein", "urine M-protein, 24-hour urine", {"mg/24h": 1.0, "g/24h": 1000.0}, minimum=0),
    LabTest("flc_kappa", "serum free kappa light chain", {"mg/L": 1.0, "mg/dL": 10.0},
            minimum=0, min_exclusive=True),
    LabTest("flc_lambda", "serum free lambda light chain", {"mg/L": 1.0, "mg/dL": 10.0},
            minimum=0, min_exclusive=True),
    LabTest("serum_ife", "serum immunofixation", values=("positive", "negative")),
    LabTest("urine_ife", "urine immunofixation", values=("positive", "negative")),
    LabTest("bm_plasma_cells", "bone-marrow plasma cells", {"%": 1.0}, minimum=0, maximum=100),
    LabTest("bm_clonality", "clonal plasma cells by IHC or flow", values=("clonal", "polyclonal")),
    LabTest("plasmacytoma_spd", "sum of products of diameters of soft-tissue plasmacytomas (0 = none)",
            {"cm2": 1.0}, minimum=0),
    LabTest("new_lesion", "a new bone lesion or plasmacytoma", values=("yes",)),
)}

#: Censored values (docs/data-model.md "Censored values"): below a limit, M-protein reads as 0, FLC as
#: the limit; any other test cannot be used.
CENSORED_ZERO_TESTS = ("serum_m_protein", "urine_m_protein")
CENSORED_LIMIT_TESTS = ("flc_kappa", "flc_lambda")

#: Columns of the normalised in-memory tables (after reading) beyond the contract's own:
#: every table keeps ``row`` (the row number the user sees in the file); labs get
#: ``value_num`` (float in the canonical unit, NaN for text tests) and ``value_text``.
ROW = "row"


def data_model_markdown() -> str:
    """docs/data-model.md, generated from the schemas above."""
    out = ["# Data model (generated from `src/mrdtrack/contract.py`; do not edit by hand)", "",
           "A cohort is a folder with one file per table (`.csv` or `.parquet`), or one `.xlsx`",
           "workbook whose sheets carry the table names. Dates are ISO 8601 (`YYYY-MM-DD`).",
           "Extra columns are kept and ignored. Blank cells are missing values.", ""]
    for t in TABLES.values():
        opt = " (optional)" if t.optional else ""
        out += [f"## {t.name}{opt}: {t.key}", "", "| column | type | required | allowed / range | meaning |",
                "|---|---|---|---|---|"]
        for c in t.columns:
            req = "yes" if c.required is True else ("no" if c.required is False else c.required)
            rng = ", ".join(f"`{a}`" for a in c.allowed)
            if c.minimum is not None or c.maximum is not None:
                lo = "" if c.minimum is None else f"{'>' if c.min_exclusive else '>='} {c.minimum:g}"
                hi = "" if c.maximum is None else f"<= {c.maximum:g}"
                rng = " and ".join(x for x in (lo, hi) if x)
            out.append(f"| {c.name} | {c.type} | {req} | {rng} | {c.meaning} |")
        out.append("")
    out += ["## Lab tests", "", "| test | value | accepted units (normalised to the first) | meaning |",
            "|---|---|---|---|"]
    for lt in LAB_TESTS.values():
        if lt.numeric:
            lo = f"{'>' if lt.min_exclusive else '>='} {lt.minimum:g}" if lt.minimum is not None else ""
            hi = f", <= {lt.maximum:g}" if lt.maximum is not None else ""
            val = f"number {lo}{hi}"
            units = ", ".join(f"`{u}` (x{f:g})" for u, f in lt.units.items())
        else:
            val = ", ".join(f"`{v}`" for v in lt.values)
            units = "(none)"
        out.append(f"| `{lt.name}` | {val} | {units} | {lt.meaning} |")
    out += ["", "## Censored values", "",
            "A numeric lab `value` written below a limit, as lab exports print it (`<0.1`, `< 0.1`, `<=0.1`,",
            "`≤ 0.1`), is read the same way in every door (CSV, Parquet, xlsx, and OMOP's `operator_concept_id`",
            "`<` / `<=`, docs/omop.md):", "",
            "| test | read as | issue |", "|---|---|---|",
            "| " + ", ".join(f"`{t}`" for t in CENSORED_ZERO_TESTS)
            + " | 0 (not measurable on electrophoresis) | warning `LAB_CENSORED_ZERO` |",
            "| " + ", ".join(f"`{t}`" for t in CENSORED_LIMIT_TESTS)
            + " | the stated limit (the true value is lower) | warning `LAB_CENSORED_AT_LIMIT` |",
            "| any other numeric test | not used | error `LAB_CENSORED_NOT_ALLOWED` |", "",
            "Each issue keeps the original text in its message.", ""]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(data_model_markdown(), end="")
