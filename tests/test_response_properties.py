"""Property tests of the response engine (hypothesis): monotonicity, confirmation, independence."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builders import make_cohort
from mrdtrack.config import Config
from mrdtrack.response import derive_assessments
from mrdtrack.response.levels import level_codes
from mrdtrack.timeline import patient_anchors

CFG = Config()
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
START = pd.Timestamp("2020-01-10")
# values on coarse grids so that many land exactly on thresholds (1.25 x nadir, nadir + 0.5, 10%...)
SERUM = st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0])
URINE = st.sampled_from([0.0, 50.0, 99.0, 100.0, 150.0, 199.0, 200.0, 250.0, 400.0, 500.0, 800.0, 1000.0])


@st.composite
def patient_labs(draw, pid="A"):
    """Baseline on 2020-01-05 (treatment starts 2020-01-10), then 1-8 assessments 30 days apart."""
    labs = []
    if draw(st.booleans()):
        labs.append((pid, "2020-01-05", "serum_m_protein", draw(SERUM)))
    if draw(st.booleans()):
        labs.append((pid, "2020-01-05", "urine_m_protein", draw(URINE)))
    n = draw(st.integers(1, 8))
    for i in range(n):
        d = str((pd.Timestamp("2020-02-01") + pd.Timedelta(days=30 * i)).date())
        if draw(st.integers(0, 4)):
            labs.append((pid, d, "serum_m_protein", draw(SERUM)))
        if draw(st.booleans()):
            labs.append((pid, d, "urine_m_protein", draw(URINE)))
        ife = draw(st.sampled_from([None, "positive", "negative", "negative"]))
        if ife:
            labs.append((pid, d, "serum_ife", ife))
        if draw(st.integers(0, 5)) == 0:
            labs.append((pid, d, "bm_plasma_cells", draw(st.sampled_from([1.0, 4.0, 5.0, 20.0]))))
        if draw(st.integers(0, 9)) == 0:
            labs.append((pid, d, "new_lesion", "yes"))
    if not any(t[3] is not None for t in labs):
        labs.append((pid, "2020-02-01", "serum_m_protein", 1.0))
    return labs


def run(labs, pids=("A",)):
    c = make_cohort(
        patients=[{"patient_id": p, "diagnosis_date": "2020-01-01", "light_chain": "kappa"} for p in pids],
        treatments=[(p, "induction", "VRD", "2020-01-10", "2020-06-01") for p in pids]
        + [(p, "maintenance", "len", "2020-07-01", None) for p in pids],
        labs=labs, events=[(p, "2022-01-01", "last_contact") for p in pids], data_cut="2022-01-01")
    anchors, _ = patient_anchors(c)
    return derive_assessments(c, anchors, CFG)[0]


# the order of severity on which "never worsens" is stated; NE is not on it
ORDER = {"PD": 0, "SD": 1, "MR": 2, "PR": 3, "VGPR": 4, "CR": 5, "sCR": 6}


@SETTINGS
@given(labs=patient_labs(), which=st.sampled_from(["serum_m_protein", "urine_m_protein"]),
       pick=st.integers(0, 100), factor=st.sampled_from([0.0, 0.5, 0.8, 0.99]))
def test_lowering_m_protein_never_worsens_that_assessment(labs, which, pick, factor):
    """Lowering serum or urine M-protein at one post-baseline assessment k never worsens k's response
    on PD < SD < MR < PR < VGPR < CR < sCR, and leaves every earlier assessment unchanged.

    Why this is the precise statement: the nadir at k uses only pairs that end before k and the
    baseline is dated before the first treatment, so lowering v_k changes neither (it can lower the
    nadir of LATER assessments, which may then meet PD: the property is about k itself). At k, every
    PD criterion is "v_k >= threshold" and every level criterion "v_k <= threshold" (or "<"), so a
    lower v_k can only drop PD and raise a level; CR/sCR do not read the value; NE depends only on
    whether the value is present, and it stays present (a lowered value is still a value). One
    consequence is not a worsening but must be allowed: NE is "no PD criterion met and a followed
    parameter missing (or not measurable)", so lifting a PD can reveal an NE (PD -> NE); NE is not on
    the order, and an NE never turns into anything but NE.
    """
    idx = [i for i, t in enumerate(labs) if t[2] == which and pd.Timestamp(t[1]) > START]
    assume(idx)
    i = idx[pick % len(idx)]
    lowered = list(labs)
    pid, d, test, v = lowered[i]
    lowered[i] = (pid, d, test, v * factor)
    before, after = run(labs), run(lowered)
    k = int(np.flatnonzero(before["date"] == pd.Timestamp(d))[0])
    r0, r1 = before["response"].iloc[k], after["response"].iloc[k]
    if r0 == "NE":
        assert r1 == "NE"
    elif r1 == "NE":
        assert r0 == "PD"
    else:
        assert ORDER[r1] >= ORDER[r0], (r0, r1)
    assert list(before["response"].iloc[:k]) == list(after["response"].iloc[:k])


@SETTINGS
@given(labs=patient_labs())
def test_confirmed_response_never_exceeds_its_two_assessments(labs):
    """A confirmed response is the lower of the two evaluable responses of its pair (section 4)."""
    a = run(labs)
    ev = a[a["evaluable"]].reset_index(drop=True)
    lv = level_codes(ev["response"].to_numpy())
    conf = level_codes(ev["confirmed_response"].to_numpy())
    for j in range(len(ev)):
        if ev["confirmed_response"].iloc[j] is None:
            assert j == 0 or "PD" in (ev["response"].iloc[j], ev["response"].iloc[j - 1])
            continue
        assert j > 0
        assert conf[j] <= lv[j] and conf[j] <= lv[j - 1]
        assert conf[j] == min(lv[j], lv[j - 1])
        assert ev["confirmed_date"].iloc[j] == ev["date"].iloc[j - 1]
    assert a.loc[~a["evaluable"], "confirmed_response"].isna().all()


def _strip(a):
    return a.reset_index(drop=True).astype({"response": object, "confirmed_response": object})


@SETTINGS
@given(labs_a=patient_labs("A"), labs_b=patient_labs("B"), seed=st.integers(0, 2 ** 31 - 1))
def test_independent_of_row_order_and_batch(labs_a, labs_b, seed):
    """The same rows in another order, or the patient alone instead of beside another, give the
    same assessments for that patient."""
    alone = run(labs_a)
    c = make_cohort(
        patients=[{"patient_id": p, "diagnosis_date": "2020-01-01", "light_chain": "kappa"} for p in "AB"],
        treatments=[(p, "induction", "VRD", "2020-01-10", "2020-06-01") for p in "AB"]
        + [(p, "maintenance", "len", "2020-07-01", None) for p in "AB"],
        labs=labs_a + labs_b, events=[(p, "2022-01-01", "last_contact") for p in "AB"], data_cut="2022-01-01")
    rng = np.random.default_rng(seed)
    shuffled = c.labs.iloc[rng.permutation(len(c.labs))]
    c = make_cohort(patients=[{"patient_id": p, "diagnosis_date": "2020-01-01", "light_chain": "kappa"} for p in "BA"],
                    treatments=[(p, "maintenance", "len", "2020-07-01", None) for p in "BA"]
                    + [(p, "induction", "VRD", "2020-01-10", "2020-06-01") for p in "BA"],
                    events=[(p, "2022-01-01", "last_contact") for p in "BA"], data_cut="2022-01-01")
    from dataclasses import replace
    c = replace(c, labs=shuffled)
    anchors, _ = patient_anchors(c)
    both = derive_assessments(c, anchors, CFG)[0]
    got = both[both["patient_id"] == "A"]
    pd.testing.assert_frame_equal(_strip(got), _strip(alone))
    assert both["patient_id"].is_monotonic_increasing
