"""Benchmark stages, each run in its own process by ``benchmarks/run.py`` (wall time and peak RSS
are measured from outside). Usage: ``python benchmarks/stages.py STAGE JSON_ARGS``; the stage
prints one JSON object (its own measurements) as the last line of stdout.

Stages: ``simulate`` (simulate, shuffle every table, write Parquet), ``simulate_cli`` (what
``mrdtrack simulate`` runs, chunk by chunk: default scenario and CSV, or the 1,000,000-patient registry
cohort as Parquet), ``startup`` (``mrdtrack --help``, ``mrdtrack validate --help``), ``report_demo``
(``mrdtrack report`` of the demo cohort, fresh processes), ``validate`` (read_cohort), ``analyze``
(what ``mrdtrack analyze`` runs: in memory for a small cohort, else the partitioned path),
``analyze_spark`` (the same with ``--engine spark`` on ``local[2]``), ``derive`` (derive_all alone, the cohort read
beforehand), ``cox`` (Cox + PH test + KM on n rows), ``naive`` (the per-patient loop on a
random sample, beside the batched derivation).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mrdtrack.commands.common import DEFAULT_BATCH_SIZE


def _shuffled(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Every table's rows in random order (real exports are unsorted)."""
    rng = np.random.default_rng(seed)
    return {name: df.iloc[rng.permutation(len(df))].reset_index(drop=True) for name, df in tables.items()}


def _simulated_tables(n: int, seed: int, scenario: str) -> dict[str, pd.DataFrame]:
    from mrdtrack.simulate import simulate_cohort

    tables = dict(simulate_cohort(n=n, seed=seed, scenario=scenario).tables)
    # a Parquet column has one type: lab values (numbers and words) as text, as `mrdtrack simulate` writes them
    tables["labs"] = tables["labs"].assign(value=tables["labs"]["value"].astype(str))
    return tables


def simulate(n: int, seed: int, out: str, scenario: str = "registry") -> dict:
    from mrdtrack.io.write import write_tables

    t0 = time.perf_counter()
    tables = _simulated_tables(n, seed, scenario)
    t1 = time.perf_counter()
    write_tables(_shuffled(tables, seed), out, "parquet")
    t2 = time.perf_counter()
    return {"simulate_s": t1 - t0, "shuffle_write_s": t2 - t1, "rows": {k: len(v) for k, v in tables.items()}}


def simulate_cli(n: int, seed: int, out: str, fmt: str = "csv", scenario: str = "default") -> dict:
    """What ``mrdtrack simulate --n N --seed S --out OUT [--scenario SC] [--format parquet]`` runs: patients
    simulated and written in chunks (the 1,000,000-patient cohort of ``run.py --million`` is made this way)."""
    from mrdtrack.commands.simulate import write_simulated_cohort

    t0 = time.perf_counter()
    paths = write_simulated_cohort(n, seed, out, scenario, fmt)
    work = time.perf_counter() - t0
    rows = None
    if fmt == "parquet":  # row counts from the footers (not timed)
        import pyarrow.parquet as pq

        rows = {Path(p).stem: pq.ParquetFile(p).metadata.num_rows for p in paths}
    return {"work_s": work, "format": fmt, "scenario": scenario, "rows": rows}


