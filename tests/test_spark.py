"""--engine spark gives the native files byte for byte (docs/spark.md): local[2], a standalone cluster
started here on loopback, broken cohorts with --exclude-invalid, the report; bad input in one line.

Skipped without pyspark or Java, except where MRDTRACK_REQUIRE_SPARK=1 (CI) makes that a failure.
Every Spark process binds to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mrdtrack.commands.analyze import run_analyze
from mrdtrack.errors import InvalidCohort, UserError
from mrdtrack.executors.spark_session import SparkOptions, java_command
from test_partition import EXAMPLE, replicated_cohort
from test_scale import BROKEN, assert_same_outputs, simulated_cohort

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
SESSION_CONF = {"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"}


def _spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'mrdtrack[spark]')"
    try:
        java_command()
    except UserError:
        return "Java is not installed"
    return None


_MISSING = _spark_missing()
if _MISSING and os.environ.get("MRDTRACK_REQUIRE_SPARK") == "1":
    raise RuntimeError(f"MRDTRACK_REQUIRE_SPARK=1 but {_MISSING}")
pytestmark = [pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""), pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local[2] session for the module, bound to loopback, UI off."""
    os.environ.update(LOOPBACK)
    from mrdtrack.executors.spark_session import spark_session

    opts = SparkOptions(master="local[2]", conf=SESSION_CONF, log_file=str(tmp_path_factory.mktemp("log") / "spark.log"))
    with spark_session(opts) as (session, _):
        yield session


def _both(src: Path, tmp: Path, spark, **kw) -> tuple[Path, Path]:
    native, on_spark = tmp / "native", tmp / "spark"
    run_analyze(src, native, partitions=0, **kw)
    run_analyze(src, on_spark, engine="spark", spark=spark, **kw)
    return native, on_spark


def test_simulated_3000_patients_identical_to_native(spark, tmp_path):
    src = simulated_cohort(tmp_path / "c", n=3000, seed=14, fmt="parquet")
    native, on_spark = _both(src, tmp_path, spark)
    assert_same_outputs(native, on_spark)
    assert len(pd.read_csv(on_spark / "patients.csv")) == 3000


@pytest.mark.parametrize("broken", ["orphan_patient", "duplicate_patient", "two_maintenance"])
def test_broken_cohorts_excluded_identically(broken, spark, tmp_path):
    """Global checks (orphan ids, duplicate patients) and the default data cut as on one machine."""
    src = replicated_cohort(tmp_path / "c", copies=3, seed=3, fmt="parquet", src=BROKEN / broken)
    native, on_spark = _both(src, tmp_path, spark, exclude_invalid=True)
    assert_same_outputs(native, on_spark)
    issues = pd.read_csv(on_spark / "issues.csv")
    assert (issues["severity"] == "excluded").sum() >= 3


def test_errors_stop_with_the_native_problem_table(spark, tmp_path):
    from mrdtrack.executors.memory import MemoryExecutor
    from mrdtrack.executors.spark import SparkExecutor

    src = replicated_cohort(tmp_path / "c", copies=3, seed=6, fmt="parquet", src=BROKEN / "unknown_unit")
    with pytest.raises(InvalidCohort) as native:
        run_analyze(src, tmp_path / "n", partitions=0)
    with pytest.raises(InvalidCohort) as on_spark:
        run_analyze(src, tmp_path / "s", engine="spark", spark=spark)
    pd.testing.assert_frame_equal(on_spark.value.issues.astype(str), native.value.issues.astype(str))
    from mrdtrack.config import Config
    from mrdtrack.executors.base import RunOptions

    got = SparkExecutor(spark).validate(src, Config(), RunOptions())
    want = MemoryExecutor().validate(src, Config(), RunOptions())
    pd.testing.assert_frame_equal(got[0].astype(str), want[0].astype(str))
    assert got[1] == want[1]


def test_report_same_content_as_native(spark, tmp_path):
    from mrdtrack.commands.report import run_report

    src = replicated_cohort(tmp_path / "demo", copies=1, fmt="parquet")
    run_report(src, tmp_path / "native", partitions=0)
    run_report(src, tmp_path / "spark", engine="spark", spark=spark)
    assert_same_outputs(tmp_path / "native", tmp_path / "spark")
    assert (tmp_path / "native" / "report.html").read_text() == (tmp_path / "spark" / "report.html").read_text()
    tables = sorted(p.name for p in (tmp_path / "native" / "tables").glob("*.csv"))
    assert tables and tables == sorted(p.name for p in (tmp_path / "spark" / "tables").glob("*.csv"))
    for name in tables:
        assert (tmp_path / "native" / "tables" / name).read_bytes() == (tmp_path / "spark" / "tables" / name).read_bytes()


