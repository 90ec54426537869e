"""One patient's lines of therapy and phases (phases-from-drugs rules, docs/phases-from-drugs.md),
composed of the rule functions in ``line_rules``. Rows are plain tuples; ``phases.py`` turns the
rows of all patients into the ``treatments`` and ``decisions`` tables."""

from __future__ import annotations

from typing import NamedTuple

from mrdtrack.importers.line_rules import (
    DRUG,
    PARTNER,
    Patient,
    Stretch,
    consolidation,
    first_progression_after,
    ids_of,
    iso,
    line_regimen,
    maintenance,
    next_line,
    partners_at,
    regimen_name,
)
from mrdtrack.importers.phase_rules import PhaseRules

#: (patient_id, phase, regimen, start day, end day, end_reason)
Row = tuple
#: (patient_id, code, detail, record_ids)
Decision = tuple


class LineOne(NamedTuple):
    transplant: int | None
    regimen: frozenset
    consolidation: list
    maintenance: Stretch | None
    bridged: list


def line_one(pt: Patient, transplant: int | None, rules: PhaseRules) -> LineOne:
    """Consolidation and maintenance of line 1 ("Phases of line 1"): with a transplant, maintenance
    is the first single-ingredient (or listed combination) stretch after it, searched from the
    consolidation start when there is one; without, the first drop to one regimen ingredient after
    maintenance_without_transplant_after_days. A stretch starting after a recorded progression is
    never maintenance (convention)."""
    regimen = line_regimen(pt, pt.line1_start, rules)
    if transplant is None:
        after = pt.line1_start + rules.maintenance_without_transplant_after_days
        stretch, bridged = maintenance(pt, after, lambda m: len(m) == 1 and m <= regimen,
                                       first_progression_after(pt, pt.line1_start), rules, clip=False)
        return LineOne(None, regimen, [], stretch, bridged)
    cons = consolidation(pt, transplant, rules)
    combos = rules.maintenance_sets()
    search_from = min(p.start for p in cons) if cons else transplant + 1
    stretch, bridged = maintenance(pt, search_from, lambda m: len(m) == 1 or m in combos,
                                   first_progression_after(pt, transplant), rules)
    return LineOne(transplant, regimen, cons, stretch, bridged)


def exemptions(one: LineOne, rules: PhaseRules):
    """Periods that never start a line in line 1: any starting 0-consolidation_window_days after the
    first transplant, and the maintenance ingredients' periods within maintenance (conditioning and
    mobilisation never reach ``next_line``)."""
    t, m = one.transplant, one.maintenance

    def exempt(p) -> bool:
        if t is not None and t <= p.start <= t + rules.consolidation_window_days:
            return True
        return m is not None and p.ingredient in m.ingredients and m.start <= p.start <= m.end
    return exempt


def line_starts(pt: Patient, rules: PhaseRules) -> tuple[LineOne, list]:
    """Line 1's phases plan and every line start as (day, code, period). When the first transplant
    falls in a later line, line 1 is re-planned without a transplant."""
    transplant = next((d for d, _, _ in pt.transplants), None)
    one = line_one(pt, transplant, rules)
    nxt = next_line(pt, pt.line1_start, one.regimen, exemptions(one, rules), rules)
    if transplant is not None and nxt is not None and transplant >= nxt[0]:
        one = line_one(pt, None, rules)
        nxt = next_line(pt, pt.line1_start, one.regimen, exemptions(one, rules), rules)
    starts = [(pt.line1_start, "LINE_START", None)]
    while nxt is not None:
        starts.append(nxt)
        nxt = next_line(pt, nxt[0], line_regimen(pt, nxt[0], rules), lambda p: False, rules)
    return one, starts


def _last_end(periods, start: int, stop: float, ingredients=None) -> int | None:
    ends = [p.end for p in periods if p.kind != PARTNER and start <= p.start < stop
            and (ingredients is None or p.ingredient in ingredients)]
    return min(max(ends), stop - 1) if ends else None


def _phase(pt: Patient, phase: str, start: int, end: int, ingredients, ids: str, rules: PhaseRules,
           reason=None) -> tuple[Row, Decision]:
    partners = partners_at(pt, start, end, rules) if phase != "transplant" else ()
    name = regimen_name(ingredients, partners) if ingredients else None
    row = (pt.pid, phase, name, start, end, reason)
    detail = f"{phase} {name or '(no regimen)'} {iso(start)} to {iso(end)}"
    detail += f", end_reason {reason}" if reason else ""
    return row, (pt.pid, "PHASE_" + phase.upper(), detail, ids)


