"""Scale and speed benchmark of mrdtrack (issue 8); results in docs/performance.md.

    .venv/bin/python benchmarks/run.py --sizes 1000,10000,100000 [--million] [--stages ...]

For each size: simulate a cohort (scenario ``registry``: about 180 lab rows per patient), shuffle
the rows of every table (real exports are unsorted) and write it as Parquet; then ``validate``
(read_cohort, in memory) and ``analyze`` (what ``mrdtrack analyze --jobs 2`` runs: in memory
below 2,000,000 input rows, else the partitioned path), each in its own process, recording wall
time, peak RSS (``os.wait4`` rusage of that process) and rows/s; at 100,000 patients and above
``report`` (``mrdtrack report --jobs 2``: the analysis, partitioned there, then the study report); ``--stages`` adds the in-memory
analyze and the derivation alone (``derive``). On the 10,000 cohort, the naive
per-patient loop (derive_all with batch_size=1 on a random sample, extrapolated linearly) against
the batched derivation. ``--million`` adds 1,000,000 patients (about 180M lab rows), made by ``mrdtrack simulate --scenario
registry --format parquet`` (which streams chunks of patients to its files; rows sorted by patient, not
shuffled). Once per run, round two's stages: ``startup`` (``mrdtrack --help`` and ``mrdtrack validate
--help``, 10 fresh processes each) and ``report_demo`` (``mrdtrack report`` of the 139-patient demo
cohort in fresh processes: default, ``--jobs 1``, ``--png``). Each result is appended as one JSON line to
benchmarks/results/results.jsonl and the tables in docs/performance.md are regenerated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from render import RESULTS, machine_info, render_doc  # noqa: E402

from mrdtrack.commands.common import DEFAULT_BATCH_SIZE  # noqa: E402  (the command's default)

STAGES_PY = HERE / "stages.py"
REPORT_MIN_SIZE = 100_000  # the `report` stage runs at this size and above (issue 15's target size)


def run_stage(stage: str, **kwargs) -> dict:
    """Run one stage in a fresh process: its own result, plus wall time and that process's peak RSS.

    A failed stage gives ``{"error": last line of its stderr}`` (the run goes on with the next one).
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen([sys.executable, str(STAGES_PY), stage, json.dumps(kwargs)], stdout=subprocess.PIPE,
                                stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        measured = {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024,
                    "cpu_s": usage.ru_utime + usage.ru_stime}  # with its waited-for worker processes
        if proc.returncode != 0:
            err.seek(0)
            lines = [ln for ln in err.read().splitlines() if ln.strip()]
            return {**measured, "error": f"exit {proc.returncode}: {lines[-1] if lines else ''}"[:300], "detail": {}}
    return {**measured, "detail": json.loads(out.strip().splitlines()[-1])}


class Recorder:
    """Appends one JSON line per measured stage and regenerates docs/performance.md."""

    def __init__(self, results: Path, doc: Path, scenario: str):
        self.results, self.doc, self.scenario = results, doc, scenario
        self.run_id = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.machine = machine_info()

    def add(self, size: int, stage: str, measured: dict, rows: dict | None) -> dict:
        rows = rows or {}
        rows_in = sum(rows.values()) if rows else None
        rec = {"run_id": self.run_id, "machine": self.machine, "size": size, "stage": stage, "scenario": self.scenario,
               "lab_rows": rows.get("labs"), "rows_in": rows_in, **measured}
        if rows_in and stage in ("validate", "analyze", "analyze_in_memory", "analyze_spark") \
                and "error" not in measured:
            rec["rows_per_s"] = rows_in / measured["wall_s"]
            rec["ms_per_patient"] = 1000 * measured["wall_s"] / size
        self.results.parent.mkdir(parents=True, exist_ok=True)
        with self.results.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        if self.doc:
            render_doc(self.results, self.doc)
        print(f"{size:>9,} {stage:<12} wall {measured['wall_s']:8.1f} s  peak RSS {measured['peak_rss_mb']:8.0f} MB"
              + (f"  FAILED {measured['error']}" if "error" in measured else ""), flush=True)
        return rec


def run_fhir(rec: Recorder, n: int, args, work: Path, out: Path) -> None:
    """The cohort as a FHIR R4 Bulk Data export (docs/fhir.md): written, parsers compared on its
    lines, the import alone, then ``mrdtrack analyze EXPORT`` (parse through analyze)."""
    bulk = work / f"fhir-{n}"
    shutil.rmtree(bulk, ignore_errors=True)
    export = run_stage("fhir_export", n=n, seed=args.seed, out=str(bulk), scenario=args.scenario)
    rec.add(n, "fhir_export", export, None)
    if "error" not in export:
        rec.add(n, "fhir_parsers", run_stage("fhir_parsers", cohort=str(bulk)), None)
        rec.add(n, "fhir_import", run_stage("fhir_import", cohort=str(bulk)), None)
        rec.add(n, "analyze_fhir", run_stage("analyze_omop", source=str(bulk), out=str(out) + "-fhir", jobs=args.jobs,
                                             batch_size=DEFAULT_BATCH_SIZE), None)
    if not args.keep:
        for d in (bulk, Path(str(out) + "-fhir")):
            shutil.rmtree(d, ignore_errors=True)


def run_omop(rec: Recorder, n: int, args, work: Path, cohort: Path, out: Path, rows: dict | None) -> None:
    """The same cohort as an OMOP DuckDB file through ``analyze`` (docs/omop.md "Large sources"),
    then the Parquet contract folder analysed again right after it (``analyze_beside_omop``), so
    the two are compared under the same load of the shared machine."""
    cdm = work / f"cdm-{n}.duckdb"
    rec.add(n, "omop_write", run_stage("omop_write", cohort=str(cohort), out=str(cdm)), rows)
    rec.add(n, "analyze_omop", run_stage("analyze_omop", source=str(cdm), out=str(out) + "-omop", jobs=args.jobs,
                                         batch_size=DEFAULT_BATCH_SIZE), rows)
    rec.add(n, "analyze_beside_omop", run_stage("analyze", cohort=str(cohort), out=str(out) + "-beside",
                                                jobs=args.jobs, batch_size=DEFAULT_BATCH_SIZE), rows)
    if not args.keep:
        cdm.unlink(missing_ok=True)
        for d in ("-omop", "-beside"):
            shutil.rmtree(str(out) + d, ignore_errors=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000", help="patients per cohort, comma-separated")
    ap.add_argument("--million", action="store_true", help="also 1,000,000 patients (simulated in chunks)")
    ap.add_argument("--big-n", type=int, default=1_000_000, help="patients of the --million run (a smaller check)")
    ap.add_argument("--scenario", default="registry", help="simulator scenario (registry: about 180 lab rows/patient)")
    ap.add_argument("--seed", type=int, default=20200521)
    ap.add_argument("--jobs", type=int, default=2, help="processes for analyze (default 2, this machine's cores)")
    ap.add_argument("--stages", default="validate,analyze,report,omop,fhir,simulate_cli,naive,startup,report_demo",
                    help="after simulate, which of validate, analyze, analyze_in_memory (100,000 and above), "
                         "analyze_spark (--engine spark on local[JOBS], pip install 'mrdtrack[spark]'), "
                         "report (mrdtrack report, 100,000 and above), derive, cox (Cox + PH test + KM on n rows), simulate_cli (mrdtrack simulate, default scenario, CSV), "
                         "naive (at --naive-size), omop (the cohort as an OMOP DuckDB file through analyze), "
                         "fhir (at --fhir-size: the cohort as a FHIR Bulk export; parsers compared, import alone, "
                         "parse through analyze), startup and report_demo (once per run)")
    ap.add_argument("--fhir-size", type=int, default=10_000)
    ap.add_argument("--naive-size", type=int, default=10_000)
    ap.add_argument("--naive-sample", type=int, default=500)
    ap.add_argument("--work", default=os.environ.get("TMPDIR", "/tmp") + "/mrdtrack-bench", help="scratch folder")
    ap.add_argument("--keep", action="store_true", help="keep the simulated cohorts and outputs")
    ap.add_argument("--render-only", action="store_true", help="only regenerate docs/performance.md")
    ap.add_argument("--results", default=None, help="append the results to this JSON-lines file instead of "
                    "benchmarks/results/results.jsonl (docs/performance.md is then left alone)")
    args = ap.parse_args(argv)
    doc = HERE.parent / "docs" / "performance.md"
    if args.render_only:
        render_doc(RESULTS, doc)
        return
    rec = Recorder(Path(args.results) if args.results else RESULTS, None if args.results else doc, args.scenario)
    stages = {s.strip() for s in args.stages.split(",")}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if "startup" in stages:
        rec.add(0, "startup", run_stage("startup", runs=10), None)
    if "report_demo" in stages:
        rec.add(139, "report_demo", run_stage("report_demo", runs=3), None)
    for n in [int(s) for s in args.sizes.split(",") if s.strip()]:
        cohort, out = work / f"cohort-{n}", work / f"out-{n}"
        shutil.rmtree(cohort, ignore_errors=True)
        sim = run_stage("simulate", n=n, seed=args.seed, out=str(cohort), scenario=args.scenario)
        rows = sim["detail"].get("rows")
        rec.add(n, "simulate", sim, rows)
        if "error" in sim:
            continue
        if "validate" in stages:
            rec.add(n, "validate", run_stage("validate", cohort=str(cohort)), rows)
        if "analyze" in stages:
            rec.add(n, "analyze", run_stage("analyze", cohort=str(cohort), out=str(out), jobs=args.jobs,
                                            batch_size=DEFAULT_BATCH_SIZE), rows)
        if "report" in stages and n >= REPORT_MIN_SIZE:  # issue 15: the report at 100,000 in < 90 s, < 6 GB
            rec.add(n, "report", run_stage("report", cohort=str(cohort), out=str(out) + "-report", jobs=args.jobs,
                                           batch_size=DEFAULT_BATCH_SIZE), rows)
            shutil.rmtree(str(out) + "-report", ignore_errors=True)
        if "analyze_in_memory" in stages and n >= 100_000:
            rec.add(n, "analyze_in_memory", run_stage("analyze", cohort=str(cohort), out=str(out) + "-mem",
                                                      jobs=args.jobs, batch_size=DEFAULT_BATCH_SIZE, partitions=0), rows)
        if "analyze_spark" in stages:
            rec.add(n, "analyze_spark", run_stage("analyze_spark", cohort=str(cohort), out=str(out) + "-spark",
                                                  master=f"local[{args.jobs}]", batch_size=DEFAULT_BATCH_SIZE), rows)
            shutil.rmtree(str(out) + "-spark", ignore_errors=True)
        if "derive" in stages:
            rec.add(n, "derive", run_stage("derive", cohort=str(cohort), batch_size=DEFAULT_BATCH_SIZE), rows)
        if "omop" in stages:
            run_omop(rec, n, args, work, cohort, out, rows)
        if "fhir" in stages and n == args.fhir_size:
            run_fhir(rec, n, args, work, out)
        if "simulate_cli" in stages:
            rec.add(n, "simulate_cli", run_stage("simulate_cli", n=n, seed=args.seed, out=str(cohort) + "-cli"),
                    None)
            shutil.rmtree(str(cohort) + "-cli", ignore_errors=True)
        if "cox" in stages:
            rec.add(n, "cox", run_stage("cox", n=n, seed=args.seed), None)
        if "naive" in stages and n == args.naive_size:
            rec.add(n, "naive", run_stage("naive", cohort=str(cohort), sample=args.naive_sample, seed=args.seed), rows)
        if not args.keep:
            for d in (cohort, out, Path(str(out) + "-mem")):
                shutil.rmtree(d, ignore_errors=True)
    if args.million:
        n = args.big_n
        cohort, out = work / f"cohort-{n}", work / f"out-{n}"
        shutil.rmtree(cohort, ignore_errors=True)
        sim = run_stage("simulate_cli", n=n, seed=args.seed, out=str(cohort), fmt="parquet", scenario=args.scenario)
        rows = sim["detail"].get("rows")
        rec.add(n, "simulate_cli", sim, rows)
        if "error" not in sim:
            rec.add(n, "analyze", run_stage("analyze", cohort=str(cohort), out=str(out), jobs=args.jobs,
                                            batch_size=DEFAULT_BATCH_SIZE), rows)
        if not args.keep:
            for d in (cohort, out):
                shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