def test_python_api_takes_a_running_session(spark, tmp_path):
    import mrdtrack

    src = replicated_cohort(tmp_path / "c", copies=2, fmt="parquet")
    native = mrdtrack.analyze(src, out_dir=tmp_path / "native")
    on_spark = mrdtrack.analyze(src, out_dir=tmp_path / "spark", spark=spark)
    assert_same_outputs(tmp_path / "native", tmp_path / "spark")
    pd.testing.assert_frame_equal(on_spark.patients, native.patients)
    assert on_spark.summary == native.summary


def test_csv_cohort_is_refused_with_the_reason(spark, tmp_path):
    with pytest.raises(UserError, match="Parquet tables only.*line"):
        run_analyze(EXAMPLE, tmp_path / "o", engine="spark", spark=spark)


# --- the command line: a real standalone cluster, and what the user must fix ----------------------

def _cli(args: list[str], env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full = {**os.environ, **LOOPBACK, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mrdtrack.cli", *args], capture_output=True, text=True, env=full,
                          timeout=timeout, cwd=ROOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the Spark process exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _spark_class(*args: str, log: Path) -> subprocess.Popen:
    import pyspark

    script = Path(pyspark.__file__).parent / "bin" / "spark-class"
    env = {**os.environ, **LOOPBACK, "PYTHONPATH": str(ROOT / "src"), "SPARK_NO_DAEMONIZE": "1"}
    return subprocess.Popen([str(script), *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_standalone_cluster_on_loopback_gives_the_native_files(tmp_path):
    """A master and one worker from the installed pyspark, both bound to 127.0.0.1."""
    src = replicated_cohort(tmp_path / "c", copies=4, seed=21, fmt="parquet")
    run_analyze(src, tmp_path / "native", partitions=0)
    port = _free_port()
    master = _spark_class("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", str(_free_port()), log=tmp_path / "master.log")
    worker = None
    try:
        _wait_for_port(port, master)
        worker = _spark_class("org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host",
                              "127.0.0.1", "--webui-port", str(_free_port()), "--cores", "2", "--memory", "2g",
                              log=tmp_path / "worker.log")
        res = _cli(["analyze", str(src), "--out", str(tmp_path / "cluster"), "--engine", "spark", "--spark-master",
                    f"spark://127.0.0.1:{port}", "--spark-conf", "spark.driver.host=127.0.0.1",
                    "--spark-conf", "spark.driver.bindAddress=127.0.0.1", "--spark-conf", "spark.executor.memory=1g"])
        assert res.returncode == 0, res.stderr[-3000:]
        assert_same_outputs(tmp_path / "native", tmp_path / "cluster")
        assert "127.0.0.1" in (tmp_path / "worker.log").read_text()
    finally:
        for proc in (worker, master):
            if proc is not None:
                _stop(proc)


def _one_clear_line(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "\tat " not in res.stderr and "at org.apache" not in res.stderr
    for w in words:
        assert w in res.stderr, res.stderr


def test_unreachable_master_is_one_line_exit_2(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=1, fmt="parquet")
    res = _cli(["analyze", str(src), "--out", str(tmp_path / "o"), "--engine", "spark", "--spark-master",
                f"spark://127.0.0.1:{_free_port()}"], timeout=120)
    _one_clear_line(res, "cannot be reached", "--spark-master")


def test_missing_java_is_one_line_exit_2(tmp_path):
    src = replicated_cohort(tmp_path / "c", copies=1, fmt="parquet")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty), "JAVA_HOME": ""}
    res = _cli(["validate", str(src), "--engine", "spark"], env=env, timeout=120)
    _one_clear_line(res, "Java", "openjdk-17-jre-headless")


def test_missing_pyspark_is_one_line_exit_2(tmp_path):
    fake = tmp_path / "fake" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('pyspark is not installed here')\n")
    src = replicated_cohort(tmp_path / "c", copies=1, fmt="parquet")
    res = _cli(["analyze", str(src), "--out", str(tmp_path / "o"), "--engine", "spark"],
               env={"PYTHONPATH": f"{fake.parent}{os.pathsep}{ROOT / 'src'}"}, timeout=120)
    _one_clear_line(res, "pip install 'mrdtrack[spark]'")


def test_spark_options_need_the_spark_engine(tmp_path):
    res = _cli(["analyze", str(EXAMPLE), "--out", str(tmp_path / "o"), "--spark-conf", "a=b"], timeout=120)
    _one_clear_line(res, "--engine spark")



def test_an_out_of_memory_error_says_how_to_give_spark_more_memory():
    from mrdtrack.executors.spark_session import memory_hint

    assert "spark.driver.memory" in memory_hint("Caused by: java.lang.OutOfMemoryError: Java heap space")
    assert memory_hint("org.apache.spark.SparkException: Task failed") == ""