def _timed_cli(argv: list[str]) -> dict:
    """``python -m mrdtrack.cli ARGV`` in a fresh process: wall, CPU (user + system) and peak RSS. The
    package's bytecode is compiled first, as an installed package has it (PYTHONDONTWRITEBYTECODE would
    otherwise make every run compile mrdtrack's modules again)."""
    import compileall
    import os
    import subprocess

    import mrdtrack

    compileall.compile_dir(str(Path(mrdtrack.__file__).parent), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mrdtrack.cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"mrdtrack {' '.join(argv)} failed")
    return {"wall_s": time.perf_counter() - t0, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def _medians(runs: list[dict]) -> dict:
    import statistics

    return {f"median_{k}": statistics.median(r[k] for r in runs) for k in runs[0]} | {
        "min_wall_s": min(r["wall_s"] for r in runs), "runs": len(runs)}


def startup(runs: int = 10) -> dict:
    """``mrdtrack --help`` and ``mrdtrack validate --help``, each ``runs`` times in a fresh process
    (target: under 0.3 s): medians of wall and CPU time."""
    return {name: _medians([_timed_cli(argv) for _ in range(runs)])
            for name, argv in (("help", ["--help"]), ("validate_help", ["validate", "--help"]))}


def report_demo(runs: int = 3) -> dict:
    """``mrdtrack report`` of the 139-patient demo cohort (``mrdtrack simulate --n 139 --seed 2020``,
    ``--profile alonso2020``) in a fresh process (target: under 2.5 s): the default (SVG, figures drawn
    in one worker process per core), ``--jobs 1`` and ``--png``; medians of ``runs`` runs each."""
    import tempfile

    from mrdtrack.commands.simulate import write_simulated_cohort

    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(tmp) / "demo-cohort"
        write_simulated_cohort(139, 2020, cohort)
        base = ["report", str(cohort), "--out", str(Path(tmp) / "r"), "--profile", "alonso2020"]
        return {name: _medians([_timed_cli(base + extra) for _ in range(runs)])
                for name, extra in (("default", []), ("jobs_1", ["--jobs", "1"]), ("png", ["--png"]))}


def validate(cohort: str) -> dict:
    """What ``mrdtrack validate COHORT`` runs with default options (round two: the executor the
    cohort's size picks, partitioned at registry size, ``--jobs`` = the cores)."""
    from mrdtrack.config import Config
    from mrdtrack.executors import choose_executor
    from mrdtrack.executors.base import RunOptions
    from mrdtrack.processes import default_jobs

    t0 = time.perf_counter()
    executor = choose_executor(cohort)
    issues, counts = executor.validate(cohort, Config(), RunOptions(jobs=default_jobs()))
    return {"work_s": time.perf_counter() - t0, "errors": int((issues["severity"] == "error").sum()),
            "rows_in": sum(v["rows_in"] for v in counts.values() if isinstance(v, dict)),
            "patients": counts.get("patients_in"), "executor": executor.name, "jobs": default_jobs(),
            "buckets": getattr(executor, "buckets", 0)}


def analyze(cohort: str, out: str, jobs: int, batch_size: int, partitions: int | None = None) -> dict:
    """``mrdtrack analyze COHORT --out OUT --jobs J [--partitions P]``: what the command runs,
    the partitioned path when the cohort is large (or ``partitions`` > 0), else in memory."""
    from mrdtrack.commands.analyze import run_analyze, run_analyze_partitioned
    from mrdtrack.executors.partitioned import auto_buckets

    t0 = time.perf_counter()
    buckets = auto_buckets(cohort) if partitions is None else partitions
    if buckets:
        run = run_analyze_partitioned(Path(cohort), Path(out), buckets, jobs=jobs, batch_size=batch_size)
        n, timings = run.patients, run.timings
    else:
        n, timings = len(run_analyze(Path(cohort), Path(out), jobs=jobs, batch_size=batch_size).patients), {}
    return {"work_s": time.perf_counter() - t0, "patients": n, "jobs": jobs, "batch_size": batch_size,
            "buckets": buckets, "timings": timings}


def report(cohort: str, out: str, jobs: int, batch_size: int = DEFAULT_BATCH_SIZE, partitions: int | None = None) -> dict:
    """``mrdtrack report COHORT --out OUT --jobs J``: ``run_report`` as the command runs it (the analysis
    partitioned when the cohort is large, then the study report); the report's own part
    (``write_report``: figures, tables, page) timed apart."""
    import mrdtrack.report.html as html
    from mrdtrack.commands.report import run_report

    spent = {}
    write_report = html.write_report

    def timed_write_report(*args, **kwargs):
        t = time.perf_counter()
        try:
            return write_report(*args, **kwargs)
        finally:
            spent["write_report_s"] = time.perf_counter() - t

    html.write_report = timed_write_report
    t0 = time.perf_counter()
    try:
        run_report(Path(cohort), Path(out), jobs=jobs, batch_size=batch_size, partitions=partitions)
    finally:
        html.write_report = write_report
    work = time.perf_counter() - t0
    figures = len(list((Path(out) / "figures").glob("*.svg")))
    return {"work_s": work, "analyze_s": work - spent.get("write_report_s", 0.0), **spent, "jobs": jobs,
            "figures": figures, "report_html_mb": (Path(out) / "report.html").stat().st_size / 1e6}


def _peak_rss_mb(pid: int) -> float | None:
    """A running process's peak resident memory (VmHWM, Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def analyze_spark(cohort: str, out: str, master: str = "local[2]", batch_size: int = DEFAULT_BATCH_SIZE,
                  driver_memory: str = "12g") -> dict:
    """``mrdtrack analyze COHORT --out OUT --engine spark --spark-master MASTER``: the session's
    start, then the analysis; the peak memory of the JVM (the driver and, in local mode, the
    executors) read before the session stops (the Python driver's is measured from outside)."""
    import os
    import sys

    from mrdtrack.commands.analyze import run_analyze
    from mrdtrack.executors.spark_session import SparkOptions, spark_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    t0 = time.perf_counter()
    with spark_session(SparkOptions(master=master, conf={"spark.driver.memory": driver_memory})) as (session, _):
        start = time.perf_counter() - t0
        n = len(run_analyze(Path(cohort), Path(out), batch_size=batch_size, engine="spark",
                            spark=SparkOptions(session=session)).patients)
        jvm = _peak_rss_mb(session.sparkContext._gateway.proc.pid)
    return {"work_s": time.perf_counter() - t0, "start_s": start, "patients": n, "master": master,
            "jvm_peak_mb": jvm, "batch_size": batch_size}


def derive(cohort: str, batch_size: int) -> dict:
    """The per-patient derivations alone (responses, MRD status and kinetics, endpoints:
    ``pipeline.derive_all``, one process), on a cohort read and validated beforehand (not timed);
    then the cohort statistics (KM, log-rank, Cox, landmark, time-varying Cox) on its output."""
    from mrdtrack.config import Config
    from mrdtrack.io.read import read_cohort
    from mrdtrack.pipeline import derive_all

    c = read_cohort(cohort).cohort
    t0 = time.perf_counter()
    d = derive_all(c, Config(), batch_size=batch_size)
    work = time.perf_counter() - t0
    from mrdtrack.outcomes.cohort_statistics import cohort_statistics

    t1 = time.perf_counter()
    cohort_statistics(d.patients, d.mrd_changes, Config())
    stats = time.perf_counter() - t1
    n = len(d.patients)
    return {"derive_s": work, "statistics_s": stats, "patients": n, "assessments": len(d.assessments),
            "assessments_per_patient": len(d.assessments) / max(1, n), "mrd_samples": len(d.mrd),
            "batch_size": batch_size, "jobs": 1}


def naive(cohort: str, sample: int, seed: int) -> dict:
    """The same rules one patient at a time (derive_all with batch_size=1, i.e. a groupby-apply)
    on a random sample, extrapolated linearly; beside the batched derivation of the whole cohort."""
    from mrdtrack.config import Config
    from mrdtrack.io.read import read_cohort
    from mrdtrack.pipeline import derive_all

    config = Config()
    c = read_cohort(cohort).cohort
    ids = c.patients["patient_id"].to_numpy()
    picked = np.random.default_rng(seed).choice(ids, size=min(sample, len(ids)), replace=False)
    sub = c.subset(picked)
    t0 = time.perf_counter()
    per_patient = derive_all(sub, config, batch_size=1)
    t1 = time.perf_counter()
    batched_sample = derive_all(sub, config)
    t2 = time.perf_counter()
    derive_all(c, config)
    t3 = time.perf_counter()
    same = all(getattr(per_patient, n).reset_index(drop=True).equals(getattr(batched_sample, n).reset_index(drop=True))
               for n in ("assessments", "mrd", "patients"))
    naive_s = t1 - t0
    return {"patients": len(ids), "sample": len(picked), "naive_sample_s": naive_s,
            "naive_extrapolated_s": naive_s / len(picked) * len(ids), "batched_sample_s": t2 - t1,
            "batched_full_s": t3 - t2, "speedup": (naive_s / len(picked) * len(ids)) / (t3 - t2),
            "same_results_on_sample": bool(same)}


def cox(n: int, seed: int) -> dict:
    """A Cox model (Efron), its PH test, a counting-process Breslow fit and a grouped KM on ``n``
    rows with three covariates and many ties (the scale check of tests/test_stats_scale.py)."""
    from mrdtrack.stats import cox_fit, cox_zph, km_table

    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 2, n), "c": rng.choice(["x", "y", "z"], n)})
    rate = np.exp(0.3 * d["a"] - 0.5 * d["b"] + 0.2 * (d["c"] == "y"))
    death, censor = rng.exponential(1 / rate), rng.exponential(2.0, n)
    d["time"] = np.ceil(np.minimum(death, censor) * 365)
    d["event"] = (death <= censor).astype(int)
    d["start"] = np.floor(d["time"] * rng.uniform(0, 0.5, n))
    t0 = time.perf_counter()
    fit = cox_fit(d, "time", "event", ["a", "b", "c"])
    cox_zph(fit)
    cox_fit(d, "time", "event", ["a", "b", "c"], start="start", ties="breslow")
    km_table(d, "time", "event", group="c")
    return {"work_s": time.perf_counter() - t0, "rows": n}


