"""Source-neutral conversion of result "facts" to the contract's rows (docs/omop.md, docs/mapping.md).

A source (OMOP ``measurement``/``observation``, FHIR ``Observation``) hands over one frame of
facts with ``FACT_COLUMNS``; this module picks the contract's rows by the mapping's selectors and
converts them: units and their UCUM spellings, censored values, categorical answers, MRD scale,
result and limit of detection, and patient attributes. Every row that cannot be converted gets an
import-log line with its record and reason; rows matching no selector are summarised by concept
(``UNMAPPED_CONCEPT``) with their count. Pure functions, vectorised over whole patients.

Optional columns: ``table`` (``measurement`` / ``observation``: a selector's ``table`` must
match; without the column any table matches) and ``concept_name`` (named in the unmapped summary).
A fact names its record by ``record`` (``'Observation/abc'``) or, without that column, by ``table``
and ``record_id`` (OMOP: the text is built only for the rows that get a log line, ``records``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mrdtrack.contract import LAB_TESTS, PATIENTS
from mrdtrack.importers.log import concat_logs, log_frame, log_line, log_rows
from mrdtrack.importers.mapping import (
    ANSWER_CODES,
    ANSWER_WORDS,
    CATEGORY_WORDS,
    MRD_UNIT_SCALE,
    PATIENT_ATTRIBUTES,
    UNIT_ALIASES,
    Mapping,
    Selector,
)
from mrdtrack.importers.window import window_lines
from mrdtrack.io.censored import LIMIT, NOT_ALLOWED, ZERO, censored_message, censored_outcome, censored_value
from mrdtrack.io.parse import STRING

FACT_COLUMNS = ["patient_id", "date", "loinc", "concept_id", "source_concept_id", "source_values", "value_number",
                "operator", "unit", "value_code", "value_text", "range_low", "record"]

# import-log codes of this module (registered in issue_codes.py)
UNMAPPED_CONCEPT = "UNMAPPED_CONCEPT"
# censored values: the contract readers' codes (the same rule in every door, docs/data-model.md)
CENSORED_ZERO, CENSORED_AT_LIMIT, CENSORED_NOT_ALLOWED = "LAB_CENSORED_ZERO", "LAB_CENSORED_AT_LIMIT", \
    "LAB_CENSORED_NOT_ALLOWED"
IMPORT_NO_UNIT = "IMPORT_NO_UNIT"
IMPORT_NO_VALUE = "IMPORT_NO_VALUE"
IMPORT_BAD_VALUE = "IMPORT_BAD_VALUE"
IMPORT_OPERATOR = "IMPORT_OPERATOR"
MRD_NO_SCALE = "MRD_NO_SCALE"
MRD_NO_LOD = "MRD_NO_LOD"
NEGATIVE_LESION = "NEGATIVE_LESION_LEFT_OUT"
SAME_DATE_CODE = "IMPORT_LATER_CODE_SAME_DATE"
_NONE = 1 << 30  # "not selected" rank (exact in float64)


@dataclass
class FactsResult:
    """Contract rows from facts, attributes per patient, and the log (each line naming its record)."""

    labs: pd.DataFrame
    mrd: pd.DataFrame
    imaging: pd.DataFrame
    attributes: pd.DataFrame  # patient_id + PATIENT_ATTRIBUTES found
    log: pd.DataFrame
    used: dict = field(default_factory=dict)  # kind -> rows used
    unmapped: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))  # unmapped_counts


# ------------------------------------------------------------------------------------- selection
def _source_value_ranks(facts: pd.DataFrame, sel: Selector) -> pd.Series:
    """Per fact, the position of its first matching source value in the selector (or _NONE)."""
    if not sel.source_value or "source_values" not in facts:
        return pd.Series(_NONE, index=facts.index, dtype="int64")
    pos = {v.strip().lower(): i for i, v in reversed(list(enumerate(sel.source_value)))}
    sv = facts["source_values"].astype("string").str.lower()
    multi = sv.str.contains("|", regex=False).fillna(False).to_numpy(dtype=bool)
    rank = sv.str.strip().map(pos)
    if multi.any():
        alt = sv[multi].str.split("|").explode().str.strip().map(pos)
        rank[multi] = alt.groupby(level=0).min().reindex(sv.index[multi]).to_numpy()
    return rank.astype("float64").fillna(_NONE).astype("int64")


def selector_rank(facts: pd.DataFrame, sel: Selector) -> pd.Series:
    """Per fact, the position of the first listed code it matches (loinc, then concept ids, then
    source values, in the order written), _NONE when the selector does not select it."""
    n_l, n_c = len(sel.loinc), len(sel.concept_id)
    rank = pd.Series(_NONE, index=facts.index, dtype="int64")
    if sel.loinc:
        pos = {c: i for i, c in reversed(list(enumerate(sel.loinc)))}
        rank = np.minimum(rank, facts["loinc"].map(pos).astype("float64").fillna(_NONE).astype("int64"))
    if sel.concept_id:
        pos = {c: n_l + i for i, c in reversed(list(enumerate(sel.concept_id)))}
        for col in ("concept_id", "source_concept_id"):
            rank = np.minimum(rank, facts[col].map(pos).astype("float64").fillna(_NONE).astype("int64"))
    sv = _source_value_ranks(facts, sel)
    rank = np.minimum(rank, (sv + n_l + n_c).where(sv < _NONE, _NONE))
    if "table" in facts:
        rank = rank.where((facts["table"] == sel.table).fillna(False), _NONE)
    return rank


def select_facts(facts: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """Facts with ``kind`` (labs/mrd/patients/imaging), ``key`` and ``rank`` (NA kind: unmapped)."""
    kind, key, rank = selection(facts, mapping)
    return facts.assign(kind=kind, key=key, rank=rank)


def combination_codes(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Per row, the number of its combination of ``cols`` values in order of first appearance
    (a missing value is a value): ``groupby(cols, dropna=False, sort=False).ngroup()``, by integer codes."""
    gid = np.zeros(len(frame), dtype="int64")
    for c in cols:
        codes, uniq = pd.factorize(frame[c], use_na_sentinel=False)
        gid = pd.factorize(gid * (len(uniq) + 1) + codes)[0].astype("int64")
    return gid


