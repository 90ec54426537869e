"""Keyed pseudonyms for patient identifiers (docs/cli.md ``--pseudonymize``).

A pseudonym is ``P-`` followed by the first 16 hex digits (64 bits) of HMAC-SHA256(key, patient_id): the
same id and key always give the same pseudonym (so outputs of separate runs can be joined), and
without the key the original id cannot be recovered by hashing candidate ids. The key comes from
the environment variable ``MRDTRACK_PSEUDONYM_KEY``; it is never written anywhere.

64 bits keep the chance that two of n ids share a pseudonym near n^2 / 2^65 (3e-8 at 1,000,000
patients; 40 bits gave 0.36). Every mapping is checked all the same: a collision stops the run
(``PseudonymCollision``, exit 1) rather than merging two patients.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

import pandas as pd

from mrdtrack.errors import PseudonymCollision, UserError

KEY_ENV = "MRDTRACK_PSEUDONYM_KEY"
PREFIX = "P-"
HEX_DIGITS = 16
#: Columns holding free text in which an id may be quoted (issue messages, event details, notes).
FREE_TEXT_COLUMNS = ("message", "detail", "note")


def pseudonymize_id(pid: str, key: str | bytes) -> str:
    """``P-`` + the first 16 hex digits of HMAC-SHA256(key, pid) (both UTF-8 encoded)."""
    k = key.encode("utf-8") if isinstance(key, str) else key
    digest = hmac.new(k, str(pid).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


def pseudonym_key_from_env() -> str:
    """The key from ``MRDTRACK_PSEUDONYM_KEY``; a UserError (exit 2) when unset or empty."""
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise UserError(f"--pseudonymize needs a key: set the environment variable {KEY_ENV}")
    return key


def pseudonym_map(ids, key: str | bytes) -> dict[str, str]:
    """Original id -> pseudonym for every distinct non-missing id in ``ids``."""
    uniq = pd.unique(pd.Series(list(ids), dtype="object").dropna().astype(str))
    mapping = {pid: pseudonymize_id(pid, key) for pid in uniq}
    check_collisions(mapping)
    return mapping


def check_collisions(mapping: dict[str, str]) -> None:
    """PseudonymCollision when two ids of ``mapping`` share one pseudonym."""
    if len(set(mapping.values())) == len(mapping):
        return
    seen: dict[str, str] = {}
    for pid, pseudo in mapping.items():
        if pseudo in seen:
            raise PseudonymCollision(
                f"two patient ids map to the same pseudonym {pseudo}: the run is stopped rather than merging "
                "two patients; choose another MRDTRACK_PSEUDONYM_KEY")
        seen[pseudo] = pid


def _quotable(pid: str) -> bool:
    """Whether an id is distinctive enough to be replaced inside free text.

    Short all-digit ids ("7", "12") would also match day counts and values in messages, so only
    ids with a letter or of at least 5 characters are searched for inside text; exact cell values
    are replaced whatever they look like.
    """
    return len(pid) >= 5 or any(ch.isalpha() for ch in pid)


def _text_pattern(mapping: dict[str, str]) -> re.Pattern | None:
    ids = sorted((p for p in mapping if _quotable(p)), key=len, reverse=True)
    if not ids:
        return None
    alternation = "|".join(re.escape(p) for p in ids)
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w-])")


def _replace_column(s: pd.Series, mapping: dict[str, str], pattern: re.Pattern | None, free_text: bool) -> pd.Series:
    as_text = s.astype("object")
    mask = s.notna()
    exact = as_text[mask].astype(str).map(mapping)
    out = as_text.copy()
    hit = exact.notna()
    out.loc[exact.index[hit]] = exact[hit]
    if free_text and pattern is not None:
        rest = out[mask & ~out.index.isin(exact.index[hit])].astype(str)
        uniq = pd.unique(rest)
        subst = {u: pattern.sub(lambda m: mapping[m.group(0)], u) for u in uniq}
        changed = rest.map(subst)
        changed = changed[changed != rest]
        out.loc[changed.index] = changed
    return out


def pseudonymize_frames(frames: dict[str, pd.DataFrame], key: str | bytes) -> dict[str, pd.DataFrame]:
    """Copies of ``frames`` with every patient id replaced by its pseudonym.

    Ids are collected from every frame's ``patient_id`` column. Each ``patient_id`` column is
    mapped; in other text columns a cell equal to a known id is replaced (e.g. the ``value`` of
    an issue about a duplicated id), and in the free-text columns (``message``, ``detail``,
    ``note``) ids quoted inside the text are replaced too.
    """
    ids: list = []
    for df in frames.values():
        if df is not None and "patient_id" in df.columns:
            ids.extend(df["patient_id"].dropna().astype(str).tolist())
    mapping = pseudonym_map(ids, key)
    pattern = _text_pattern(mapping)
    out: dict[str, pd.DataFrame] = {}
    for name, df in frames.items():
        if df is None:
            out[name] = df
            continue
        new = df.copy()
        for col in new.columns:
            s = new[col]
            if col == "patient_id":
                new[col] = s.astype("object").where(s.isna(), s.astype(str).map(mapping))
            elif s.dtype == object or pd.api.types.is_string_dtype(s):
                new[col] = _replace_column(s, mapping, pattern, col in FREE_TEXT_COLUMNS)
        out[name] = new
    return out