def end_reason(pt: Patient, end: int, rules: PhaseRules) -> str | None:
    """Maintenance end_reason: blank at the data cut; progression when a recorded progression lies
    end_reason_before_days before to end_reason_after_days after the end; else other."""
    if end >= pt.data_cut:
        return None
    lo, hi = end - rules.end_reason_before_days, end + rules.end_reason_after_days
    return "progression" if any(lo <= p <= hi for p in pt.progressions) else "other"


def _induction(pt: Patient, one: LineOne, stop: float, rules: PhaseRules) -> list:
    """Induction: from the line start to the last period end of the line's regimen before the first
    transplant (before maintenance when there is no transplant); without either, to the line's last
    period end. No row when the regimen has no period before that boundary."""
    start = pt.line1_start
    bound = one.transplant if one.transplant is not None else (one.maintenance.start if one.maintenance else None)
    if bound is None:
        members = [p for p in pt.periods if p.kind != PARTNER and start <= p.start < stop]
        end = _last_end(pt.periods, start, stop)
    else:
        bound = min(bound, stop)
        members = [p for p in pt.periods if p.kind == DRUG and p.ingredient in one.regimen and start <= p.start < bound]
        end = _last_end(members, start, bound)
    if end is None or not one.regimen:
        return []
    return [_phase(pt, "induction", start, end, one.regimen, ids_of(members), rules)]


def _after_transplant(pt: Patient, one: LineOne, stop: float, rules: PhaseRules) -> list:
    """Consolidation (ending the day before maintenance when maintenance starts within it) and
    maintenance (with its bridged gaps and end_reason), both ending before the next line."""
    out, m = [], one.maintenance
    if one.consolidation:
        start, end = min(p.start for p in one.consolidation), max(p.end for p in one.consolidation)
        if m is not None and m.start <= end:
            end = m.start - 1
        if start <= end and start < stop:
            out.append(_phase(pt, "consolidation", start, min(end, stop - 1),
                              {p.ingredient for p in one.consolidation}, ids_of(one.consolidation), rules))
    if m is not None and m.start < stop:
        end = int(min(m.end, stop - 1))
        out.append(_phase(pt, "maintenance", m.start, end, m.ingredients, m.record_ids, rules,
                          end_reason(pt, end, rules)))
        out += [(None, (pt.pid, "MAINTENANCE_BRIDGED", f"gap {iso(s)} to {iso(e)} ({e - s + 1} days) bridged",
                        m.record_ids))
                for s, e in one.bridged if s < stop]
    return out


def _later_lines(pt: Patient, starts: list, rules: PhaseRules) -> list:
    """Every line >= 2: one later_line phase from its start to its last period end (before the next
    line), named by its regimen."""
    out = []
    for k in range(1, len(starts)):
        start, stop = starts[k][0], (starts[k + 1][0] if k + 1 < len(starts) else float("inf"))
        members = [p for p in pt.periods if p.kind != PARTNER and start <= p.start < stop]
        regimen = {p.ingredient for p in members if p.kind == DRUG and p.start <= start + rules.regimen_window_days}
        out.append(_phase(pt, "later_line", start, _last_end(members, start, stop), regimen, ids_of(members), rules))
    return out


def _line_decisions(pt: Patient, starts: list) -> list:
    out = []
    for k, (day, code, period) in enumerate(starts, start=1):
        what = period.ingredient if period is not None else ", ".join(
            sorted({p.ingredient for p in pt.periods if p.kind != PARTNER and p.start == day})) or "transplant"
        ids = period.record_ids if period is not None else ids_of(
            [p for p in pt.periods if p.kind != PARTNER and p.start == day]) or ";".join(
            t[2] for t in pt.transplants if t[0] == day)
        out.append((pt.pid, code, f"line {k} starts {iso(day)} ({what})", ids))
    return out


def derive_patient(pt: Patient, rules: PhaseRules) -> tuple[list, list]:
    """All ``treatments`` rows and decisions of one patient."""
    one, starts = line_starts(pt, rules)
    stop = starts[1][0] if len(starts) > 1 else float("inf")
    pairs = [_phase(pt, "transplant", d, d, {reg} if reg else set(), ids, rules)
             for d, reg, ids in pt.transplants if d < stop]
    pairs += _induction(pt, one, stop, rules) + _after_transplant(pt, one, stop, rules)
    pairs += _later_lines(pt, starts, rules)
    rows = [r for r, _ in pairs if r is not None]
    late = [(pt.pid, "TRANSPLANT_OUT_OF_WINDOW", f"transplant {iso(d)} lies in line >= 2: not a phase", ids)
            for d, _, ids in pt.transplants if d >= stop]
    return rows, _line_decisions(pt, starts) + [d for _, d in pairs] + late
