"""Loops: each is ``tick(now)`` plus a period. One runner thread drives several loops, sleeping
to the earliest monotonic deadline on an Event, so shutdown is prompt and a failing tick is
logged and counted instead of killing the loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scale.scheduler.ports import Clock

log = logging.getLogger(__name__)


@dataclass
class Loop:
    name: str
    period_s: float
    tick: Callable[[datetime], None]
    warn_after_s: float = 0.5
    failures: int = 0
    slow_ticks: int = 0
    runs: int = 0
    last_duration_s: float = 0.0
    next_due: float = field(default=0.0)


class LoopRunner:
    """Runs loops in one thread in deadline order; loops never overlap each other."""

    def __init__(self, loops: Sequence[Loop], clock: Clock) -> None:
        self.loops = list(loops)
        self.clock = clock

    def run_due(self) -> float:
        """Run every loop that is due; return seconds until the next one is."""
        now_mono = self.clock.monotonic()
        for loop in sorted(self.loops, key=lambda lp: lp.next_due):
            if loop.next_due > now_mono:
                continue
            start = self.clock.monotonic()
            try:
                loop.tick(self.clock.now())
            except Exception:
                loop.failures += 1
                log.exception("%s loop tick failed", loop.name)
            loop.runs += 1
            end = self.clock.monotonic()
            loop.last_duration_s = end - start
            if loop.last_duration_s > loop.warn_after_s:
                loop.slow_ticks += 1
                log.warning("%s loop took %.3fs", loop.name, loop.last_duration_s)
            # Drift-free: the next deadline follows the previous one, but never falls behind now.
            loop.next_due = max(loop.next_due + loop.period_s, end)
            now_mono = end
        return max(0.0, min(lp.next_due for lp in self.loops) - self.clock.monotonic())

    def run(self, stop: threading.Event) -> None:
        start = self.clock.monotonic()
        for loop in self.loops:
            loop.next_due = start
        while not stop.is_set():
            wait = self.run_due()
            if wait > 0:
                stop.wait(wait)
