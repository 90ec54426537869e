"""``processes.release_memory``: a bucket worker trims the C heap only when it holds more than it keeps."""

from __future__ import annotations

import sys

import pytest

from mrdtrack import processes


class _FakeLibc:
    def __init__(self):
        self.trims = 0

    def malloc_trim(self, pad):
        assert pad == 0
        self.trims += 1


@pytest.fixture
def libc(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(processes, "_LIBC", fake)
    return fake


def test_a_plain_release_always_trims(libc):
    processes.release_memory()
    assert libc.trims == 1


def test_a_worker_below_its_keep_size_keeps_its_pages(libc, monkeypatch):
    monkeypatch.setattr(processes, "resident_bytes", lambda: 400 << 20)
    processes.release_memory(above=processes.WORKER_KEEP_BYTES)
    assert libc.trims == 0


def test_a_worker_above_its_keep_size_trims(libc, monkeypatch):
    monkeypatch.setattr(processes, "resident_bytes", lambda: processes.WORKER_KEEP_BYTES + 1)
    processes.release_memory(above=processes.WORKER_KEEP_BYTES)
    assert libc.trims == 1


def test_an_unknown_size_trims(libc, monkeypatch):
    monkeypatch.setattr(processes, "resident_bytes", lambda: None)
    processes.release_memory(above=processes.WORKER_KEEP_BYTES)
    assert libc.trims == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm is Linux's")
def test_resident_bytes_reads_this_process():
    import resource

    held = processes.resident_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KB on Linux
    assert held is not None and 10 << 20 < held <= peak + (1 << 20)
