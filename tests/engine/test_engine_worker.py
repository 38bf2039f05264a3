"""WorkerThread: every call runs on one thread, in order, with results and errors returned."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from alice_gl.engine.worker import WorkerThread
from alice_gl.errors import EngineStateError


def test_calls_run_on_one_thread_from_many_callers():
    worker = WorkerThread()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            idents = list(pool.map(lambda _: worker.call(threading.get_ident), range(64)))
        assert len(set(idents)) == 1
        assert idents[0] != threading.get_ident()
    finally:
        worker.shutdown()


def test_calls_do_not_overlap():
    worker = WorkerThread()
    active = []
    overlaps = []

    def critical_section(index: int) -> int:
        active.append(index)
        overlaps.append(len(active))
        active.remove(index)
        return index * 2

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda i: worker.call(critical_section, i), range(200)))
        assert results == [i * 2 for i in range(200)]
        assert max(overlaps) == 1
    finally:
        worker.shutdown()


def test_exception_reaches_the_caller():
    worker = WorkerThread()
    try:
        with pytest.raises(KeyError, match="missing"):
            worker.call({}.__getitem__, "missing")
    finally:
        worker.shutdown()


def test_nested_call_runs_inline():
    worker = WorkerThread()
    try:
        outer = worker.call(lambda: (threading.get_ident(), worker.call(threading.get_ident)))
        assert outer[0] == outer[1]
    finally:
        worker.shutdown()


def test_call_after_shutdown_raises():
    worker = WorkerThread()
    worker.shutdown()
    worker.shutdown()
    assert worker.closed
    with pytest.raises(EngineStateError, match="closed"):
        worker.call(int)


def test_unreferenced_worker_ends_its_thread():
    import gc
    import weakref

    worker = WorkerThread(name="alice-gl-gc-test")
    worker.call(int)
    reference = weakref.ref(worker)
    del worker
    gc.collect()
    assert reference() is None
    for _ in range(200):
        names = [thread.name for thread in threading.enumerate()]
        if not any(name.startswith("alice-gl-gc-test") for name in names):
            break
        threading.Event().wait(0.01)
    assert not any(name.startswith("alice-gl-gc-test") for name in names)
