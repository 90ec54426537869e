"""Worker processes for work split into independent pieces (batches, buckets, row-group runs)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_jobs() -> int:
    """The default of every ``--jobs``: the cores this process may run on (its CPU affinity, which
    container and ``taskset`` limits respect), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int, initializer=None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, forked where the platform can (the children share the
    parent's memory copy-on-write instead of pickling it), spawned elsewhere."""
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer, initargs=initargs)


def release_memory() -> None:
    """Collect cyclic garbage and hand the C heap's free pages back to the system (glibc
    ``malloc_trim``), between buckets of a long-lived worker: without it the garbage of one bucket
    (pandas frames in reference cycles, Arrow buffers they hold) waits for a later collection and
    the worker grows by fragments, to about 1 GB each after a few hundred buckets."""
    import gc

    gc.collect()
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
        except OSError:  # not glibc (macOS, musl, Windows): the collection alone
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def can_fork() -> bool:
    """Whether a child can be forked safely here: POSIX and no other thread in this process (a
    thread holding a lock at the fork would leave that lock held forever in the child)."""
    import threading

    return hasattr(os, "fork") and threading.active_count() == 1


def run_in_child(fn: Callable[[], T]) -> Callable[[], T]:
    """Start ``fn()`` in a forked child (it sees this process's memory as it is now) and return a
    function that waits for it and gives its result (pickled back through a pipe) or raises its
    exception. Where a fork is not safe (``can_fork``), ``fn`` runs when the result is asked for."""
    if not can_fork():
        return fn
    import pickle

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, never return into the caller
        os.close(read_fd)
        code = 0
        try:
            try:
                payload = pickle.dumps((True, fn()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as err:  # noqa: BLE001 - sent to the parent, raised there
                payload = pickle.dumps((False, err), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001 - the parent sees the missing result
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)

    def result() -> T:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not payload:
            raise RuntimeError(f"a child process ended without a result (exit {os.waitstatus_to_exitcode(status)})")
        ok, value = pickle.loads(payload)
        if not ok:
            raise value
        return value

    return result
