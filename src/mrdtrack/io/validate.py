"""Validate raw tables against the data contract and build the normalised Cohort (vectorised).

docs/data-contract.md: every breach is collected (never stop at the first), each naming file,
row, column and the problem. Rule order: columns -> cell types, categories, ranges, units ->
data cut -> duplicates and orphans -> dates against diagnosis and death, phase order, conflicting
lab results, one first-line maintenance, light chain when FLC exists -> exclusion (docs/cli.md
``--exclude-invalid``). Consistency rules only look at rows whose cells parsed, so one bad cell
gives one message, not a cascade.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mrdtrack.cohort import LAB_COLUMNS, Cohort, empty_table
from mrdtrack.config import Config
from mrdtrack.contract import CATEGORY, DATE, INTEGER, LAB_TESTS, NUMBER, REQUIRED_TABLES, ROW, TABLES
from mrdtrack.io.censored import (
    LIMIT,
    NOT_ALLOWED,
    ZERO,
    censored_message,
    censored_outcome,
    censored_value,
    split_censored,
)
from mrdtrack.io.parse import (
    STRING,
    arrow_text,
    as_text,
    contains_any,
    from_distinct,
    out_of_range,
    parse_date,
    parse_number,
    range_text,
    shown,
    text_isin,
    text_objects,
    text_positions,
)
from mrdtrack.io.sources import RawTable
from mrdtrack.issues import ISSUE_COLUMNS

FILE_ISSUE_COLUMNS = ISSUE_COLUMNS + ["file"]
DATE_COLUMNS = {"treatments": ("start_date", "end_date"), "labs": ("date",), "mrd": ("date",),
                "events": ("date",), "imaging": ("date",), "responses": ("date",)}
RESERVED = {ROW, "value_num", "value_text"}
FLC_TESTS = ("flc_kappa", "flc_lambda")


@dataclass
class ReadResult:
    """What reading a cohort gives: the Cohort (None when it has errors), issues, counts, sources."""

    cohort: Cohort | None
    issues: pd.DataFrame
    counts: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    #: the latest date among rows without a cell error: the default data cut of these tables
    #: (``latest_valid_date``), whatever cut was applied
    latest_valid: pd.Timestamp = pd.NaT

    @property
    def has_errors(self) -> bool:
        return bool((self.issues["severity"] == "error").any())


class _Lazy:
    """A per-row text computed only for the flagged rows (messages cost nothing when all is well)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, idx: np.ndarray) -> pd.Series:
        return self.fn(idx)


def _at(part, idx: np.ndarray):
    if isinstance(part, _Lazy):
        return part(idx)
    if isinstance(part, pd.Series):
        sub = part.iloc[idx]
        return sub.astype(object).where(sub.notna(), None).astype(STRING).reset_index(drop=True)
    return part


def cat(*parts) -> _Lazy:
    """Concatenate text and per-row parts into one message per flagged row (NA where a part is NA)."""
    def fn(idx):
        out = None
        for part in parts:
            v = _at(part, idx)
            out = v if out is None else out + v
        return out
    return _Lazy(fn)


def _shown(s: pd.Series) -> _Lazy:
    return _Lazy(lambda idx: shown(s.iloc[idx]).reset_index(drop=True))


def _iso(d) -> str:
    return "" if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d")


def _iso_series(d: pd.Series) -> _Lazy:
    return _Lazy(lambda idx: d.iloc[idx].dt.strftime("%Y-%m-%d").astype(STRING).reset_index(drop=True))