def _spread(values: pd.Series, gid: np.ndarray) -> pd.Categorical:
    """Values of the distinct combinations spread to the rows as a categorical (NA kept): a code
    per row, not a reference to a text object per row to count and copy."""
    codes, names = pd.factorize(values)
    return pd.Categorical.from_codes(codes[gid], categories=names)


def selection(facts: pd.DataFrame, mapping: Mapping) -> tuple[pd.Categorical, pd.Categorical, np.ndarray]:
    """Per fact, its ``kind``, ``key`` (categoricals) and ``rank`` (NA kind: unmapped). The first
    selector that matches a fact takes it (mapping order). Selectors are matched once per distinct
    code combination (a handful), then spread to the rows."""
    cols = [c for c in ("loinc", "concept_id", "source_concept_id", "source_values", "table") if c in facts]
    gid = combination_codes(facts, cols)
    first = pd.Series(np.arange(len(facts))).groupby(gid).first().to_numpy() if len(facts) else np.zeros(0, "int64")
    uniq = facts.iloc[first][cols].reset_index(drop=True)
    uniq = uniq.astype({c: object for c in cols if isinstance(uniq[c].dtype, pd.CategoricalDtype)})
    kind = pd.Series(pd.NA, index=uniq.index, dtype=object)
    key = kind.copy()
    rank = pd.Series(_NONE, index=uniq.index, dtype="int64")
    for k, name, sel in mapping.keyed_selectors():
        r = selector_rank(uniq, sel)
        take = ((r < _NONE) & kind.isna()).to_numpy()
        kind[take], key[take], rank[take] = k, name, r[take]
    return _spread(kind, gid), _spread(key, gid), rank.to_numpy()[gid]


