"""Scheduler metrics: per-second rates over the status window, and the per-node execution
counts over the last three hours kept in five-minute blocks (reference §1.4, §3.6)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scale.domain.states import ErrorCategory, ExecutionStatus

RATE_NAMES = (
    "task_updates_per_sec",
    "new_offers_per_sec",
    "jobs_finished_per_sec",
    "jobs_launched_per_sec",
    "tasks_launched_per_sec",
    "offers_launched_per_sec",
    "tasks_finished_per_sec",
)


def round_rate(value: float) -> float:
    """Scale's rounding: above 100 an integer, above 10 one decimal, else two decimals."""
    if value > 100:
        return float(round(value))
    if value > 10:
        return round(value, 1)
    return round(value, 2)


class RateCounters:
    """Counters that accumulate between status builds; ``rates`` divides and resets them.

    Unlike Scale, the offers-launched counter accumulates like every other (Scale assigned it,
    so it showed only the last pass).
    """

    def __init__(self, start: float) -> None:
        self._counts: Counter[str] = Counter()
        #: every count since this scheduler started, never reset: the status carries them so a
        #: process that only reads the status (the API's ``/metrics``) can export counters
        self._totals: Counter[str] = Counter()
        self._last = start

    def add(self, name: str, amount: int = 1) -> None:
        if amount:
            self._counts[name] += amount
            self._totals[name] += amount

    def totals(self) -> dict[str, int]:
        """The running totals, by count name (a rate's name without ``_per_sec``)."""
        return {name.removesuffix("_per_sec"): self._totals[name] for name in RATE_NAMES}

    def rates(self, now_mono: float) -> dict[str, float]:
        duration = now_mono - self._last
        counts, self._counts, self._last = self._counts, Counter(), now_mono
        if duration <= 0:
            return {name: 0.0 for name in RATE_NAMES}
        return {name: round_rate(counts[name] / duration) for name in RATE_NAMES}


BLOCK = timedelta(minutes=5)
WINDOW = timedelta(hours=3)
_CATEGORIES = ("algorithm", "data", "system")


@dataclass(frozen=True, slots=True)
class FinishedExecution:
    node_id: int
    job_type_id: int
    status: ExecutionStatus
    category: ErrorCategory | None
    ended: datetime


def _bucket_key(fin: FinishedExecution) -> str | None:
    if fin.status == ExecutionStatus.COMPLETED:
        return "completed"
    if fin.status == ExecutionStatus.FAILED:
        return (fin.category or ErrorCategory.SYSTEM).value.lower()
    return None  # canceled executions count nowhere


@dataclass
class _Block:
    start: datetime
    counts: Counter[tuple[int, str, int]] = field(default_factory=Counter)


class FinishedMetrics:
    """Completed and failed-by-category counts per node and job type over the last 3 hours.

    A running sum plus the blocks that make it up; a block whose end falls out of the window is
    subtracted, so the window is 3 h to 3 h 5 min, as in Scale.
    """

    def __init__(self) -> None:
        self._blocks: list[_Block] = []
        self._sum: Counter[tuple[int, str, int]] = Counter()
        #: ``_sum`` grouped by node, built on demand: ``node_json`` runs once per node per status
        #: build, and scanning all of ``_sum`` each time cost O(nodes x entries) (BENCHMARKS.md)
        self._by_node: dict[int, list[tuple[str, int, int]]] | None = None

    def _block_for(self, when: datetime) -> _Block:
        start = when.replace(minute=when.minute - when.minute % 5, second=0, microsecond=0)
        for block in reversed(self._blocks):
            if block.start == start:
                return block
            if block.start < start:
                break
        block = _Block(start)
        self._blocks.append(block)
        self._blocks.sort(key=lambda b: b.start)
        return block

    def add(self, fin: FinishedExecution, now: datetime) -> None:
        key = _bucket_key(fin)
        if key is None or fin.ended + BLOCK < now - WINDOW:
            return
        entry = (fin.node_id, key, fin.job_type_id)
        self._block_for(fin.ended).counts[entry] += 1
        self._sum[entry] += 1
        self._by_node = None

    def roll(self, now: datetime) -> None:
        cutoff = now - WINDOW
        while self._blocks and self._blocks[0].start + BLOCK < cutoff:
            old = self._blocks.pop(0)
            self._sum.subtract(old.counts)
        self._sum = +self._sum
        self._by_node = None

    def node_json(self, node_id: int) -> dict[str, Any]:
        if self._by_node is None:
            self._by_node = {}
            for (nid, key, type_id), count in self._sum.items():
                self._by_node.setdefault(nid, []).append((key, type_id, count))
        by_key: dict[str, dict[int, int]] = {k: {} for k in ("completed", *_CATEGORIES)}
        for key, type_id, count in self._by_node.get(node_id, ()):
            if count > 0:
                by_key[key][type_id] = count
        failed: dict[str, Any] = {"total": 0}
        for cat in _CATEGORIES:
            failed[cat] = _counts_json(by_key[cat])
            failed["total"] += failed[cat]["total"]
        return {"completed": _counts_json(by_key["completed"]), "failed": failed}


def _counts_json(counts: dict[int, int]) -> dict[str, Any]:
    return {
        "total": sum(counts.values()),
        "by_job_type": [{"job_type_id": t, "count": c} for t, c in sorted(counts.items())],
    }


def running_json(counts: Counter[int]) -> dict[str, Any]:
    return _counts_json({t: c for t, c in counts.items() if c > 0})
