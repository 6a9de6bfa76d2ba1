"""The scheduling pass: a pure function from a snapshot of nodes, waiting tasks and the queue to
a plan (DESIGN §6). No I/O, no clock: the caller supplies everything and applies the plan.

Order of a pass (Scale's, as named steps):
1. next tasks of running executions, on their own node, first;
2. no new jobs at all when the scheduler is paused or a system task waits for a place;
3. queued jobs in queue order (priority, then FIFO/LIFO): best fit among READY nodes; a job
   that fits nowhere now but would fit a node once lower-or-equal priority work drains
   reserves that node for the rest of the pass; a job that fits no node even when empty
   reserves nothing. Unlike Scale, no job ever stops the jobs behind it from being
   considered, and every job left unplaced gets counted reasons.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scale.domain.resources import RESOURCE_NAMES, ZERO, Resources


@dataclass(frozen=True, slots=True)
class PlanNode:
    node_id: int
    offered: Resources
    total: Resources
    #: capacity Scale can use when the node is empty (the watermark, or the offerable total)
    capacity: Resources
    takes_new_jobs: bool
    runs_tasks: bool
    #: why the node takes no new jobs, e.g. "node paused" (empty when it does)
    refusal: str = ""


@dataclass(frozen=True, slots=True)
class WaitingTask:
    key: int
    node_id: int
    resources: Resources
    priority: int


@dataclass(frozen=True, slots=True)
class QueuedJob:
    job_id: int
    job_type_id: int
    exe_num: int
    priority: int
    queued: datetime
    resources: Resources


@dataclass(frozen=True, slots=True)
class RunningWork:
    """Resources held on a node by running work of a given priority (for reservations)."""

    node_id: int
    priority: int
    resources: Resources


@dataclass(frozen=True, slots=True)
class PlanInput:
    nodes: Sequence[PlanNode]
    waiting_tasks: Sequence[WaitingTask] = ()
    queue: Sequence[QueuedJob] = ()
    running: Sequence[RunningWork] = ()
    #: job type id -> how many more executions it may start (absent = no limit)
    type_limits: Mapping[int, int] = field(default_factory=dict)
    paused_types: frozenset[int] = frozenset()
    schedule_new_jobs: bool = True


@dataclass(frozen=True, slots=True)
class Placement:
    job: QueuedJob
    node_id: int


@dataclass
class Plan:
    next_tasks: list[int] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    unplaced: dict[int, dict[str, int]] = field(default_factory=dict)
    reservations: dict[int, int] = field(default_factory=dict)
    #: node id -> resources this plan uses of the node's offers
    used: dict[int, Resources] = field(default_factory=dict)
    #: job type id -> resources its jobs need more of than any node has in total
    unfit_types: dict[int, list[str]] = field(default_factory=dict)


def _waste(remaining: Resources, request: Resources, node_total: Resources) -> float:
    """How much of the node would be left over, normalised per resource (lower = tighter fit).

    Plain arithmetic on purpose: this runs for every candidate node of every queued job.
    """
    score = 0.0
    if node_total.cpus > 0:
        score += (remaining.cpus - request.cpus) / node_total.cpus
    if node_total.mem > 0:
        score += (remaining.mem - request.mem) / node_total.mem
    if node_total.disk > 0:
        score += (remaining.disk - request.disk) / node_total.disk
    if node_total.gpus > 0:
        score += (remaining.gpus - request.gpus) / node_total.gpus
    return score


class _Pass:
    def __init__(self, data: PlanInput) -> None:
        self.data = data
        self.plan = Plan()
        self.nodes = {n.node_id: n for n in data.nodes}
        self.remaining: dict[int, Resources] = {n.node_id: n.offered for n in data.nodes}
        self.available: list[PlanNode] = [n for n in data.nodes if n.takes_new_jobs]
        self.type_limits = dict(data.type_limits)
        # (job type, resources) shapes already known not to fit anywhere this pass -> reasons
        self.blocked_shapes: dict[tuple[int, Resources], dict[str, int]] = {}
        # priority-ordered holdings per node, for the "eventually fits" test of reservations
        self.holdings: dict[int, list[tuple[int, Resources]]] = {}
        for work in data.running:
            self.holdings.setdefault(work.node_id, []).append((work.priority, work.resources))
        # Best fit without scanning every node for every job: per request shape, a heap of
        # (waste, node id, node version). Allocating on a node bumps its version; stale entries
        # are re-scored when they reach the top. Jobs of one shape share one heap. Exact for one
        # shape; across shapes a node another shape filled may be scored late, so the choice is
        # a near-best fit (always a node that fits), which is what lets a pass stay O(log n).
        self.version: dict[int, int] = {n.node_id: 0 for n in data.nodes}
        self.heaps: dict[Resources, list[tuple[float, int, int]]] = {}
        self.reasons_cache: dict[Resources, dict[str, int]] = {}

    def _allocate(self, node_id: int, request: Resources) -> None:
        self.remaining[node_id] = self.remaining[node_id] - request
        self.plan.used[node_id] = self.plan.used.get(node_id, ZERO) + request
        self.version[node_id] += 1

    def _heap_for(self, request: Resources) -> list[tuple[float, int, int]]:
        heap = self.heaps.get(request)
        if heap is None:
            heap = [
                (_waste(self.remaining[n.node_id], request, n.total), n.node_id, self.version[n.node_id])
                for n in self.available
                if request.fits_in(self.remaining[n.node_id])
            ]
            heapq.heapify(heap)
            self.heaps[request] = heap
        return heap

    def _best_node(self, request: Resources) -> int | None:
        """The node with the least waste that fits ``request`` now, or None."""
        heap = self._heap_for(request)
        while heap:
            _score, node_id, version = heap[0]
            if node_id in self.plan.reservations:
                heapq.heappop(heap)
                continue
            if version != self.version[node_id]:
                heapq.heappop(heap)
                remaining = self.remaining[node_id]
                if request.fits_in(remaining):
                    node = self.nodes[node_id]
                    heapq.heappush(
                        heap, (_waste(remaining, request, node.total), node_id, self.version[node_id])
                    )
                continue
            return node_id
        return None

    def place_waiting_tasks(self) -> None:
        for task in sorted(self.data.waiting_tasks, key=lambda t: (t.priority, t.key)):
            node = self.nodes.get(task.node_id)
            if node is not None and node.runs_tasks and task.resources.fits_in(self.remaining[task.node_id]):
                self._allocate(task.node_id, task.resources)
                self.plan.next_tasks.append(task.key)
            else:
                self.plan.waiting.append(task.key)

    def place_queue(self) -> None:
        for job in self.data.queue:
            self._place_one(job)

    def _place_one(self, job: QueuedJob) -> bool:
        if job.job_type_id in self.data.paused_types:
            self.plan.unplaced[job.job_id] = {"job type paused": 1}
            return False
        if self.type_limits.get(job.job_type_id, 1) <= 0:
            self.plan.unplaced[job.job_id] = {"job type at max_scheduled": 1}
            return False
        shape = (job.job_type_id, job.resources)
        blocked = self.blocked_shapes.get(shape)
        if blocked is not None:
            self.plan.unplaced[job.job_id] = blocked
            return False
        best = self._best_node(job.resources)
        if best is not None:
            self._allocate(best, job.resources)
            self.plan.placements.append(Placement(job, best))
            self.holdings.setdefault(best, []).append((job.priority, job.resources))
            if job.job_type_id in self.type_limits:
                self.type_limits[job.job_type_id] -= 1
            return True
        reasons = self.reasons_cache.get(job.resources)
        if reasons is None:
            reasons = self.reasons_cache[job.resources] = self._reasons(job.resources)
        self.plan.unplaced[job.job_id] = reasons
        if not self._reserve(job):
            self.blocked_shapes[shape] = reasons
            if self.data.nodes and not any(job.resources.fits_in(n.total) for n in self.data.nodes):
                short = {name for n in self.data.nodes for name in job.resources.shortfalls(n.total)}
                self.plan.unfit_types[job.job_type_id] = [r for r in RESOURCE_NAMES if r in short]
        return False

    def _reasons(self, request: Resources) -> dict[str, int]:
        reasons: Counter[str] = Counter()
        for node in self.data.nodes:
            if not node.takes_new_jobs:
                reasons[node.refusal or "node not ready"] += 1
            elif node.node_id in self.plan.reservations:
                reasons["node reserved"] += 1
            elif not request.fits_in(node.capacity):
                for name in request.shortfalls(node.capacity):
                    reasons[f"insufficient {name}"] += 1
            else:
                for name in request.shortfalls(self.remaining[node.node_id]) or ["busy"]:
                    reasons[f"insufficient {name}" if name != "busy" else "busy"] += 1
        if not self.data.nodes:
            reasons["no nodes"] += 1
        return dict(reasons)

    def _reserve(self, job: QueuedJob) -> bool:
        """Reserve the tightest node the job would fit once equal-or-lower priority work is gone."""
        best: PlanNode | None = None
        best_score = 0.0
        for node in self.available:
            if node.node_id in self.plan.reservations:
                continue
            held = ZERO
            for priority, res in self.holdings.get(node.node_id, ()):
                if priority <= job.priority:
                    held = held + res
            eventual = node.capacity - held
            if job.resources.fits_in(eventual):
                score = _waste(eventual, job.resources, node.total)
                if best is None or score < best_score:
                    best, best_score = node, score
        if best is None:
            return False
        self.plan.reservations[best.node_id] = job.job_id
        self.reasons_cache.clear()  # "node reserved" now explains more
        return True


def schedule_pass(data: PlanInput) -> Plan:
    """Plan one scheduling pass. Pure: the same input always gives the same plan."""
    state = _Pass(data)
    state.place_waiting_tasks()
    if data.schedule_new_jobs:
        state.place_queue()
    return state.plan
