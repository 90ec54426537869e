"""Starting (or borrowing) a SparkSession for ``--engine spark``, with one-line errors (docs/spark.md).

What the user must fix (pyspark not installed, no Java, a master that cannot be reached) is a
``UserError`` naming the fix (exit 2). The JVM's own output (its log and any Java stack trace)
goes to a log file, never to the terminal: the file's path is printed when something fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrdtrack.errors import UserError

INSTALL_HINT = "pip install 'mrdtrack[spark]'"
JAVA_HINT = "install Java 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
#: Settings of every session mrdtrack starts (a --spark-conf of the same key wins).
BASE_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Seconds to wait for a spark:// master's port before saying it cannot be reached.
MASTER_CONNECT_TIMEOUT_S = 5.0


@dataclass
class SparkOptions:
    """``--spark-master``, ``--spark-conf`` and, from the Python API, an existing SparkSession."""

    master: str = "local[*]"
    conf: dict = field(default_factory=dict)
    session: Any = None  # a running pyspark.sql.SparkSession: used as is, not stopped
    log_file: str | None = None  # where the JVM writes (default: a new file in the temp folder)


class SparkFailed(RuntimeError):
    """A Spark job failed for a reason that is not the input's: one line, the details in the log."""


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(f"--engine spark needs pyspark, which is not installed: {INSTALL_HINT} "
                        "(about 0.5 GB; Java 17 is needed too)") from None


def java_command() -> str:
    """The ``java`` Spark will start (JAVA_HOME first, as spark-submit does); a UserError when none."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise UserError(f"--engine spark needs Java, which was not found: {JAVA_HINT}")
    return found


def check_master(master: str) -> None:
    """A ``spark://host:port[,host:port]`` master must accept a connection (else a UserError at
    once, instead of Spark's minute of retries); other masters (local, yarn, k8s) are not probed."""
    if not master.startswith("spark://"):
        return
    problems = []
    for hostport in master[len("spark://"):].split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=MASTER_CONNECT_TIMEOUT_S):
                return
        except (OSError, ValueError) as exc:
            problems.append(f"{hostport}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{hostport}: {exc}")
    raise UserError(f"Spark master {master} cannot be reached ({'; '.join(problems)}); start it or check "
                    "--spark-master")


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 of this process sent to ``path`` while the block runs (the JVM,
    started in it, keeps them: its whole output goes to the file)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def log_path(options: SparkOptions) -> Path:
    if options.log_file:
        return Path(options.log_file)
    fd, name = tempfile.mkstemp(prefix="mrdtrack-spark-", suffix=".log")
    os.close(fd)
    return Path(name)


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a (Java or Python worker) error, without its stack trace: a
    Python worker's exception line when there is one."""
    import re

    worker = re.findall(r"^(\w+(?:Error|Exception): .*)$", str(exc), flags=re.MULTILINE)
    if worker:
        return worker[-1][:300]
    for line in str(exc).splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "Traceback", "File ", "---")):
            return line[:300]
    return type(exc).__name__


def _python_logs_to(log: Path) -> None:
    """pyspark's own Python loggers (a failed query's context, as JSON) write to ``log``, not the terminal."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        logger = PySparkLogger.getLogger(name)
        logger.handlers = [logging.FileHandler(log, encoding="utf-8")]
        logger.propagate = False


@contextmanager
def spark_session(options: SparkOptions) -> Iterator[tuple[Any, Path]]:
    """(session, log file): ``options.session`` as is, or a new session on ``options.master``,
    stopped on exit. Settings: BASE_CONF, then ``options.conf``."""
    log = log_path(options)
    if options.session is not None:
        _python_logs_to(log)
        yield options.session, log
        return
    require_pyspark()
    _python_logs_to(log)
    java_command()
    check_master(options.master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if options.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a local session needs no network
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(options.master).appName("mrdtrack")
    for key, value in {**BASE_CONF, **options.conf}.items():
        builder = builder.config(key, value)
    try:
        with _stderr_to(log):
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("WARN")
    except Exception as exc:  # noqa: BLE001 - the JVM did not start: one line, the rest in the log
        with log.open("a", encoding="utf-8") as f:
            f.write(f"\n{exc!r}\n")
        raise UserError(f"Spark could not start on {options.master} ({first_line(exc)}); Java log: {log}") from None
    try:
        yield session, log
    finally:
        with _stderr_to(log):
            session.stop()


@contextmanager
def spark_errors(log: Path) -> Iterator[None]:
    """A failed Spark job as one line naming the log file (the full error is written there)."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        if not isinstance(exc, (PySparkException, Py4JError)):
            raise
        with log.open("a", encoding="utf-8") as f:
            f.write(f"\n{exc}\n")
        raise SparkFailed(f"the Spark job failed: {first_line(exc)}{memory_hint(str(exc))} (details: {log})") from None


def memory_hint(error: str) -> str:
    """A hint when the JVM ran out of heap: on ``local[N]`` the driver is also the executor and Spark's
    default 1 GB heap is far too small for a registry cohort (docs/spark.md)."""
    if "OutOfMemoryError" not in error:
        return ""
    return ("; the JVM ran out of memory: give it more with --spark-conf spark.driver.memory=12g (local masters) "
            "or spark.executor.memory (clusters)")