def omop_write(cohort: str, out: str) -> dict:
    """The Parquet contract cohort written as one OMOP CDM DuckDB file (the simulator's OMOP writer)."""
    from mrdtrack.importers.omop.write import contract_to_omop, write_duckdb
    from mrdtrack.io.sources import load_cohort_files

    t0 = time.perf_counter()
    tables = {n: t.frame for n, t in load_cohort_files(Path(cohort)).tables.items()}
    omop = contract_to_omop(tables)
    write_duckdb(omop, out)
    return {"work_s": time.perf_counter() - t0, "omop_rows": {k: len(v) for k, v in omop.items()}}


def analyze_omop(source: str, out: str, jobs: int, batch_size: int) -> dict:
    """``mrdtrack analyze SOURCE --out OUT --jobs J`` on an OMOP (``cdm.duckdb``) or FHIR source (a Bulk
    export folder), the import included; the executor as the command chooses it (an OMOP source above
    the size threshold: imported range by range into the partitioned executor's buckets)."""
    from mrdtrack.commands.analyze import run_analyze

    t0 = time.perf_counter()
    n = len(run_analyze(source, Path(out), jobs=jobs, batch_size=batch_size, partitions=None).patients)
    return {"work_s": time.perf_counter() - t0, "patients": n, "jobs": jobs}


