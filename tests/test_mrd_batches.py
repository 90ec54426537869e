"""Whole patients are the unit of work: results do not depend on the batch or on row order."""

import numpy as np
import pandas as pd

from builders import make_cohort
from mrd_vignettes import anchors_of
from mrdtrack.config import Config
from mrdtrack.mrd import derive_mrd


def _random_cohort(n, seed):
    rng = np.random.default_rng(seed)
    pids = [f"P{i:03d}" for i in range(n)]
    treatments, mrd, imaging, events = [], [], [], []
    for i, p in enumerate(pids):
        ms = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 200)))
        treatments.append((p, "induction", "VRD", "2019-02-01", "2019-08-01"))
        treatments.append((p, "maintenance", "R", ms.strftime("%Y-%m-%d"), None))
        a, b = rng.normal(-3.5, 1.0), rng.normal(-0.5, 0.6)
        for j in range(int(rng.integers(0, 6))):
            d = ms + pd.Timedelta(days=int(j * 300 - 40 + rng.integers(-30, 30)))
            lod = float(rng.choice([1e-6, 1e-5, 1e-4]))
            y = a + b * j + rng.normal(0, 0.25)
            det = y > np.log10(lod)
            method = {1e-6: "NGS", 1e-5: "NGF", 1e-4: "MFC"}[lod]
            mrd.append((p, d.strftime("%Y-%m-%d"), method, lod, "detected" if det else "not_detected",
                        10 ** min(y, 0) if det else None))
        if i % 3 == 0:
            imaging.append((p, (ms + pd.Timedelta(days=200)).strftime("%Y-%m-%d"), "PET-CT",
                            "negative" if i % 2 else "positive"))
        events.append((p, "2025-01-01", "last_contact"))
    patients = [(p, "2019-01-01") for p in pids]
    return patients, treatments, mrd, imaging, events


def test_batches_and_row_order_give_the_same_result():
    patients, treatments, mrd, imaging, events = _random_cohort(120, 11)
    prog = {"P005": "2021-03-01", "P017": "2020-09-01"}
    full = make_cohort(patients, treatments, mrd=mrd, imaging=imaging, events=events)
    s_all, p_all, i_all = derive_mrd(full, anchors_of(full, prog), Config())
    assert p_all["mrd_log10_slope_per_year"].notna().sum() > 10
    perm = np.random.default_rng(5).permutation(len(mrd))
    shuffled = make_cohort(patients[::-1], treatments[::-1], mrd=[mrd[k] for k in perm], imaging=imaging[::-1],
                           events=events, data_cut=full.data_cut)
    s_sh, p_sh, _ = derive_mrd(shuffled, anchors_of(shuffled, prog), Config())
    key = ["patient_id"]
    pd.testing.assert_frame_equal(p_sh.sort_values(key).reset_index(drop=True), p_all)
    pd.testing.assert_frame_equal(s_sh, s_all)
    parts = []
    for half in (full.subset(full.patient_ids[:50]), full.subset(full.patient_ids[50:])):
        parts.append(derive_mrd(half, anchors_of(half, prog), Config())[1])
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), p_all)