def unmapped_counts(selected: pd.DataFrame, table: str = "measurement") -> pd.Series:
    """Rows matching no selector, counted per concept (id, LOINC code, name, table), sorted."""
    un = selected[selected["kind"].isna()]
    keys = pd.DataFrame({"concept_id": un["concept_id"].astype("string").fillna(""),
                         "loinc": un["loinc"].astype("string").fillna(""),
                         "name": (un["concept_name"].astype("string") if "concept_name" in un else un["source_values"]
                                  .astype("string")).fillna(un["source_values"].astype("string")).fillna(""),
                         "table": (un["table"] if "table" in un else pd.Series(table, index=un.index)).astype("string")})
    return keys.value_counts(dropna=False).sort_index()


def unmapped_lines(counts: pd.Series) -> list[dict]:
    """One UNMAPPED_CONCEPT line per concept with its count (``unmapped_counts``; never silent)."""
    return [log_line(UNMAPPED_CONCEPT, "warning", t, f"concept {cid or '?'} ({code or 'no LOINC code'}, "
                     f"{name or 'no name'}): {n} row(s) not mapped to a contract test", n, record=cid or None)
            for (cid, code, name, t), n in counts.items()]


def unmapped_summary(selected: pd.DataFrame, table: str = "measurement") -> list[dict]:
    """One UNMAPPED_CONCEPT line per concept (id, code, name) with its count (never silent)."""
    return unmapped_lines(unmapped_counts(selected, table)) if selected["kind"].isna().any() else []


def _cell_key(sel: pd.DataFrame) -> np.ndarray:
    """One int64 per (patient, kind+key, date): the cell in which codes compete."""
    p = pd.factorize(sel["patient_id"])[0].astype("int64")
    kinds, keys = pd.factorize(sel["kind"])[0], pd.factorize(sel["key"])[0]
    k = pd.factorize(kinds.astype("int64") * (keys.max(initial=0) + 2) + keys)[0].astype("int64")
    d = sel["date"].to_numpy(dtype="datetime64[D]").astype("int64") - np.int64(-200_000)
    return (p * 1024 + k) * 1_000_000 + d