def pg_fetch(url: str, schema: str, driver: str) -> dict:
    """Read the measurement table of a PostgreSQL CDM in bulk with one driver (ADBC or psycopg 3
    COPY) into Arrow: the choice of docs/omop.md."""
    sql = f"SELECT * FROM {schema}.measurement"
    t0 = time.perf_counter()
    if driver == "adbc":
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(url) as con, con.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetch_arrow_table().num_rows
    else:
        import io

        import psycopg
        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        with psycopg.connect(url) as con, con.cursor().copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as cp:
            for chunk in cp:
                buf.write(chunk)
        buf.seek(0)
        rows = pacsv.read_csv(buf).num_rows
    return {"work_s": time.perf_counter() - t0, "rows": rows, "driver": driver}


def fhir_export(n: int, seed: int, out: str, scenario: str = "registry") -> dict:
    """A simulated cohort written as a FHIR R4 Bulk Data export by ``mrdtrack simulate --format fhir``'s
    function (simulated and written a chunk of patients at a time)."""
    from mrdtrack.commands.simulate import write_simulated_cohort

    t0 = time.perf_counter()
    paths = write_simulated_cohort(n, seed, out, scenario=scenario, fmt="fhir")
    lines = {p.stem: sum(1 for _ in p.open("rb")) for p in paths if p.suffix == ".ndjson"}
    return {"work_s": time.perf_counter() - t0, "resources": lines, "resources_total": sum(lines.values()),
            "bytes": sum(p.stat().st_size for p in paths)}


