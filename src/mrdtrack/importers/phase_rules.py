"""Every number and name list of the therapy-phases-from-drugs rules, in one frozen object.

Each field carries its default, in ``metadata["source"]`` where the value comes from, and a
one-line meaning (the style of ``mrdtrack.config``). The OMOP and FHIR mapping file's ``[phases]``
table overrides single fields through ``PhaseRules.with_overrides``. The rules themselves are
written out in docs/phases-from-drugs.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mrdtrack.errors import UserError

RULES = "phases-from-drugs rules (docs/phases-from-drugs.md)"
#: Keys of a mapping's ``[phases]`` table that the source reads itself (the transplant procedure
#: selector); ``with_overrides`` passes over them.
SOURCE_KEYS = ("transplant",)

ANTI_MYELOMA = (
    "lenalidomide", "pomalidomide", "thalidomide", "bortezomib", "carfilzomib", "ixazomib", "daratumumab",
    "isatuximab", "elotuzumab", "cyclophosphamide", "melphalan", "melphalan flufenamide", "doxorubicin",
    "bendamustine", "cisplatin", "etoposide", "selinexor", "venetoclax", "panobinostat", "belantamab mafodotin",
    "teclistamab", "elranatamab", "talquetamab", "linvoseltamab", "idecabtagene vicleucel",
    "ciltacabtagene autoleucel",
)
PARTNERS = ("dexamethasone", "prednisone", "prednisolone", "methylprednisolone")


def _f(default: Any, source: str, doc: str) -> Any:
    return field(default=default, metadata={"source": source, "doc": doc})


@dataclass(frozen=True)
class PhaseRules:
    """The resolved phases-from-drugs settings (all windows in days, inclusive)."""

    # --- drug periods
    persistence_days: int = _f(30, RULES, "periods of one ingredient with a gap of at most this many days merge")
    # --- lines of therapy
    line1_before_diagnosis_days: int = _f(30, RULES, "line 1 begins with the earliest period ending on or after diagnosis minus this")
    regimen_window_days: int = _f(60, RULES, "a line's regimen: ingredients with a period starting 0-this many days after the line start")
    line_gap_days: int = _f(180, RULES, "a gap of at least this in all non-partner ingredients starts a new line")
    # --- transplant, conditioning, mobilisation
    conditioning_ingredient: str = _f("melphalan", RULES, "the conditioning ingredient")
    conditioning_max_days: int = _f(3, RULES, "a conditioning-ingredient period of at most this many days is conditioning")
    conditioning_procedure_days: int = _f(14, RULES, "a transplant procedure 0-this many days after conditioning is its transplant")
    conditioning_transplant_offset_days: int = _f(2, RULES, "without such a procedure the transplant is dated this many days after conditioning")
    mobilisation_ingredient: str = _f("cyclophosphamide", RULES, "the stem-cell mobilisation ingredient")
    mobilisation_max_days: int = _f(5, RULES, "a mobilisation-ingredient period of at most this many days may be mobilisation")
    mobilisation_before_transplant_days: int = _f(60, RULES, "mobilisation ends 0-this many days before the first transplant")
    transplant_name_words: tuple[str, ...] = _f(("autologous", "transplant"), RULES, "a procedure whose name holds all these words (any case) is a transplant")
    # --- phases of line 1
    consolidation_window_days: int = _f(180, RULES, "consolidation starts 0-this many days after the first transplant")
    maintenance_min_days: int = _f(60, RULES, "maintenance lasts at least this many days (or reaches the data cut)")
    maintenance_combinations: tuple[str, ...] = _f(("lenalidomide+daratumumab",), RULES, "ingredient combinations ('+'-joined) that may form maintenance")
    maintenance_without_transplant_after_days: int = _f(90, RULES, "without transplant, maintenance starts after at least this many days of line 1")
    end_reason_before_days: int = _f(60, RULES, "maintenance end_reason progression: recorded progression from this many days before the end")
    end_reason_after_days: int = _f(30, RULES, "... to this many days after the end")
    # --- ingredients
    ingredients: tuple[str, ...] = _f(ANTI_MYELOMA, RULES, "anti-myeloma ingredient names (lower case)")
    partners: tuple[str, ...] = _f(PARTNERS, RULES, "partner (steroid) ingredients: in regimen names only")

    def with_overrides(self, mapping: dict[str, Any]) -> PhaseRules:
        """A copy with the fields named in ``mapping`` replaced (a mapping file's ``[phases]`` table).

        Raises ``UserError`` naming an unknown key or a value of the wrong type; the keys in
        ``SOURCE_KEYS`` (the source's transplant selector) are passed over.
        """
        if not isinstance(mapping, dict):
            raise UserError(f"[phases]: expected a table of field = value, got {mapping!r}")
        fields = {f.name: f for f in dataclasses.fields(PhaseRules)}
        values: dict[str, Any] = {}
        for key, value in mapping.items():
            if key in SOURCE_KEYS:
                continue
            if key not in fields:
                raise UserError(f"[phases]: unknown key {key!r}; known keys: {', '.join(fields)}")
            values[key] = _coerce(key, value, fields[key].default)
        return dataclasses.replace(self, **values)

    @staticmethod
    def sources() -> dict[str, dict[str, Any]]:
        """Per field: its default, source and one-line meaning (for the docs)."""
        return {f.name: {"source": f.metadata["source"], "doc": f.metadata["doc"], "default": f.default}
                for f in dataclasses.fields(PhaseRules)}

    def known_ingredients(self) -> tuple[str, ...]:
        """Anti-myeloma ingredients and partners, lower case."""
        return tuple(s.lower() for s in self.ingredients) + tuple(s.lower() for s in self.partners)

    def maintenance_sets(self) -> list[frozenset[str]]:
        """``maintenance_combinations`` as sets of ingredient names."""
        return [frozenset(p.strip().lower() for p in c.split("+")) for c in self.maintenance_combinations]


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise UserError(f"[phases] {key}: expected a list of names, got {value!r}")
        return tuple(v.strip().lower() for v in value)
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(f"[phases] {key}: expected a whole number of days >= 0, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"[phases] {key}: expected a name, got {value!r}")
    return value.strip().lower()