def _shared(cell: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Those of the positions ``rows`` whose cell holds another of them."""
    return rows[pd.Series(cell[rows]).duplicated(keep=False).to_numpy()]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Values as text to compare (a categorical's missing value as an object column's: 'None')."""
    plain = {c: frame[c].astype(object).where(frame[c].notna(), None) for c in frame
             if isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.assign(**plain).astype(str)


def prefer_first_code(sel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per patient, key and date, the rows of the first-listed code only; equal values collapse.
    Codes compete only in cells holding several rows (a few), so only those are grouped.

    Returns (kept rows, log of rows set aside for a first-listed code on the same date).
    """
    cell, rank = _cell_key(sel), sel["rank"].to_numpy()
    multi = _shared(cell, np.arange(len(sel)))
    later = np.zeros(len(sel), dtype=bool)
    later[multi] = rank[multi] > pd.Series(rank[multi]).groupby(cell[multi]).transform("min").to_numpy()
    log = fact_log(SAME_DATE_CODE, "info", sel[later],
                   "a code listed earlier in the selector has a result on the same date") if later.any() else log_frame()
    shared = _shared(cell, multi[~later[multi]])  # kept rows sharing their cell: only they can be equal
    if len(shared):
        value_cols = ["value_number", "operator", "unit", "value_code", "value_text"]
        cand = _as_text(sel.iloc[shared][value_cols]).assign(_cell=cell[shared])
        later[shared[cand.duplicated().to_numpy()]] = True  # set aside as the equal row before it
    return (sel[~later] if later.any() else sel), log


# ------------------------------------------------------------------------------------- conversions
def normalised_unit(unit: pd.Series) -> pd.Series:
    """UCUM spellings as the contract's units; other units as given (the validator judges them).
    Worked out once per distinct unit text."""
    codes, uniq = pd.factorize(unit)
    u = pd.Series(uniq, dtype="string").str.strip()
    mapped = u.str.lower().map({k.lower(): v for k, v in UNIT_ALIASES.items()})
    done = mapped.fillna(u).astype(object).where(u.notna() & (u != ""), None).to_numpy()
    out = np.where(codes >= 0, done[np.maximum(codes, 0)] if len(done) else None, None)
    return pd.Series(out, index=unit.index, dtype=object)


def folded_text(values: pd.Series) -> pd.Series:
    """Text stripped and lower-cased (a "string" Series, NA kept), worked out once per distinct value."""
    codes, uniq = pd.factorize(values)
    done = pd.Series(uniq, dtype="string").str.strip().str.lower()
    return pd.Series(done.reindex(codes).array, index=values.index, dtype="string")


def answer(rows: pd.DataFrame, text: pd.Series | None = None) -> pd.Series:
    """'positive' / 'negative' from the LOINC answer code, else the value text (case-insensitive;
    ``text``: the value text already folded)."""
    by_code = rows["value_code"].map(ANSWER_CODES)
    text = folded_text(rows["value_text"]) if text is None else text
    by_text = text.map(ANSWER_WORDS).astype(object)
    return by_code.astype(object).where(by_code.notna(), by_text)


def records(rows: pd.DataFrame) -> pd.Series:
    """Each fact's record as the import log names it: ``record``, else ``table:record_id`` (OMOP)."""
    if "record" in rows:
        return rows["record"]
    return rows["table"].astype(str) + ":" + rows["record_id"].astype("int64").astype(str)


def fact_log(code: str, severity: str, rows: pd.DataFrame, detail) -> pd.DataFrame:
    """One import-log line per fact of ``rows``, naming its record and patient."""
    return log_rows(code, severity, records(rows), rows["patient_id"], detail)


def _error(code: str, rows: pd.DataFrame, detail) -> pd.DataFrame:
    return fact_log(code, "error", rows, detail)


def _categorical_labs(rows: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    text = folded_text(rows["value_text"])
    pos_neg = answer(rows, text)
    yes = rows["key"].map({k: w[0] for k, w in CATEGORY_WORDS.items()}).to_numpy(dtype=object)
    no = rows["key"].map({k: w[1] for k, w in CATEGORY_WORDS.items()}).to_numpy(dtype=object)
    word = pd.Series(np.where(pos_neg == "positive", yes, no), index=rows.index, dtype=object)
    given = text.fillna("").to_numpy(dtype=object)
    own = pd.Series(np.where((given == yes) | (given == no), given, None), index=rows.index,
                    dtype=object)  # the contract's own word given as text
    word = word.where(pos_neg.isin(["positive", "negative"]), own)
    left_out = (pos_neg == "negative").to_numpy() & (rows["key"] == "new_lesion").to_numpy()
    bad = word.isna().to_numpy() & ~left_out
    logs = [fact_log(NEGATIVE_LESION, "info", rows[left_out], "new_lesion: a negative result is no row of the contract (left out)"),
            _error(IMPORT_BAD_VALUE, rows[bad], "value '" + rows["value_code"].astype("string").fillna(
                rows["value_text"].astype("string")).fillna("").astype(str)[bad] + "' is not a known answer for "
                + rows["key"][bad].astype(str))]
    return ~bad & ~left_out, word.to_numpy(dtype=object), logs


def _numeric_labs(rows: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    unit = normalised_unit(rows["unit"])
    op = rows["operator"].astype(object)
    no_value = rows["value_number"].isna().to_numpy()
    no_unit = unit.isna().to_numpy() & ~no_value
    above = op.isin([">", ">="]).to_numpy() & ~no_value
    censored = op.isin(["<", "<="]).to_numpy() & ~no_value & ~no_unit
    outcome = censored_outcome(rows["key"], censored)
    value = rows["value_number"].to_numpy(dtype="float64").copy()
    value[censored] = censored_value(value[censored], outcome[censored])
    shown = censored | above  # the original text, for the rows whose message quotes it
    original = pd.Series("", index=rows.index, dtype=object)
    original[shown] = op[shown].fillna("").astype(str) + rows["value_number"][shown].map(lambda x: f"{x:g}")
    msg = censored_message(rows["key"][censored], original[censored], outcome[censored])
    warn = censored & (outcome == LIMIT)
    note = censored & (outcome == ZERO)
    refused = censored & (outcome == NOT_ALLOWED)
    m = pd.Series(np.full(len(rows), None, dtype=object), index=rows.index)
    m[censored] = msg.to_numpy()
    logs = [_error(IMPORT_NO_VALUE, rows[no_value], "no numeric value for " + rows["key"][no_value].astype(str)),
            _error(IMPORT_NO_UNIT, rows[no_unit], "no unit for " + rows["key"][no_unit].astype(str)
                   + " (unit concept 0 or missing and no source unit)"),
            _error(IMPORT_OPERATOR, rows[above], "value above a limit ('" + original[above] + "') cannot be used"),
            fact_log(CENSORED_AT_LIMIT, "warning", rows[warn], m[warn]),
            fact_log(CENSORED_ZERO, "warning", rows[note], m[note]),
            _error(CENSORED_NOT_ALLOWED, rows[refused], m[refused])]
    return ~(no_value | no_unit | above | refused), value, unit.to_numpy(dtype=object), logs


NUMERIC_TESTS = [k for k, t in LAB_TESTS.items() if t.numeric]


def rows_of(frame: pd.DataFrame, rows, cols: list[str]) -> pd.DataFrame:
    """The ``rows`` (a mask or a slice) of the columns ``cols``: one frame built from the columns'
    selected rows, not a copy of every column (and not a copy of a copy)."""
    return pd.DataFrame({c: frame[c].array[rows] for c in cols}, copy=False)


def _columns(sel: pd.DataFrame, rows: np.ndarray, cols: list[str]) -> pd.DataFrame:
    """The ``rows`` of the columns ``cols`` and of those naming the fact (patient, record): one
    rule's input, without copying the columns it does not read."""
    return rows_of(sel, rows, [c for c in ("patient_id", "record", "table", "record_id") if c in sel] + cols)


def lab_rows(sel: pd.DataFrame, rows: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract labs rows of the facts ``sel`` (the ``rows`` of it: a mask; None: all) in their order
    (value: a number as text for numeric tests, the contract's word otherwise; unit: numeric tests only)."""
    rows = np.ones(len(sel), dtype=bool) if rows is None else rows
    numeric = sel["key"].isin(NUMERIC_TESTS).to_numpy()
    numeric, words = rows & numeric, rows & ~numeric
    ok_n, number, unit_n, log_n = _numeric_labs(_columns(sel, numeric, ["key", "unit", "operator", "value_number"]))
    ok_c, word, log_c = _categorical_labs(_columns(sel, words, ["key", "value_code", "value_text"]))
    at_n, at_c = np.flatnonzero(numeric)[ok_n], np.flatnonzero(words)[ok_c]
    unit = np.full(len(sel), None, dtype=object)
    unit[at_n] = unit_n[ok_n]
    source = np.full(len(sel), -1, dtype="int64")  # each row's position among the values built
    source[at_n], source[at_c] = np.arange(len(at_n)), len(at_n) + np.arange(len(at_c))
    ok = source >= 0
    value = pa.concat_arrays([number_text(number[ok_n]), pa.array(word[ok_c], type=pa.string())]).take(source[ok])
    out = pd.DataFrame({"patient_id": sel["patient_id"].to_numpy()[ok], "date": sel["date"].to_numpy()[ok],
                        "test": np.asarray(sel["key"].array[ok], dtype=object), "value": pd.array(value, dtype=STRING),
                        "unit": unit[ok]})
    return out, concat_logs(log_n + log_c)


def number_text(values: np.ndarray) -> pa.Array:
    """Numbers as a contract file holds them: their shortest round-trip text (Arrow's cast), so the
    validator reads back the same float64."""
    return pc.cast(pa.array(np.asarray(values, dtype="float64")), pa.string())


def mrd_rows(sel: pd.DataFrame, mapping: Mapping) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract MRD rows (docs/omop.md "MRD samples": scale, result, limit of detection)."""
    unit = folded_text(sel["unit"])
    divisor = unit.map(MRD_UNIT_SCALE).astype("float64")
    sel_scale = sel["key"].map({k: {"percent": 100.0, "fraction": 1.0}.get(s.scale) for k, s in mapping.mrd.items()})
    divisor = divisor.fillna(sel_scale.astype("float64"))
    x = sel["value_number"].to_numpy(dtype="float64") / divisor.to_numpy()
    censored = sel["operator"].isin(["<", "<="]).to_numpy()
    no_value = sel["value_number"].isna().to_numpy()
    no_scale = divisor.isna().to_numpy() & ~no_value
    detected = ~censored & (x > 0)
    lod = np.where(censored & (x > 0), x, np.nan)
    sel_lod = sel["key"].map({k: s.lod for k, s in mapping.mrd.items()}).astype("float64").to_numpy()
    lod = np.where(np.isnan(lod), sel_lod, lod)
    lod = np.where(np.isnan(lod), sel["range_low"].to_numpy(dtype="float64") / divisor.to_numpy(), lod)
    no_lod = np.isnan(lod) & ~no_value & ~no_scale
    logs = [_error(IMPORT_NO_VALUE, sel[no_value], "MRD row without a numeric value"),
            _error(MRD_NO_SCALE, sel[no_scale], "MRD unit '" + sel["unit"].astype("string").fillna("")[no_scale]
                   .astype(str) + "' is not %, {fraction} or 1, and the selector gives no scale"),
            _error(MRD_NO_LOD, sel[no_lod], "MRD row states no limit of detection (no '<' value, selector lod "
                   "or range_low)")]
    ok = ~(no_value | no_scale | no_lod)
    out = pd.DataFrame({"patient_id": sel["patient_id"].to_numpy(), "date": sel["date"].to_numpy(),
                        "method": sel["key"].to_numpy(), "lod": lod,
                        "result": np.where(detected, "detected", "not_detected"),
                        "level": np.where(detected, x, np.nan), "cells_analyzed": np.nan})
    return out[ok].reset_index(drop=True), concat_logs(logs)


def attribute_rows(sel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per patient, each mapped attribute's earliest value matched to the contract's words."""
    allowed = {a: {v.lower(): v for v in PATIENTS.column(a).allowed} for a in PATIENT_ATTRIBUTES}
    text = folded_text(sel["value_text"])
    word, key = np.full(len(sel), None, dtype=object), sel["key"].to_numpy(dtype=object)
    for name, words in allowed.items():  # per attribute, its words looked up for its rows
        at = key == name
        word[at] = text[at].map(words).to_numpy(dtype=object, na_value=None)
    word = pd.Series(word, index=sel.index, dtype=object)
    bad = word.isna().to_numpy()
    log = _error(IMPORT_BAD_VALUE, sel[bad], "value '" + sel["value_text"].astype("string").fillna("")[bad].astype(str)
                 + "' is not one of the contract's words for " + sel["key"][bad].astype(str))
    ok = sel[~bad].assign(word=word[~bad], key=sel["key"][~bad].astype(object))  # keys sorted as text
    ok = ok.sort_values(["patient_id", "key", "date"], kind="stable")
    first = ok.drop_duplicates(["patient_id", "key"])
    wide = first.pivot(index="patient_id", columns="key", values="word").reset_index()
    wide.columns.name = None
    return wide, log


def imaging_rows(sel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract imaging rows: modality = the selector's key, result positive / negative."""
    res = answer(sel)
    bad = ~res.isin(["positive", "negative"]).to_numpy()
    log = _error(IMPORT_BAD_VALUE, sel[bad], "imaging value is not positive or negative")
    ok = sel[~bad]
    out = pd.DataFrame({"patient_id": ok["patient_id"].to_numpy(), "date": ok["date"].to_numpy(),
                        "modality": ok["key"].to_numpy(), "result": res[~bad].to_numpy()})
    return out, log


def _mapped(facts: pd.DataFrame, found: np.ndarray, kind, key, rank) -> pd.DataFrame:
    """The selected facts' columns the rules read, with their kind, key and rank: one frame built
    from the columns' selected rows (not a copy of a copy)."""
    needed = ["patient_id", "date", "value_number", "operator", "unit", "value_code", "value_text", "range_low",
              *[c for c in ("record", "table", "record_id") if c in facts]]
    rows = slice(None) if found.all() else found
    mapped = rows_of(facts, rows, needed)
    mapped["kind"], mapped["key"], mapped["rank"] = kind[rows], key[rows], rank[rows]
    return mapped


def facts_to_contract(facts: pd.DataFrame, mapping: Mapping, table: str = "measurement",
                      window=None, summarise: bool = True) -> FactsResult:
    """Select and convert facts (FACT_COLUMNS) to contract rows, with the import log.

    ``window``: optional callable (selected result rows -> per-row reason they lie outside the
    contract's window, NA inside; ``importers.window.out_of_window``). Results outside are kept out
    before conversion and counted (OUT_OF_WINDOW); patient attributes are never windowed.
    ``summarise`` False: no UNMAPPED_CONCEPT lines, only their counts (``unmapped``), for a source
    read in ranges of persons whose counts are summed first.
    """
    kind, key, rank = selection(facts, mapping)
    found = pd.notna(kind)
    unmapped = unmapped_counts(facts[~found].assign(kind=pd.NA), table) if not found.all() else pd.Series(
        dtype="int64")
    log = [log_frame(unmapped_lines(unmapped) if summarise else [])]
    mapped = _mapped(facts, found, kind, key, rank)
    if window is not None:
        results = (mapped["kind"] != "patients").to_numpy()
        why = pd.Series(pd.NA, index=mapped.index, dtype=object)
        why[results] = window(mapped.loc[results, ["patient_id", "date"]])
        for kind in ("labs", "mrd", "imaging"):  # one piece each: their lines are sorted by reason
            log.append(log_frame(window_lines(kind, why[(mapped["kind"] == kind).to_numpy()])))
        if why.notna().any():
            mapped = mapped[why.isna().to_numpy()]
    kept, same_date = prefer_first_code(mapped)
    log.append(same_date)
    codes, kinds = pd.factorize(kept["kind"])
    at = {k: i for i, k in enumerate(kinds)}
    part = {k: kept[codes == at.get(k, -2)] for k in ("mrd", "patients", "imaging")}
    labs, l1 = lab_rows(kept, codes == at.get("labs", -2))  # most rows: no copy of their every column
    mrd, l2 = mrd_rows(part["mrd"], mapping)
    attrs, l3 = attribute_rows(part["patients"])
    img, l4 = imaging_rows(part["imaging"])
    used = {"labs": len(labs), "mrd": len(mrd), "imaging": len(img), "patients": len(part["patients"])}
    return FactsResult(labs, mrd, img, attrs, concat_logs(log + [l1, l2, l3, l4]), used, unmapped)