def fhir_import(cohort: str) -> dict:
    """The FHIR reader alone: files -> contract tables and import log (``import_cohort``)."""
    from mrdtrack.importers.fhir import convert
    from mrdtrack.importers.fhir.parse import frames, parse_files
    from mrdtrack.importers.fhir.source import find_fhir_files
    from mrdtrack.importers.mapping import load_mapping

    t0 = time.perf_counter()
    parsed = parse_files(find_fhir_files(cohort))
    t1 = time.perf_counter()
    f = frames(parsed)
    t2 = time.perf_counter()
    out = convert.fhir_to_contract(f, dict(parsed.counts), load_mapping(None), None, pd.Timestamp.today().normalize())
    t3 = time.perf_counter()
    return {"work_s": t3 - t0, "parse_s": t1 - t0, "frames_s": t2 - t1, "to_contract_s": t3 - t2,
            "resources": sum(parsed.counts.values()), "rows": {k: len(v) for k, v in out.tables.items()}}


def fhir_parsers(cohort: str, lines: int = 20000) -> dict:
    """Microseconds per resource on the same ndjson lines (Observation, MedicationAdministration):
    json / orjson / msgspec + the reader's extractor, and fhir.resources R4B models (validation only)."""
    import json as std_json

    import orjson

    from mrdtrack.importers.fhir.extract import EXTRACTORS

    try:
        import msgspec
    except ImportError:  # optional: benchmark only
        msgspec = None

    sample = []
    for name in ("Observation.ndjson", "MedicationAdministration.ndjson"):
        with open(Path(cohort) / name, "rb") as f:
            sample += [next(f) for _ in range(lines // 2)]

    def extracted(loads):
        for line in sample:
            r = loads(line)
            EXTRACTORS[r["resourceType"]](r, "x", None)

    out = {}
    readers = [("json", std_json.loads), ("orjson", orjson.loads)] + ([("msgspec", msgspec.json.decode)] if msgspec else [])
    for label, loads in readers:
        t0 = time.perf_counter()
        extracted(loads)
        out[label + "_us"] = 1e6 * (time.perf_counter() - t0) / len(sample)
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        out["fhir_resources_r4b_us"] = None
        return out
    models = {t: get_fhir_model_class(t) for t in ("Observation", "MedicationAdministration")}
    t0 = time.perf_counter()
    for line in sample:
        models[orjson.loads(line)["resourceType"]].model_validate_json(line)
    out["fhir_resources_r4b_us"] = 1e6 * (time.perf_counter() - t0) / len(sample)
    return {**out, "lines": len(sample)}


STAGES = {"cox": cox, "simulate": simulate, "simulate_cli": simulate_cli, "startup": startup, "report_demo": report_demo, "report": report,
          "validate": validate, "analyze": analyze, "naive": naive, "derive": derive, "omop_write": omop_write,
          "analyze_omop": analyze_omop, "pg_fetch": pg_fetch, "fhir_export": fhir_export, "fhir_import": fhir_import,
          "fhir_parsers": fhir_parsers,
          "analyze_spark": analyze_spark}

if __name__ == "__main__":
    result = STAGES[sys.argv[1]](**json.loads(sys.argv[2]))
    print(json.dumps(result), flush=True)
    import gc

    gc.freeze()  # as ``cli.main`` does once a command is done: the exit walks nothing
