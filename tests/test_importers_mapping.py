"""The mapping: defaults, per-key override from TOML/YAML, clear errors, the generated page."""

from pathlib import Path

import pytest

from mrdtrack.errors import UserError
from mrdtrack.importers.mapping import DEFAULT_MAPPING, Selector, load_mapping, mapping_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_default_mapping_selects_by_loinc():
    assert DEFAULT_MAPPING.labs["serum_m_protein"] == Selector(loinc=("33358-3", "51435-6"))
    assert DEFAULT_MAPPING.mrd["MFC"].loinc == ("93021-4",)
    assert all(not s.concept_id for s in DEFAULT_MAPPING.labs.values())  # never hard-coded concept ids


def test_load_mapping_none_is_default():
    assert load_mapping(None) is DEFAULT_MAPPING


def test_toml_replaces_one_key_and_keeps_the_others(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[labs]\nserum_m_protein = { concept_id = [3001], source_value = ["SPEP"] }\n'
                 '[mrd]\nNGS = { source_value = ["CLONOSEQ_MRD"], scale = "fraction", lod = 1e-6 }\n'
                 '[phases]\ntransplant = { concept_id = [4000] }\n')
    m = load_mapping(f)
    assert m.labs["serum_m_protein"] == Selector(concept_id=(3001,), source_value=("SPEP",))
    assert m.labs["flc_kappa"] == DEFAULT_MAPPING.labs["flc_kappa"]
    assert m.mrd["NGS"].lod == 1e-6 and m.mrd["NGS"].scale == "fraction"
    assert m.transplant.concept_id == (4000,)


def test_yaml_patient_attribute_from_observation(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("patients:\n  heavy_chain: {source_value: [MM_HEAVY_CHAIN], table: observation}\n")
    assert load_mapping(f).patients["heavy_chain"].source_value == ("MM_HEAVY_CHAIN",)


@pytest.mark.parametrize("text, words", [
    ("[labs]\nserum_mprotein = { loinc = ['1'] }\n", "unknown key 'serum_mprotein'"),
    ("[labz]\n", "unknown table"),
    ("[labs]\nserum_m_protein = { loinc = ['1'], colour = 'red' }\n", "unknown selector field"),
    ("[mrd]\nNGS = { source_value = ['x'], scale = 'ppm' }\n", "scale must be"),
    ("[mrd]\nNGS = { source_value = ['x'], lod = 0.5 }\n", "lod must be"),
    ("[labs]\nserum_m_protein = { concept_id = ['abc'] }\n", "whole numbers"),
    ("[labs\n", "not valid TOML"),
])
def test_bad_mapping_files_are_user_errors(tmp_path, text, words):
    f = tmp_path / "m.toml"
    f.write_text(text)
    with pytest.raises(UserError, match=words.replace("(", r"\(").replace("[", r"\[")):
        load_mapping(f)


def test_mapping_page_matches_the_code():
    assert (ROOT / "docs" / "mapping.md").read_text(encoding="utf-8") == mapping_markdown()
