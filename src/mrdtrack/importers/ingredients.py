"""The ingredients named in a drug's name or display text (phases-from-drugs rules, "Inputs",
docs/phases-from-drugs.md): case-insensitive whole-word match of the ingredient names, the longest
matching name winning, one row per ingredient of a multi-ingredient product. One regular expression
runs over the whole series (no Python loop per record)."""

from __future__ import annotations

import re

import pandas as pd

from mrdtrack.importers.phase_rules import PhaseRules


def ingredient_pattern(rules: PhaseRules) -> str:
    """One alternation of all known names, longest first, each a whole word (spaces match any run
    of white space or a hyphen, so "melphalan-flufenamide" and "melphalan  flufenamide" match)."""
    names = sorted(set(rules.known_ingredients()), key=lambda s: (-len(s), s))
    alts = [r"[\s\-]+".join(re.escape(w) for w in n.split()) for n in names]
    return r"(?<![\w])(" + "|".join(alts) + r")(?![\w])"


def _none(texts: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"index_of_text": pd.Series([], dtype=texts.index.dtype),
                         "ingredient": pd.Series([], dtype=object)})


def ingredients_in_text(texts: pd.Series, rules: PhaseRules) -> pd.DataFrame:
    """Rows ``index_of_text`` (the label of the text in ``texts``) and ``ingredient`` (canonical lower-case
    name), one per distinct ingredient named in each text, in order of first mention.

    Because the alternation lists longer names first and a match consumes its words,
    "melphalan flufenamide" yields only ``melphalan flufenamide``, never also ``melphalan``.
    """
    if len(texts) == 0:
        return _none(texts)
    found = texts.astype("string").str.lower().str.extractall(ingredient_pattern(rules))
    if found.empty:
        return _none(texts)
    out = pd.DataFrame({"index_of_text": found.index.get_level_values(0),
                        "ingredient": found[0].str.replace(r"[\s\-]+", " ", regex=True).astype(object).to_numpy()})
    return out.drop_duplicates(["index_of_text", "ingredient"]).reset_index(drop=True)
