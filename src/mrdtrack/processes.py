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
    parent's memory copy-on-write instead of pickling it), spawned elsewhere. Each worker starts
    with ``_start_worker``."""
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start_worker,
                               initargs=(initializer, *initargs))


def _start_worker(initializer=None, *initargs) -> None:
    """A pool worker's start: what it holds so far (the modules, and the parent's objects it was
    forked with: some 75,000 objects) is moved out of the garbage collector's reach (``gc.freeze``),
    so that the collections while it works, and ``release_memory``'s after each bucket, walk only
    what it makes (a registry bucket: 5-6% less CPU); then ``initializer(*initargs)``."""
    import gc

    gc.freeze()
    if initializer is not None:
        initializer(*initargs)


#: A bucket worker hands its free heap pages back to the system only when it holds more than this
#: after a bucket (``release_memory(above=...)``): below it, the next bucket reuses the pages
#: instead of faulting fresh ones in (a registry bucket of 0.6 GB peak keeps about 0.42 GB; trimming
#: after every bucket cost 3.5 s of system time in 100,000 registry patients, docs/performance.md).
WORKER_KEEP_BYTES = 1 << 30


def resident_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc/self/statm``), None where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def release_memory(above: int = 0) -> None:
    """Collect cyclic garbage and, when this process then holds more than ``above`` bytes (or its
    size is unknown), hand the C heap's free pages back to the system (glibc ``malloc_trim``).
    Between buckets of a long-lived worker (``above=WORKER_KEEP_BYTES``): without the collection
    the garbage of one bucket (pandas frames in reference cycles, Arrow buffers they hold) waits
    for a later collection and the worker grows by fragments, to about 1 GB each after a few
    hundred buckets; the trim bounds what fragments remain."""
    import gc

    gc.collect()
    if above:
        held = resident_bytes()
        if held is not None and held <= above:
            return
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


def warm_pool(workers: int, initializer: Callable[[], None]):
    """A ``WarmPool`` where processes fork; elsewhere a ``process_pool`` (spawned: each worker runs
    the initializer). Either is a context manager whose ``submit(fn, *args)`` gives a future."""
    if hasattr(os, "fork"):
        return WarmPool(workers, initializer)
    return process_pool(workers, initializer=initializer)


class WarmPool:
    """``workers`` processes running the calls submitted to them (first come, first served), all
    forked from one process after it ran ``initializer``: the initializer's work (importing
    matplotlib: ``report/drawing.py``) is done once, where a ``process_pool`` forks each worker
    from this process and each runs it again. A context manager; ``submit`` gives a ``WarmFuture``.

    The first process (forked now, so it shares this process's memory as it is) runs the
    initializer, forks the workers and watches them: a worker that dies, or this process ending,
    ends the pool. A call's exception is raised by its future."""

    def __init__(self, workers: int, initializer: Callable[[], None]):
        ctx = multiprocessing.get_context("fork")
        self._tasks = ctx.Queue()  # (task id, function, arguments); None: stop
        self._results = ctx.Queue()  # pickled (task id, ok, value); task id 0: the pool broke
        self._done: dict[int, tuple[bool, object]] = {}
        self._submitted = 0
        self._workers = workers
        self._first = ctx.Process(target=_first_process, args=(workers, initializer, self._tasks, self._results,
                                                               os.getpid()), name="mrdtrack-warm-pool")
        self._first.start()

    def submit(self, fn: Callable, *args) -> WarmFuture:
        self._submitted += 1
        self._tasks.put((self._submitted, fn, args))
        return WarmFuture(self, self._submitted)

    def result(self, task: int):
        """The result of task ``task`` (waits for it; raises its exception)."""
        import pickle
        import queue

        while task not in self._done:
            try:
                done, ok, value = pickle.loads(self._results.get(timeout=1.0))
            except queue.Empty:
                if not self._first.is_alive():
                    raise RuntimeError("the worker processes ended before giving every result") from None
                continue
            if done == 0:
                raise value
            self._done[done] = (ok, value)
        ok, value = self._done[task]
        if not ok:
            raise value
        return value

    def shutdown(self) -> None:
        """Stop the workers once the calls submitted are done (results not asked for are dropped)."""
        import queue

        for _ in range(self._workers):
            self._tasks.put(None)
        while True:  # the workers' results must be read for them to end
            try:
                while True:
                    self._results.get_nowait()
            except queue.Empty:
                pass
            self._first.join(timeout=0.002)  # checked often: the pool ends within milliseconds of its last call
            if not self._first.is_alive():
                break

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


class WarmFuture:
    """The result of a call submitted to a ``WarmPool``."""

    def __init__(self, pool: WarmPool, task: int):
        self._pool = pool
        self._task = task

    def result(self):
        return self._pool.result(self._task)


def _first_process(workers: int, initializer: Callable[[], None], tasks, results, parent: int) -> None:
    """``WarmPool``'s first process: the initializer, then the workers forked, then watched."""
    import pickle
    import signal
    from multiprocessing.connection import wait

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    initializer()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_serve, args=(tasks, results, os.getpid()), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    running = {p.sentinel: p for p in procs}
    while running:
        for sentinel in wait(list(running), timeout=1.0):
            p = running.pop(sentinel)
            p.join()  # the sentinel is closed as the process ends: wait for its exit code
            if p.exitcode != 0:
                err = RuntimeError(f"a worker process ended with exit code {p.exitcode}")
                results.put(pickle.dumps((0, False, err)))
                return
        if os.getppid() != parent:  # the main process is gone
            return


def _serve(tasks, results, first: int) -> None:
    """A ``WarmPool`` worker: run the calls until told to stop (or the first process is gone); send
    each outcome back pickled (so that one that cannot be pickled is reported instead of lost)."""
    import pickle
    import queue

    while True:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != first:
                return
            continue
        if task is None:
            return
        done, fn, args = task
        try:
            payload = pickle.dumps((done, True, fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as err:  # noqa: BLE001 - raised by the future in the main process
            try:
                payload = pickle.dumps((done, False, err), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its words
                payload = pickle.dumps((done, False, RuntimeError(repr(err))), protocol=pickle.HIGHEST_PROTOCOL)
        results.put(payload)
