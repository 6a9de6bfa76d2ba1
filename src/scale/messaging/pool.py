"""In-process message handlers: ``num_message_handlers`` worker threads the scheduler resizes.

This is the embedded form of Scale's message-handler system tasks (launching them as tasks on
nodes is a later step); ``alive()`` is what ``system.services[].actual_count`` reports.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from scale.messaging.worker import MessageWorker

log = logging.getLogger(__name__)


class ThreadHandlerPool:
    def __init__(self, make_worker: Callable[[], MessageWorker], *, idle_wait: float = 0.2) -> None:
        self._make_worker = make_worker
        self._idle_wait = idle_wait
        self._threads: list[tuple[threading.Thread, threading.Event, MessageWorker]] = []
        self._lock = threading.Lock()
        self._closed = False

    def resize(self, count: int) -> None:
        with self._lock:
            if self._closed:
                count = 0
            self._threads = [t for t in self._threads if t[0].is_alive() and not t[1].is_set()]
            while len(self._threads) < count:
                stop = threading.Event()
                worker = self._make_worker()
                thread = threading.Thread(
                    target=worker.run, args=(stop, self._idle_wait), name="message-handler", daemon=True
                )
                thread.start()
                self._threads.append((thread, stop, worker))
            while len(self._threads) > count:
                _, stop, _ = self._threads.pop()
                stop.set()

    def alive(self) -> int:
        with self._lock:
            return sum(1 for t, stop, _ in self._threads if t.is_alive() and not stop.is_set())

    def applied(self) -> int:
        with self._lock:
            return sum(w.applied for _, _, w in self._threads)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _, stop, _ in threads:
            stop.set()
        for thread, _, _ in threads:
            thread.join(timeout)