class _Table:
    """Working state of one table: parsed columns, per-row flags and its issues."""

    def __init__(self, raw: RawTable):
        self.name, self.file, self.raw = raw.name, raw.file, raw.frame.reset_index(drop=True)
        self.rows = np.asarray(raw.rows, dtype="int64")
        self.n = len(self.raw)
        self.cols: dict[str, pd.Series] = {}
        self.text: dict[str, pd.Series] = {}
        self.pid = pd.Series(pd.NA, index=range(self.n), dtype=STRING)
        self.bad = np.zeros(self.n, dtype=bool)
        self.dup = np.zeros(self.n, dtype=bool)
        self.cut = np.zeros(self.n, dtype=bool)
        self.issues: list[pd.DataFrame] = []
        self.cleared: set[str] = set()  # columns with cells set to missing after a check (_long_cells)
        self._codes: tuple | None = None  # (pid it was made from, codes, distinct ids, as text): ``pid_codes``

    def pid_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(code of each row's patient_id, -1 where missing; the distinct ids as ``str`` objects):
        the ids hashed once for every lookup by patient (``pid_in``, ``pid_positions``, the
        duplicate keys, the cohort's id column) instead of once per lookup."""
        if self._codes is None or self._codes[0] is not self.pid:
            codes, uniques = pd.factorize(self.pid, use_na_sentinel=True)
            self._codes = (self.pid, codes, np.asarray(uniques, dtype=object), pd.Series(uniques, dtype=STRING))
        return self._codes[1], self._codes[2]

    def _distinct_ids(self) -> tuple[np.ndarray, pd.Series]:
        """(``pid_codes``' codes, the distinct ids as Arrow text, for Arrow's lookups)."""
        codes, _ = self.pid_codes()
        return codes, self._codes[3]

    def pid_positions(self, values) -> np.ndarray:
        """Position of each row's patient_id in ``values`` (distinct ids), -1 where absent or missing."""
        codes, distinct = self._distinct_ids()
        at = text_positions(distinct, pd.Index(values))  # distinct ids only
        return np.append(at, -1).astype(np.int64)[codes]

    def pid_in(self, values) -> np.ndarray:
        """Whether each row's patient_id is one of ``values`` (False where missing)."""
        codes, distinct = self._distinct_ids()
        known = text_isin(distinct, list(values))  # distinct ids only
        return np.append(known, False)[codes]

    def ok(self) -> np.ndarray:
        """Rows still in play for consistency rules."""
        return ~self.bad & ~self.dup & ~self.cut & self.pid.notna().to_numpy()

    def report(self, severity: str, code: str, mask, column: str | None, value, message) -> None:
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(idx):
            return

        def pick(x):
            if isinstance(x, (pd.Series, _Lazy)):
                v = _at(x, idx)
                return v.astype(object).where(v.notna(), None).to_numpy()
            return x

        self.issues.append(pd.DataFrame({
            "severity": severity, "code": code, "table": self.name, "row": self.rows[idx],
            "patient_id": pick(self.pid), "column": column, "value": pick(value),
            "message": pick(message), "file": self.file, "_i": idx}))
        if severity == "error":
            self.bad[idx] = True


# ------------------------------------------------------------------------------- cells and columns
def _check_columns(t: _Table) -> str | None:
    """Required columns present; reserved names dropped. Returns a fatal message or None."""
    spec = TABLES[t.name]
    present = list(t.raw.columns)
    reserved = [c for c in present if c in RESERVED]
    for c in reserved:
        t.issues.append(pd.DataFrame([{"severity": "warning", "code": "COLUMN_RESERVED", "table": t.name, "row": None, "patient_id": None,
                                       "column": c, "value": None, "file": t.file, "_i": -1,
                                       "message": f"column '{c}' is a reserved name and was ignored"}]))
    t.raw = t.raw.drop(columns=reserved)
    missing = [c.name for c in spec.columns if c.always_required and c.name not in t.raw.columns]
    if missing:
        found = ", ".join(str(c) for c in present[:12]) or "none"
        return ("required column " + ", ".join(f"'{m}'" for m in missing) + f" is missing (found: {found})")
    return None


def _none_longer(arr, limit: int) -> bool:
    """Whether no cell of Arrow text ``arr`` has more than ``limit`` characters: told by the cells'
    bytes (from Arrow's offsets, no decoding) when none has more bytes than that, since a character
    takes one byte at least; else by counting characters."""
    import pyarrow.compute as pc

    if (pc.max(pc.binary_length(arr)).as_py() or 0) <= limit:
        return True
    return (pc.max(pc.utf8_length(arr)).as_py() or 0) <= limit


def _long_cells(t: _Table, limit: int) -> None:
    """Cells longer than ``limit`` characters: a corrupt or misaligned file, reported not parsed."""
    for c in t.raw.columns:
        s = t.raw[c]
        if not (isinstance(s.dtype, pd.StringDtype) or s.dtype == object):
            continue
        kind = pd.api.types.infer_dtype(s, skipna=True) if s.dtype == object else None
        if kind is not None and kind not in ("string", "mixed", "mixed-integer"):
            continue  # no text cells (numbers, dates from a typed frame)
        if kind == "string":  # text of a typed frame (an import): Arrow text once, as a file's, for every later step
            s = t.raw[c] = s.astype(STRING)
        arr = arrow_text(s)
        if arr is not None and _none_longer(arr, limit):
            continue  # the usual case, told by one pass of Arrow
        n = (s if isinstance(s.dtype, pd.StringDtype) else as_text(s)).str.len()  # Arrow: vectorised
        long = (n.fillna(0) > limit).to_numpy(dtype=bool)
        if long.any():
            t.report("error", "CELL_TOO_LONG", long, c, _shown(s),
                     cat("value is too long (", n.astype("Int64").astype(STRING), f" characters; at most {limit})"))
            t.raw.loc[long, c] = None  # the cell is reported; parsing it again would repeat the message
            t.cleared.add(c)


def _missing(t: _Table, col: str, text: pd.Series, mask=None) -> None:
    m = text.isna().to_numpy()
    if mask is not None:
        m &= mask
    t.report("error", "VALUE_MISSING", m, col, None, "required value is missing")


def _parse_columns(t: _Table) -> None:
    """Type, category and range of every contract column (labs value/unit are done per test)."""
    for c in TABLES[t.name].columns:
        if t.name == "labs" and c.name in ("value", "unit"):
            continue
        raw = t.raw[c.name] if c.name in t.raw.columns else pd.Series(pd.NA, index=range(t.n), dtype=STRING)
        if c.type == DATE:
            val, text, reason = parse_date(raw)
            t.report("error", "INVALID_DATE", reason.notna(), c.name, _shown(text), reason)
        elif c.type in (NUMBER, INTEGER):
            val, text, reason = parse_number(raw)
            t.report("error", "INVALID_NUMBER", reason.notna(), c.name, _shown(text), reason)
            if c.type == INTEGER:
                frac = val.notna().to_numpy() & (np.mod(val.to_numpy(na_value=0.0), 1) != 0)
                t.report("error", "NOT_WHOLE_NUMBER", frac, c.name, _shown(text), cat("value '", _shown(text), "' is not a whole number"))
                val = val.where(~frac)
            oor = out_of_range(val, c.minimum, c.maximum, c.min_exclusive)
            rng = range_text(c.minimum, c.maximum, c.min_exclusive)
            t.report("error", "OUT_OF_RANGE", oor, c.name, _shown(text),
                     cat("value ", _shown(text), f" is out of range for {c.name} (must be {rng})"))
            val = val.where(~oor)
        else:
            # the patient ids were read as text for the first checks' messages (_row_checks): once
            text = t.pid if c.name == "patient_id" and c.name not in t.cleared else as_text(raw)
            val = text
            if c.type == CATEGORY and c.allowed:
                unknown = text.notna().to_numpy() & ~text_isin(text, c.allowed)
                t.report("error", "UNKNOWN_CATEGORY", unknown, c.name, _shown(text),
                         cat("unknown value '", _shown(text), f"' for {c.name} (accepted: {', '.join(c.allowed)})"))
                val = text.mask(unknown)
        if c.always_required:
            _missing(t, c.name, text)
        t.cols[c.name], t.text[c.name] = val, text
        if c.name == "patient_id":  # first column of every table: later messages carry it
            t.pid = val


def _censored_values(t: _Table, test: pd.Series, is_num: np.ndarray, num: pd.Series, vtext: pd.Series,
                     reason: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Values written below a limit ('<0.1', '<= 0.1'), docs/data-model.md "Censored values": serum or
    urine M-protein = 0, free light chains = the limit (each with a warning keeping the original),
    any other test an error. Returns the numbers and the parse reasons with these rows resolved."""
    if not is_num.any() or not contains_any(vtext, ("<", "≤")):
        return num, reason
    op, limit_text = split_censored(vtext)
    cens = is_num & op.notna().to_numpy()
    if not cens.any():
        return num, reason
    outcome = censored_outcome(test, cens)
    num = num.copy()
    num[cens] = censored_value(pd.to_numeric(limit_text, errors="coerce").to_numpy()[cens], outcome[cens])
    reason = reason.copy()
    reason[cens] = None
    msg = censored_message(test.fillna(""), vtext.fillna(""), outcome)
    for severity, code, which in (("warning", "LAB_CENSORED_ZERO", ZERO), ("warning", "LAB_CENSORED_AT_LIMIT", LIMIT),
                                  ("error", "LAB_CENSORED_NOT_ALLOWED", NOT_ALLOWED)):
        t.report(severity, code, cens & (outcome == which), "value", _shown(vtext), msg)
    return num, reason


def _parse_lab_values(t: _Table) -> None:
    """Per test: numeric value in an accepted unit (normalised to the canonical unit) or text value."""
    test = t.cols["test"]
    names = list(LAB_TESTS)
    code = text_positions(test, pd.Index(names))  # each row's test by its place in LAB_TESTS, -1: blank or unknown
    known = code >= 0
    unknown = test.notna().to_numpy() & ~known
    # the generic category check does not apply (test has no 'allowed' in the schema): do it here
    t.report("error", "LAB_UNKNOWN_TEST", unknown, "test", _shown(test),
             cat("unknown test '", _shown(test), f"' (accepted: {', '.join(LAB_TESTS)})"))
    is_num = known & np.array([v.numeric for v in LAB_TESTS.values()] + [False])[code]
    is_txt = known & ~is_num

    raw_v = t.raw["value"]
    num, vtext, reason = parse_number(raw_v, explain=is_num)  # a text test's value is no number: no reason
    num, reason = _censored_values(t, test, is_num, num, vtext, reason)
    _missing(t, "value", vtext, known)
    t.report("error", "LAB_INVALID_VALUE", is_num & reason.notna().to_numpy(), "value", _shown(vtext), reason)

    raw_u = t.raw["unit"] if "unit" in t.raw.columns else pd.Series(pd.NA, index=range(t.n), dtype=STRING)
    unit = as_text(raw_u)
    lookup = {(k, u.lower()): (f, lt.canonical_unit) for k, lt in LAB_TESTS.items() for u, f in lt.units.items()}
    # each distinct (test, unit) pair is looked up once: codes of the two columns, combined (a pair
    # of an unknown test is negative: no unit of it is known)
    u_codes, u_uniq = pd.factorize(unit.fillna(""))
    u_uniq = [u.lower() for u in u_uniq]  # units compare without case
    width = len(u_uniq) + 1
    codes, pairs = pd.factorize(code.astype(np.int64) * width + u_codes)
    found = [lookup.get((names[p // width], u_uniq[p % width]), (np.nan, None)) if p >= 0 else (np.nan, None)
             for p in pairs]
    factor = np.array([f for f, _ in found] + [np.nan])[codes]
    canonical = np.array([c for _, c in found] + [None], dtype=object)[codes]
    no_unit = is_num & unit.isna().to_numpy()
    bad_unit = is_num & unit.notna().to_numpy() & np.isnan(factor)
    units_of = {k: ", ".join(v.units) for k, v in LAB_TESTS.items() if v.numeric}
    accepted = _Lazy(lambda idx: test.iloc[idx].astype(object).map(units_of).astype(STRING).reset_index(drop=True))
    t.report("error", "LAB_MISSING_UNIT", no_unit, "unit", None, cat("unit missing for ", test, " (accepted: ", accepted, ")"))
    t.report("error", "LAB_UNKNOWN_UNIT", bad_unit, "unit", _shown(unit),
             cat("unknown unit '", _shown(unit), "' for ", test, " (accepted: ", accepted, ")"))
    value_num = num.to_numpy() * factor
    ok_num = is_num & ~np.isnan(value_num)
    # range by test, on the canonical value (the bounds are unit-free: 0 and 100 %)
    for i, (name, lt) in enumerate(LAB_TESTS.items()):  # a test's rows by its code, not by text comparison
        if not lt.numeric:
            continue
        m = ok_num & (code == i)
        if not m.any():
            continue
        oor = m & out_of_range(pd.Series(value_num), lt.minimum, lt.maximum, lt.min_exclusive)
        rng = range_text(lt.minimum, lt.maximum, lt.min_exclusive)
        t.report("error", "LAB_OUT_OF_RANGE", oor, "value", _shown(vtext), cat("value ", _shown(vtext), f" is out of range for {name} (must be {rng})"))
        ok_num &= ~oor
    # text tests
    words = pd.Index(list(dict.fromkeys(w for lt in LAB_TESTS.values() if not lt.numeric for w in lt.values)))
    word = text_positions(vtext, words)  # each value's place among the words of every text test, -1: none
    ok_txt = is_txt & vtext.notna().to_numpy()
    for i, (name, lt) in enumerate(LAB_TESTS.items()):
        if lt.numeric:
            continue
        m = ok_txt & (code == i)
        if not m.any():
            continue
        wrong = m & ~np.append(words.isin(lt.values), False)[word]
        t.report("error", "LAB_UNKNOWN_VALUE", wrong, "value", _shown(vtext),
                 cat("unknown value '", _shown(vtext), f"' for {name} (accepted: {', '.join(lt.values)})"))
        ok_txt &= ~wrong
    t.report("warning", "LAB_UNIT_IGNORED", is_txt & unit.notna().to_numpy(), "unit", _shown(unit),
             cat("unit '", _shown(unit), "' ignored: ", test, " has no unit"))
    t.text["value"] = vtext
    t.cols["value_num"] = pd.Series(np.where(ok_num, value_num, np.nan), dtype="float64")
    t.cols["value_text"] = vtext.where(ok_txt)
    t.cols["unit"] = pd.Series(np.where(ok_num, canonical, None), dtype=object)


def _mrd_level_rule(t: _Table) -> None:
    detected = (t.cols["result"] == "detected").fillna(False).to_numpy(dtype=bool)
    no_level = detected & t.cols["level"].isna().to_numpy() & t.text["level"].isna().to_numpy()
    t.report("error", "MRD_LEVEL_MISSING", no_level, "level", None, "level missing: result is 'detected'")


def _row_checks(t: _Table, config: Config) -> str | None:
    """Every check that needs only the row itself (columns, cell length, types, categories,
    ranges, lab values and units, the MRD level rule); a table-level problem stops them and is
    returned."""
    problem = _check_columns(t)
    if problem:
        return problem
    t.pid = as_text(t.raw["patient_id"])
    _long_cells(t, config.max_cell_chars)
    _parse_columns(t)
    if t.name == "labs":
        _parse_lab_values(t)
    if t.name == "mrd":
        _mrd_level_rule(t)
    return None


# ---------------------------------------------------------------------------------------- data cut
def cut_date_columns(table: str) -> tuple[str, ...]:
    """The date columns whose latest value is the default data cut (docs/data-contract.md)."""
    return ("diagnosis_date",) if table == "patients" else DATE_COLUMNS.get(table, ())


def latest_valid_date(raw: RawTable, config: Config) -> pd.Timestamp:
    """The latest date of one (piece of a) table among rows without a cell error: its share of
    the default data cut, as ``check_tables`` computes it (NaT for a table-level problem)."""
    t = _Table(raw)
    return pd.NaT if _row_checks(t, config) else _latest_date({raw.name: t})


def _latest_date(tables: dict[str, _Table]) -> pd.Timestamp:
    latest = pd.NaT
    for t in tables.values():
        for c in cut_date_columns(t.name):
            d = t.cols[c][~t.bad]
            if d.notna().any():
                m = d.max()
                latest = m if pd.isna(latest) else max(latest, m)
    return latest


def _apply_cut(tables: dict[str, _Table], cut: pd.Timestamp) -> None:
    for t in tables.values():
        if t.name == "patients" or pd.isna(cut):
            continue
        first = DATE_COLUMNS[t.name][0]
        d = t.cols[first]
        after = (~t.bad & (d > cut).to_numpy())
        t.report("excluded", "AFTER_DATA_CUT", after, first, _iso_series(d),
                 cat("dated ", _iso_series(d), f", after the data cut {_iso(cut)}: not used"))
        t.cut |= after
        if t.name == "treatments":
            end = t.cols["end_date"]
            late = ~t.bad & ~t.cut & (end > cut).to_numpy()
            t.report("warning", "END_AFTER_DATA_CUT", late, "end_date", _iso_series(end),
                     cat("end_date ", _iso_series(end), f" is after the data cut {_iso(cut)}: the phase is "
                         "treated as ongoing at the data cut"))
            t.cols["end_date"] = end.mask(late)
            t.cols["end_reason"] = t.cols["end_reason"].mask(late)


# ------------------------------------------------------------------------------------- consistency
def _key_frame(t: _Table, cols: list[str]) -> pd.DataFrame:
    """Compact, hashable columns for duplicate detection (codes for text, int64 for dates)."""
    out = {}
    for c in cols:
        s = t.cols[c]
        if s is t.pid:
            out[c] = t.pid_codes()[0]
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[c] = s.to_numpy(dtype="datetime64[ns]").view("int64")
        elif pd.api.types.is_float_dtype(s.dtype):
            out[c] = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            out[c] = pd.factorize(s, use_na_sentinel=True)[0]
    return pd.DataFrame(out, copy=False)  # read only: no copy into one block


def _rows_list(t: _Table, mask: np.ndarray, keys: pd.DataFrame) -> pd.Series:
    """For flagged rows: 'rows a, b, c' of every row sharing their key (small subsets only)."""
    sub = keys[mask].copy()
    sub["_row"] = t.rows[mask]
    cols = list(keys.columns)
    joined = sub.groupby(cols, dropna=False)["_row"].agg(lambda r: ", ".join(str(x) for x in sorted(r)))
    return sub.join(joined.rename("_rows"), on=cols)["_rows"].reindex(np.flatnonzero(mask))


def _dup_within(keys: pd.DataFrame, ok: np.ndarray, keep) -> np.ndarray:
    """duplicated() among the rows in play only."""
    if ok.all():  # usually: no copy of the key columns
        return keys.duplicated(keep=keep).to_numpy()
    out = np.zeros(len(keys), dtype=bool)
    out[np.flatnonzero(ok)] = keys[ok].duplicated(keep=keep).to_numpy()
    return out


def _exact_duplicates(t: _Table, cols: list[str], among: np.ndarray | None = None) -> None:
    """Rows equal in ``cols`` to an earlier row: a warning, counted once. ``among``: the only rows
    that can repeat (labs: those sharing patient, date and test with another row)."""
    ok = ~t.bad & ~t.cut & t.pid.notna().to_numpy()
    if among is not None:
        ok &= among
        if not ok.any():
            return
    keys = _key_frame(t, cols)
    dup = _dup_within(keys, ok, "first")
    if dup.any():
        involved = _dup_within(keys, ok, False)
        msg = pd.Series(None, index=range(t.n), dtype=object)
        msg[np.flatnonzero(involved)] = _rows_list(t, involved, keys).to_numpy()
        t.report("warning", "DUPLICATE_ROW", dup, None, None, cat("exact duplicate row (rows ", msg, "): counted once"))
        t.dup |= dup


def _patients_rules(p: _Table) -> set:
    """Duplicate patients. Returns the patient_ids with a duplicate (patient-level errors)."""
    _exact_duplicates(p, [c.name for c in TABLES["patients"].columns])
    live = ~p.dup & p.pid.notna().to_numpy()
    dupe = live & p.pid.where(live).duplicated(keep=False).to_numpy() & p.pid.notna().to_numpy()
    if dupe.any():
        rows = _rows_list(p, dupe, _key_frame(p, ["patient_id"]))
        msg = pd.Series(None, index=range(p.n), dtype=object)
        msg[np.flatnonzero(dupe)] = rows.to_numpy()
        p.report("error", "DUPLICATE_PATIENT", dupe, "patient_id", p.pid, cat("duplicate patient_id '", _shown(p.pid), "' (rows ", msg, ")"))
    return set(p.pid[dupe].dropna())


def _orphans(t: _Table, known: pd.Series) -> None:
    # every row naming a patient, even one with other errors: an unknown id is its own problem
    ok = ~t.cut & t.pid.notna().to_numpy()
    orphan = ok & ~t.pid_in(known)
    t.report("error", "ORPHAN_PATIENT_ID", orphan, "patient_id", _shown(t.pid),
             cat("patient_id '", _shown(t.pid), "' is not in patients"))


def _per_row(t: _Table, by_patient: pd.Series) -> pd.Series:
    """``by_patient`` (dates indexed by distinct patient_id) looked up for every row of ``t`` (NaT where none)."""
    pos = t.pid_positions(by_patient.index)
    values = by_patient.to_numpy(dtype="datetime64[ns]")
    return pd.Series(np.where(pos >= 0, values[np.maximum(pos, 0)] if len(values) else np.datetime64("NaT"),
                              np.datetime64("NaT")).astype("datetime64[ns]"), index=t.pid.index)


def _dates_in_life(t: _Table, diag: pd.Series, death: pd.Series, pre_days: int) -> None:
    """No date before diagnosis_date - pre_days, none after death (docs/data-contract.md)."""
    d_of = _per_row(t, diag)
    x_of = _per_row(t, death)
    for c in DATE_COLUMNS[t.name]:
        ok = t.ok()
        d = t.cols[c]
        early = ok & (d < d_of - pd.Timedelta(days=pre_days)).to_numpy()
        t.report("error", "DATE_BEFORE_DIAGNOSIS", early, c, _iso_series(d),
                 cat("date ", _iso_series(d), f" is more than {pre_days} days before diagnosis_date ",
                     _iso_series(d_of)))
        after = t.ok() & (d > x_of).to_numpy()
        t.report("error", "DATE_AFTER_DEATH", after, c, _iso_series(d), cat("date ", _iso_series(d), " is after death on ", _iso_series(x_of)))


def _phase_order(t: _Table) -> None:
    s, e = t.cols["start_date"], t.cols["end_date"]
    wrong = t.ok() & (e < s).to_numpy()
    t.report("error", "PHASE_END_BEFORE_START", wrong, "end_date", _iso_series(e),
             cat("end_date ", _iso_series(e), " is before start_date ", _iso_series(s)))


#: One lab result: two rows with the same key are an exact duplicate or a conflict.
_LAB_RESULT_KEY = ["patient_id", "date", "test"]


def _repeated_results(t: _Table) -> tuple[pd.DataFrame, np.ndarray]:
    """Lab rows (in play) sharing patient, date and test with another row, and the key frame: in a
    clean export none, and then neither duplicate check needs to look further."""
    keys = _key_frame(t, _LAB_RESULT_KEY)
    return keys, _dup_within(keys, ~t.bad & ~t.cut & t.pid.notna().to_numpy(), False)


def _lab_conflicts(t: _Table, keys: pd.DataFrame, repeated: np.ndarray) -> None:
    """Two results of one test on one day with different values (``_repeated_results``): an error."""
    if not repeated.any():
        return  # the rows in play now are a subset of those checked then
    conflict = _dup_within(keys, t.ok(), False)
    if conflict.any():
        rows = _rows_list(t, conflict, keys)
        msg = pd.Series(None, index=range(t.n), dtype=object)
        msg[np.flatnonzero(conflict)] = rows.to_numpy()
        t.report("error", "LAB_CONFLICT", conflict, "value", _shown(t.text["value"]),
                 cat("conflicting ", t.cols["test"], " results on ", _iso_series(t.cols["date"]), " (rows ", msg, ")"))


def _one_first_line_maintenance(t: _Table) -> set:
    ok = t.ok()
    phase = t.cols["phase"].astype(object)
    ll = t.cols["start_date"][ok & (phase == "later_line").to_numpy()].groupby(
        t.pid[ok & (phase == "later_line").to_numpy()].astype(object)).min()
    start = t.cols["start_date"]
    ll_of = t.pid.astype(object).map(ll)
    first_line = ok & (phase == "maintenance").to_numpy() & (ll_of.isna() | (start < ll_of)).to_numpy()
    pid_m = t.pid.where(first_line)
    many = first_line & pid_m.duplicated(keep=False).to_numpy() & pid_m.notna().to_numpy()
    if many.any():
        rows = _rows_list(t, many, _key_frame(t, ["patient_id"]))
        msg = pd.Series(None, index=range(t.n), dtype=object)
        msg[np.flatnonzero(many)] = rows.to_numpy()
        t.report("error", "MAINTENANCE_NOT_UNIQUE", many, "phase", "maintenance",
                 cat("more than one first-line maintenance row for this patient (rows ", msg, ")"))
    return set(t.pid[many].dropna())


def _light_chain_rule(p: _Table, labs: _Table | None) -> None:
    if labs is None:
        return
    ok = labs.ok()
    flc = labs.pid[ok & text_isin(labs.cols["test"], FLC_TESTS)].dropna().unique()
    live = ~p.bad & ~p.dup & p.pid.notna().to_numpy()
    need = live & p.cols["light_chain"].isna().to_numpy() & p.text["light_chain"].isna().to_numpy() \
        & p.pid_in(flc)
    p.report("error", "LIGHT_CHAIN_MISSING", need, "light_chain", None, "light_chain is missing but the patient has FLC results")


# ----------------------------------------------------------------------------------------- cohort
def _typed_out(t: _Table, used: np.ndarray) -> pd.DataFrame:
    spec = TABLES[t.name]
    out = {}
    names = LAB_COLUMNS[:-1] if t.name == "labs" else spec.column_names
    every = bool(used.all())  # usually: then the columns are taken as they are, not copied by a mask
    for c in names:
        if c not in t.cols:
            s = pd.Series(None, index=np.flatnonzero(used), dtype=object)
        elif t.cols[c] is t.pid:  # the ids hashed already: their codes give the objects
            codes, uniques = t.pid_codes()
            s = pd.Series(from_distinct(codes if every else codes[used], uniques), dtype=object)
        else:
            s = t.cols[c] if every else t.cols[c][used]
            if isinstance(s.dtype, pd.StringDtype):
                s = pd.Series(text_objects(s), dtype=object)
        out[c] = s.set_axis(pd.RangeIndex(len(s)), copy=False)  # reset_index(drop=True) would copy the column
    df = pd.DataFrame(out, copy=False)  # fresh columns: no second copy into consolidated blocks
    df[ROW] = t.rows[used]
    contract = set(spec.column_names) | set(LAB_COLUMNS)
    for extra in [c for c in t.raw.columns if c not in contract]:
        df[extra] = t.raw[extra][used].reset_index(drop=True)
    return df


def finish_issues(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Issue frames as one log in the validator's order: table (contract order), then row (file-level first)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in FILE_ISSUE_COLUMNS})
        df["row"] = pd.array([], dtype="Int64")
        return df
    df = pd.concat(frames, ignore_index=True)
    order = {n: i for i, n in enumerate(TABLES)}
    df["_t"] = df["table"].map(order).fillna(-1)
    df["row"] = pd.array(df["row"], dtype="Int64")
    df = df.sort_values(["_t", "row"], kind="stable", na_position="first").reset_index(drop=True)
    for c in ("patient_id", "column", "value", "message", "file"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df[FILE_ISSUE_COLUMNS]


def check_tables(raw: dict[str, RawTable], file_issues: list[dict], sources: dict, data_cut,
                 exclude_invalid: bool, config: Config, missing_file) -> ReadResult:
    """The whole contract check over loaded tables; ``missing_file(name)`` names an absent table's file."""
    frames: list[pd.DataFrame] = [pd.DataFrame(file_issues, columns=FILE_ISSUE_COLUMNS)] if file_issues else []
    fatal = any(i.get("row") is None for i in file_issues)  # a bad line alone is a row error
    broken = {i["table"] for i in file_issues if i.get("row") is None}
    for name in REQUIRED_TABLES:
        if name not in raw and name not in broken:
            frames.append(pd.DataFrame([{"severity": "error", "code": "TABLE_MISSING", "table": name, "row": None,
                                         "patient_id": None, "column": None, "value": None, "file": missing_file(name),
                                         "message": f"required table '{name}' is missing"}]))
            fatal = True
    tables: dict[str, _Table] = {}
    for name, r in raw.items():
        t = _Table(r)
        problem = _row_checks(t, config)
        if problem:
            frames.append(pd.DataFrame([{"severity": "error", "code": "COLUMN_MISSING", "table": name, "row": None,
                                         "patient_id": None, "column": None, "value": None, "file": t.file,
                                         "message": problem}]))
            frames.extend(t.issues)
            fatal = True
            continue
        tables[name] = t

    latest_valid = _latest_date(tables)
    cut = data_cut if data_cut is not None and pd.notna(data_cut) else latest_valid
    _apply_cut(tables, cut)

    p = tables.get("patients")
    patient_level: dict[str, str] = {}  # patient_id -> reason the whole patient is left out
    cut_patients: dict[str, str] = {}
    if p is not None:
        dupes = _patients_rules(p)
        known = p.pid.dropna().unique()
        live = ~p.bad & ~p.dup & p.pid.notna().to_numpy()
        diag = pd.Series(p.cols["diagnosis_date"][live].to_numpy(), index=p.pid[live].astype(object))
        diag = diag[~diag.index.duplicated(keep=False)]
        if pd.notna(cut):
            late = live & (p.cols["diagnosis_date"] > cut).to_numpy()
            p.report("excluded", "DIAGNOSIS_AFTER_DATA_CUT", late, "diagnosis_date", _iso_series(p.cols["diagnosis_date"]),
                     cat("diagnosis_date ", _iso_series(p.cols["diagnosis_date"]),
                         f" is after the data cut {_iso(cut)}: patient not used"))
            p.cut |= late
            cut_patients = dict.fromkeys(p.pid[late].astype(object), "diagnosis after the data cut")
        for pid in dupes:
            patient_level[pid] = "duplicate patient_id"
        for t in tables.values():
            if t.name == "patients":
                continue
            _orphans(t, known)
        for t in tables.values():
            if t.name == "patients":
                continue
            if t.name == "labs":
                lab_keys, repeated = _repeated_results(t)
                _exact_duplicates(t, [*_LAB_RESULT_KEY, "value_num", "value_text", "unit"], among=repeated)
            else:
                _exact_duplicates(t, TABLES[t.name].column_names)
        ev = tables.get("events")
        death = pd.Series(dtype="datetime64[ns]")
        if ev is not None:
            m = ev.ok() & (ev.cols["event"] == "death").fillna(False).to_numpy(dtype=bool)
            death = ev.cols["date"][m].groupby(ev.pid[m].astype(object)).min()
        for t in tables.values():
            if t.name != "patients":
                _dates_in_life(t, diag, death, config.pre_diagnosis_days)
        if "treatments" in tables:
            _phase_order(tables["treatments"])
            for pid in _one_first_line_maintenance(tables["treatments"]):
                patient_level.setdefault(pid, "more than one first-line maintenance row")
        if "labs" in tables:
            _lab_conflicts(tables["labs"], lab_keys, repeated)
        _light_chain_rule(p, tables.get("labs"))
        for pid in p.pid[p.bad].dropna().astype(object).unique():
            patient_level.setdefault(pid, "error in its patients row")

    for t in tables.values():
        frames.extend(t.issues)
    has_errors = fatal or any((f["severity"] == "error").any() for f in frames if len(f))
    left_out = {**cut_patients, **patient_level}
    counts: dict = {}
    cohort = None
    out: dict[str, pd.DataFrame] = {}
    for name, t in tables.items():
        drop_pid = t.pid_in(left_out) if left_out else np.zeros(t.n, dtype=bool)
        used = ~t.bad & ~t.dup & ~t.cut & ~drop_pid & t.pid.notna().to_numpy()
        unread = sum(1 for i in file_issues if i["table"] == name and i.get("row") is not None)  # bad lines
        counts[name] = {"rows_in": int(t.n) + unread, "rows_used": int(used.sum()),
                        "rows_excluded": int(t.n + unread - used.sum())}
        if exclude_invalid or (name != "patients" and cut_patients):
            frames.append(_patient_exclusions(t, left_out if exclude_invalid else cut_patients))
        out[name] = _typed_out(t, used)
    counts["patients_in"] = int(p.pid.dropna().nunique()) if p is not None else 0
    counts["patients_used"] = int(out["patients"]["patient_id"].nunique()) if p is not None else 0
    counts["patients_excluded"] = counts["patients_in"] - counts["patients_used"]
    issues = finish_issues(frames)
    if exclude_invalid:
        row_err = (issues["severity"] == "error") & issues["row"].notna()
        issues.loc[row_err, "severity"] = "excluded"
    if not fatal and (exclude_invalid or not has_errors):
        tabs = {n: out.get(n, empty_table(n)) for n in Cohort.TABLE_NAMES}
        tabs = {n: (df if len(df.columns) else empty_table(n)) for n, df in tabs.items()}
        cohort = Cohort(**tabs, data_cut=pd.Timestamp(cut) if pd.notna(cut) else pd.NaT, sources=dict(sources))
    return ReadResult(cohort, issues, counts, dict(sources), latest_valid)


def _patient_exclusions(t: _Table, left_out: dict[str, str]) -> pd.DataFrame:
    """One line per table and patient left out whole: its remaining rows are not used."""
    if not left_out:
        return pd.DataFrame(columns=FILE_ISSUE_COLUMNS)
    # rows already carrying their own line (errors, after the cut, duplicates) are not repeated
    m = t.pid_in(left_out) & ~t.bad & ~t.cut & ~t.dup
    if not m.any():
        return pd.DataFrame(columns=FILE_ISSUE_COLUMNS)
    g = pd.DataFrame({"pid": t.pid[m].astype(object), "row": t.rows[m]}).groupby("pid", sort=False)
    agg = g["row"].agg(["size", "min"]).reset_index()
    return pd.DataFrame({
        "severity": "excluded", "code": "PATIENT_LEFT_OUT", "table": t.name, "row": pd.array([None] * len(agg), dtype="Int64"),
        "patient_id": agg["pid"].to_numpy(), "column": None, "value": None, "file": t.file,
        "message": [f"patient left out ({left_out[p]}): {n} row(s) of {t.name} not used"
                    for p, n in zip(agg["pid"], agg["size"])],
    })

