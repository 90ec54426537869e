"""Write examples/broken/<case>/: small cohorts that each break one rule of the data contract.

Every case starts from the same tiny valid cohort (two patients) and changes one thing; the
validation tests (tests/test_validate.py) read these folders and check the exact message.
Run from the repository root: ``.venv/bin/python examples/make_broken.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent / "broken"

BASE = {
    "patients": """patient_id,diagnosis_date,age_at_diagnosis,sex,heavy_chain,light_chain,iss_stage,cytogenetic_risk,center
P1,2020-01-10,61,F,IgG,kappa,I,standard,A
P2,2020-03-01,57,M,IgA,lambda,II,high,A
""",
    "treatments": """patient_id,phase,regimen,start_date,end_date,end_reason
P1,induction,VRD,2020-02-01,2020-06-01,completed
P1,transplant,melphalan 200,2020-07-01,2020-07-01,completed
P1,maintenance,lenalidomide,2020-10-01,,
P2,induction,VRD,2020-03-15,2020-08-01,completed
P2,maintenance,lenalidomide,2020-11-01,,
""",
    "labs": """patient_id,date,test,value,unit
P1,2020-01-20,serum_m_protein,3.0,g/dL
P1,2020-01-20,flc_kappa,150,mg/L
P1,2020-01-20,flc_lambda,10,mg/L
P1,2020-05-01,serum_m_protein,0.5,g/dL
P2,2020-03-05,serum_m_protein,2.0,g/dL
P2,2020-06-01,serum_m_protein,0.8,g/dL
""",
    "mrd": """patient_id,date,method,lod,result,level,cells_analyzed
P1,2020-09-20,NGS,1e-6,detected,1e-4,1000000
P2,2021-01-10,MFC,1e-4,not_detected,,500000
""",
    "events": """patient_id,date,event,detail
P1,2021-06-01,last_contact,
P2,2021-05-01,death,myeloma
""",
}


def _edit(table: str, old: str, new: str):
    def f(files: dict) -> None:
        assert old in files[table], (table, old)
        files[table] = files[table].replace(old, new, 1)
    return f


def _append(table: str, line: str):
    def f(files: dict) -> None:
        files[table] += line + "\n"
    return f


def _drop(table: str):
    def f(files: dict) -> None:
        del files[table]
    return f


def _raw(table: str, data: bytes):
    def f(files: dict) -> None:
        files[table] = data
    return f


#: case -> edit of the base cohort (tests/test_validate.py holds the expected messages)
CASES = {
    "missing_file": _drop("events"),
    "missing_column": _raw("mrd", b"patient_id,date,method,result\nP1,2020-09-20,NGS,not_detected\n"),
    "not_a_number": _edit("labs", "P1,2020-05-01,serum_m_protein,0.5", "P1,2020-05-01,serum_m_protein,abc"),
    "unknown_category": _edit("mrd", "P2,2021-01-10,MFC", "P2,2021-01-10,PCR"),
    "unknown_test": _edit("labs", "P2,2020-06-01,serum_m_protein", "P2,2020-06-01,ldh"),
    "unknown_unit": _edit("labs", "P2,2020-06-01,serum_m_protein,0.8,g/dL", "P2,2020-06-01,serum_m_protein,0.8,mmol/L"),
    "missing_unit": _edit("labs", "P2,2020-06-01,serum_m_protein,0.8,g/dL", "P2,2020-06-01,serum_m_protein,0.8,"),
    "out_of_range": _edit("mrd", "P2,2021-01-10,MFC,1e-4", "P2,2021-01-10,MFC,0.05"),
    "negative_lab": _edit("labs", "P1,2020-05-01,serum_m_protein,0.5", "P1,2020-05-01,serum_m_protein,-0.5"),
    "impossible_date": _edit("patients", "P2,2020-03-01", "P2,2021-02-30"),
    "unparseable_date": _edit("events", "P1,2021-06-01", "P1,June 2021"),
    "orphan_patient": _append("labs", "P9,2020-06-01,serum_m_protein,1.0,g/dL"),
    "duplicate_patient": _append("patients", "P1,2020-01-12,61,F,IgG,kappa,I,standard,A"),
    "conflicting_lab": _append("labs", "P1,2020-05-01,serum_m_protein,0.7,g/dL"),
    "exact_duplicate": _append("labs", "P1,2020-05-01,serum_m_protein,0.5,g/dL"),
    "detected_without_level": _edit("mrd", "detected,1e-4,", "detected,,"),
    "end_before_start": _edit("treatments", "P2,induction,VRD,2020-03-15,2020-08-01",
                              "P2,induction,VRD,2020-03-15,2020-02-01"),
    "after_death": _append("events", "P2,2021-07-01,last_contact,"),
    "before_diagnosis": _append("labs", "P2,2019-06-01,serum_m_protein,2.2,g/dL"),
    "light_chain_missing": _edit("patients", "IgG,kappa,I", "IgG,,I"),
    "two_maintenance": _append("treatments", "P1,maintenance,lenalidomide+daratumumab,2021-01-01,,"),
    "missing_required_value": _edit("events", "P1,2021-06-01,last_contact", "P1,2021-06-01,"),
    "semicolon_delimiter": _raw("patients", b"patient_id;diagnosis_date\nP1;2020-01-10\nP2;2020-03-01\n"),
    "binary_junk": _raw("mrd", bytes(range(256)) * 4),
    "empty_file": _raw("events", b""),
    "not_utf8": _raw("patients", "patient_id,diagnosis_date,center\nP1,2020-01-10,Hôpital\nP2,2020-03-01,A\n"
                     .encode("latin-1")),
    "ragged_line": _edit("labs", "P1,2020-01-20,flc_kappa,150,mg/L", "P1,2020-01-20,flc_kappa,150,mg/L,extra"),
    "huge_field": _edit("events", "myeloma", "x" * 100_000),
}


def build(root: Path = HERE) -> None:
    if root.exists():
        shutil.rmtree(root)
    for case, edit in CASES.items():
        files = dict(BASE)
        edit(files)
        folder = root / case
        folder.mkdir(parents=True)
        for table, content in files.items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            (folder / f"{table}.csv").write_bytes(data)


if __name__ == "__main__":
    build()
    print(f"{len(CASES)} broken cohorts in {HERE}")
