"""``processes.WarmPool``: workers forked from one process after its initializer ran once."""

from __future__ import annotations

import os

import pytest

from mrdtrack.processes import WarmPool, process_pool

_WARMED: list[int] = []


def _warm() -> None:
    _WARMED.append(os.getpid())


def _where(x: int) -> tuple[int, list[int], int]:
    """(x squared, the pids the initializer ran in as this worker sees them, this worker's pid)."""
    return x * x, list(_WARMED), os.getpid()


def _fail(message: str):
    raise ValueError(message)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not picklable")


def _fail_unpicklable():
    raise _Unpicklable("deep")


def _die():
    os._exit(3)


def test_results_come_back_in_any_order_and_the_initializer_ran_once():
    with WarmPool(2, _warm) as pool:
        futures = [pool.submit(_where, i) for i in range(8)]
        results = [f.result() for f in reversed(futures)][::-1]
    assert [r[0] for r in results] == [i * i for i in range(8)]
    warmed = {tuple(r[1]) for r in results}
    assert len(warmed) == 1 and len(next(iter(warmed))) == 1, "one initializer run, inherited by every worker"
    assert next(iter(warmed))[0] not in {r[2] for r in results}, "the workers are forked after it"
    assert os.getpid() not in next(iter(warmed)) and not _WARMED, "not run in this process"


def test_a_call_that_raises_raises_from_its_future_only():
    with WarmPool(2, _warm) as pool:
        bad = pool.submit(_fail, "no figure")
        good = pool.submit(_where, 3)
        with pytest.raises(ValueError, match="no figure"):
            bad.result()
        assert good.result()[0] == 9
        with pytest.raises(RuntimeError, match="deep"):
            pool.submit(_fail_unpicklable).result()


def test_a_worker_that_dies_breaks_the_pool_instead_of_hanging():
    with WarmPool(2, _warm) as pool:
        with pytest.raises(RuntimeError, match="exit code 3"):
            pool.submit(_die).result()


def test_results_never_asked_for_do_not_keep_the_pool_from_ending():
    with WarmPool(2, _warm) as pool:
        for _ in range(6):
            pool.submit(bytes, 200_000)  # more than a pipe holds, never read


def test_the_figure_workers_run_on_a_process_pool_too(tmp_path):
    """Where processes cannot fork, ``warm_pool`` gives a ``process_pool``: the figure workers take it
    as they take a ``WarmPool`` (same ``submit``, same futures)."""
    from mrdtrack.report.drawing import FigureJob, FigureWorkers, warm_up

    job = FigureJob("forest_figure", (_forest_rows(),), "cox_forest", "caption", "alt text")
    drawn = {}
    for name, pool in (("warm", WarmPool(2, warm_up)), ("spawned", process_pool(2, initializer=warm_up))):
        with pool:
            drawn[name] = FigureWorkers(pool).submit(job, tmp_path / name).svg
    assert drawn["warm"] == drawn["spawned"] and "<svg" in drawn["warm"]


def _forest_rows():
    import pandas as pd

    return pd.DataFrame({"model": ["unadjusted"], "term": ["decreasing"], "hr": [0.5], "lower": [0.3],
                         "upper": [0.9], "p": [0.02]})
