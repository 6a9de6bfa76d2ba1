"""Tasks of the scheduler's own that fail again and again: backoff and a warning that says so.

A system task (a message handler, the database update) or a node task (health check, cleanup)
that fails at start would otherwise be relaunched on every pass, twice a second, for ever,
with nothing in the status but its symptoms (issue 13: 1,434 handler logs in 12 minutes and
a queue that never moved). As Kubernetes does for a container in ``CrashLoopBackOff``, each
failure in a row doubles the wait before the next launch, from ``base`` up to ``cap``; a
success (a task that finished, or a long-running one that stayed up for ``stable``) resets
it. While a task type has failed ``WARN_AFTER`` times in a row the scheduler carries a
warning naming it, the node, the count and the last line the task wrote to stderr.

Pure and clock-free: every method takes ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The first wait after a failure; each further failure in a row doubles it, up to CAP.
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_CAP = timedelta(seconds=60)
#: A long-running task that has run this long without failing counts as a success.
STABLE_AFTER = timedelta(seconds=10)
#: Failures in a row after which the scheduler shows a warning.
WARN_AFTER = 2


@dataclass
class CrashLoop:
    """One task type's failures in a row (on one node, for node tasks)."""

    failures: int
    last_failed: datetime
    hostname: str
    last_words: str

    def wait(self, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP) -> timedelta:
        """How long after ``last_failed`` the next launch may go: base * 2^(failures - 1), capped."""
        doubled: timedelta = base * (2 ** min(self.failures - 1, 30))
        return min(cap, doubled)


@dataclass(frozen=True)
class CrashWarning:
    """A scheduler warning for a crash loop (``scheduler.warnings[]`` in the status)."""

    name: str
    title: str
    description: str


class CrashLoops:
    """Failures in a row per key (a task type, or a task type on one node)."""

    def __init__(self, base: timedelta = BACKOFF_BASE, cap: timedelta = BACKOFF_CAP) -> None:
        self.base = base
        self.cap = cap
        self._loops: dict[str, CrashLoop] = {}

    def failed(self, key: str, hostname: str, last_words: str, now: datetime) -> CrashLoop:
        """Count one more failure of ``key``; ``last_words``: why, in one line ("" if unknown)."""
        loop = self._loops.get(key)
        if loop is None:
            loop = self._loops[key] = CrashLoop(0, now, hostname, "")
        loop.failures += 1
        loop.last_failed = now
        loop.hostname = hostname
        if last_words:
            loop.last_words = last_words
        return loop

    def succeeded(self, key: str) -> None:
        """``key`` worked: the next failure starts the count again."""
        self._loops.pop(key, None)

    def may_launch(self, key: str, now: datetime) -> bool:
        """False while ``key`` is inside the backoff after its last failure."""
        loop = self._loops.get(key)
        return loop is None or now - loop.last_failed >= loop.wait(self.base, self.cap)

    def get(self, key: str) -> CrashLoop | None:
        return self._loops.get(key)

    def warnings(self, title_of: Mapping[str, str], where: str = "") -> list[CrashWarning]:
        """One warning per key failing ``WARN_AFTER`` times or more in a row. ``title_of``: the
        task type's title per key (keys not in it are shown by their own name); ``where``: a
        suffix for the warning's name (the node, for node tasks: one warning per node)."""
        out = []
        for key, loop in sorted(self._loops.items()):
            if loop.failures < WARN_AFTER:
                continue
            title = title_of.get(key, key)
            said = f": {loop.last_words}" if loop.last_words else " (it wrote nothing to stderr)"
            name = f"TASK_FAILING_{key.upper().replace('-', '_')}" + (f"@{where}" if where else "")
            out.append(
                CrashWarning(
                    name=name,
                    title=f"{title} Failing",
                    description=(
                        f"{title} on node {loop.hostname} failed {loop.failures} times in a row; "
                        f"last stderr line{said}"
                    ),
                )
            )
        return out
