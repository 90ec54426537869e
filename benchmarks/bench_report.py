"""Time the study report of a 139-patient simulated cohort, end to end (target: under 2.5 s, round two).

Usage: .venv/bin/python benchmarks/bench_report.py [--n 139] [--seed 2020] [--repeat 3] [--keep DIR]

1. ``mrdtrack simulate --n N --seed S --out COHORT`` (not timed);
2. ``mrdtrack report COHORT --out DIR`` as a fresh process, ``--repeat`` times (timed: interpreter
   start, imports, reading, validation, analysis, figures, tables, HTML);
3. in one process, the split between ``run_analyze`` (read, validate, derive, statistics, CSVs) and
   ``write_report`` (figures, tables, HTML).
Prints one JSON object; exits 1 when the best end-to-end time misses the target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.5
MRDTRACK = str(Path(sys.executable).parent / "mrdtrack")


def _run(args: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([MRDTRACK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mrdtrack {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return time.perf_counter() - t0


def in_process_split(cohort: Path, out: Path) -> dict:
    """Seconds spent analysing and seconds spent writing the report, in one warm process."""
    from mrdtrack.commands.analyze import run_analyze
    from mrdtrack.report import write_report

    t0 = time.perf_counter()
    analysis = run_analyze(cohort, out)
    t1 = time.perf_counter()
    write_report(analysis, out, cohort.name)
    t2 = time.perf_counter()
    return {"analyze_s": round(t1 - t0, 3), "write_report_s": round(t2 - t1, 3),
            "patients": int(len(analysis.patients)), "mrd_samples": int(len(analysis.mrd)),
            "figures": len(list((out / "figures").glob("*.svg")))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=139)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="keep the cohort and outputs in this folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        cohort = root / "cohort"
        _run(["simulate", "--n", str(args.n), "--seed", str(args.seed), "--out", str(cohort)])
        runs = [_run(["report", str(cohort), "--out", str(root / f"report-{i}")]) for i in range(args.repeat)]
        split = in_process_split(cohort, root / "report-split")
    best = min(runs)
    result = {"benchmark": "report_end_to_end", "n": args.n, "seed": args.seed,
              "runs_s": [round(r, 3) for r in runs], "best_s": round(best, 3),
              "median_s": round(statistics.median(runs), 3), "target_s": TARGET_SECONDS,
              "meets_target": best < TARGET_SECONDS, **split}
    print(json.dumps(result, indent=2))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
