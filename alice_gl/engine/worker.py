"""One thread that owns the backend and runs every call dispatched to it.

An OpenGL context is current on one thread only, so every call that can touch the backend
runs on the same worker thread, in submission order. Callers on other threads block until
their call finishes and get its return value or exception. A call made from the worker thread
itself runs inline, so a dispatched function may dispatch again without deadlocking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from alice_gl.errors import EngineStateError

T = TypeVar("T")


class WorkerThread:
    """A single worker thread with a FIFO queue of calls; ``shutdown`` ends it."""

    def __init__(self, name: str = "alice-gl-engine") -> None:
        self._thread_ids: list[int] = []
        self._lock = threading.Lock()
        self._closed = False
        # One worker: ThreadPoolExecutor keeps its thread alive until shutdown, so every call
        # runs on the same thread. The initializer gets only the list, not self, so a worker
        # that is never shut down can still be garbage collected, which ends its thread.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name,
                                            initializer=_record_thread_id,
                                            initargs=(self._thread_ids,))

    @property
    def _thread_id(self) -> int | None:
        return self._thread_ids[0] if self._thread_ids else None

    @property
    def closed(self) -> bool:
        """True once ``shutdown`` has been called."""
        return self._closed

    def call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``function(*args, **kwargs)`` on the worker thread and return its result.

        Raises what the function raised, or ``EngineStateError`` after ``shutdown``.
        """
        if threading.get_ident() == self._thread_id:
            return function(*args, **kwargs)
        with self._lock:
            if self._closed:
                raise EngineStateError("The engine is closed; create a new "
                                       "AliceQuantizationEngine to run more calls.")
            future = self._executor.submit(function, *args, **kwargs)
        return future.result()

    def shutdown(self) -> None:
        """Finish the calls already queued, then end the thread. Calling it again does nothing.

        Called from the worker thread itself, it returns at once and the thread ends after the
        running call.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._executor.shutdown(wait=threading.get_ident() != self._thread_id)


def _record_thread_id(thread_ids: list[int]) -> None:
    thread_ids.append(threading.get_ident())
