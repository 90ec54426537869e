"""The sequential rules of one patient: lines of therapy and the phases of line 1 (phases-from-drugs
rules, "Lines of therapy" and "Phases of line 1", docs/phases-from-drugs.md).

A line's start decides its regimen, which decides where the next line starts: these rules are
inherently sequential, so they run per patient over a few plain Python tuples (days as integers).
Everything that is not sequential (periods, conditioning, mobilisation, transplant dates, gaps)
is computed vectorised over all patients in ``phases.py`` before this runs.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import NamedTuple

from mrdtrack.importers.phase_rules import PhaseRules

DRUG, PARTNER, CONDITIONING, MOBILISATION = "drug", "partner", "conditioning", "mobilisation"
_EPOCH = dt.date(1970, 1, 1)


class Period(NamedTuple):
    start: int
    end: int
    ingredient: str
    kind: str  # DRUG, PARTNER, CONDITIONING or MOBILISATION
    record_ids: str
    gap: float  # days since the previous end of any non-partner period (inf for the first)


class Patient(NamedTuple):
    pid: object
    periods: list  # of Period, sorted by start (only those that may belong to a line)
    transplants: list  # of (day, regimen or None, record_ids), sorted
    progressions: list  # recorded progression days, sorted
    line1_start: int
    data_cut: int


class Stretch(NamedTuple):
    start: int
    end: int
    ingredients: frozenset
    record_ids: str


@functools.lru_cache(maxsize=1 << 16)
def iso(day: int) -> str:
    return (_EPOCH + dt.timedelta(days=int(day))).isoformat()


def regimen_name(ingredients, partners=()) -> str:
    """Non-partner ingredients alphabetically, then the partners alphabetically, joined by '+'."""
    return "+".join(sorted(set(ingredients)) + sorted(set(partners) - set(ingredients)))


def ids_of(periods) -> str:
    return ";".join(p.record_ids for p in periods)


def line_regimen(pt: Patient, start: int, rules: PhaseRules) -> frozenset:
    """A line's regimen: the non-partner ingredients with a period starting 0-regimen_window_days
    after the line start (conditioning and mobilisation are never a regimen change)."""
    stop = start + rules.regimen_window_days
    return frozenset(p.ingredient for p in pt.periods if p.kind == DRUG and start <= p.start <= stop)


def partners_at(pt: Patient, start: int, end: int, rules: PhaseRules) -> set:
    """Partners joining a phase's name: partner periods starting 0-regimen_window_days after its start."""
    stop = min(start + rules.regimen_window_days, end)
    return {p.ingredient for p in pt.periods if p.kind == PARTNER and start <= p.start <= stop}


def first_progression_after(pt: Patient, day: int) -> float:
    """The first recorded progression strictly after ``day`` (inf when none)."""
    return next((p for p in pt.progressions if p > day), float("inf"))


def segments(periods) -> list[tuple[int, int, frozenset]]:
    """Days split into runs of constant therapy (the set of non-partner ingredients taken), with
    the empty runs between them: a sweep over period starts and ends."""
    events = sorted([(p.start, 1, p.ingredient) for p in periods] + [(p.end + 1, -1, p.ingredient) for p in periods])
    active: dict[str, int] = {}
    out: list = []
    for k, (d, step, ing) in enumerate(events):
        active[ing] = active.get(ing, 0) + step
        if k + 1 < len(events) and events[k + 1][0] != d:
            out.append((d, events[k + 1][0] - 1, frozenset(i for i, c in active.items() if c > 0)))
    return out


def consolidation(pt: Patient, transplant: int, rules: PhaseRules) -> list[Period]:
    """Consolidation periods: non-partner periods starting 0-consolidation_window_days after the first
    transplant that run together with a period of another such ingredient (>= 2 ingredients)."""
    window = [p for p in pt.periods if p.kind == DRUG
              and transplant <= p.start <= transplant + rules.consolidation_window_days]
    return [p for p in window if any(q.ingredient != p.ingredient and q.start <= p.end and p.start <= q.end
                                     for q in window)]


def _qualifies(end: int, start: int, rules: PhaseRules, data_cut: int) -> bool:
    return end - start + 1 >= rules.maintenance_min_days or end >= data_cut


def maintenance(pt: Patient, search_from: int, allowed, before: float, rules: PhaseRules,
                clip: bool = True) -> tuple[Stretch | None, list]:
    """The first stretch from ``search_from`` (starting before ``before``) in which therapy is one
    ingredient set ``allowed(set)`` accepts, lasting maintenance_min_days or reaching the data cut;
    extended over later runs of the same ingredients (or a subset of a combination) across empty gaps
    shorter than line_gap_days (bridged). ``clip=False``: therapy must *drop* there: the run itself
    begins at or after ``search_from`` right after a run of more ingredients (not after a gap).
    Returns the stretch and the bridged gaps (start, end)."""
    segs = segments([p for p in pt.periods if p.kind == DRUG])
    for i, (s, e, m) in enumerate(segs):
        start = max(s, search_from) if clip else s
        if (e < start or start < search_from or start >= before or not m or not allowed(m)
                or not _qualifies(e, start, rules, pt.data_cut)):
            continue
        if not clip and not (i > 0 and m < segs[i - 1][2]):
            continue
        end, bridged, j = e, [], i + 1
        while j < len(segs):
            s2, e2, m2 = segs[j]
            if m2 and m2 <= m:
                end, j = e2, j + 1
            elif not m2 and e2 - s2 + 1 < rules.line_gap_days and j + 1 < len(segs) and segs[j + 1][2] \
                    and segs[j + 1][2] <= m:
                bridged.append((s2, e2))
                j += 1
            else:
                break
        members = [p for p in pt.periods if p.kind == DRUG and p.ingredient in m and p.end >= start and p.start <= end]
        return Stretch(start, end, m, ids_of(members)), bridged
    return None, []


def next_line(pt: Patient, start: int, regimen: frozenset, exempt, rules: PhaseRules) -> tuple[int, str, Period] | None:
    """Where the line starting at ``start`` ends: the first non-partner period start after it that
    is a new ingredient after the regimen window, follows a recorded progression, or follows a gap of
    at least line_gap_days; ``exempt(period)`` says which periods never start a line."""
    prog = first_progression_after(pt, start)
    for p in pt.periods:
        if p.kind != DRUG or p.start <= start or exempt(p):
            continue
        if p.start >= prog:
            return p.start, "LINE_AFTER_PROGRESSION", p
        if p.ingredient not in regimen and p.start > start + rules.regimen_window_days:
            return p.start, "LINE_NEW_INGREDIENT", p
        if p.gap >= rules.line_gap_days:
            return p.start, "LINE_AFTER_GAP", p
    return None
