"""Benchmark 2 of issue 6: the cost of building the status snapshot (a SIMULATION backend).

``python bench/status_build.py --nodes N --running M [--finished F] [--db sqlite|postgresql]``

Without ``--nodes`` it sweeps 10, 100 and 1,000 nodes. For each size a real ``Scheduler`` on
the ``sim`` backend is driven with a fake clock (as in benchmark 1) until it holds ``M``
running executions and ``F`` executions have completed inside the 3-hour metrics window (so the
per-node completed counts are not all empty, as they would not be on a live cluster). Then
``Scheduler.build_status`` (the code path the status loop runs) is timed, median of
``--repeats``, and the snapshot is serialized with ``json.dumps`` for its size. The serialize
time and a whole ``status_tick`` (refresh, build, save to the database) are reported beside it,
because the status loop pays for all three; the target (< 100 ms at 1,000 nodes) is on
``build_ms``.

Job sizes scale with the cluster so that ``M`` executions fill about 80% of its cpus at every
size (10,000 fit on 10 nodes, and at 1,000 nodes they spread over most nodes, as on a loaded
cluster); the running ones never end (their simulated run time is a million seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

# ``python bench/status_build.py`` puts bench/ on the path, not the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scheduling import CPUS_CHOICES, _Pool, fresh_database, populate
from scale.backends.sim import SimBackend, SimNode, SimScript, make_sim_nodes
from scale.bootstrap import tune_gc_for_scheduler
from scale.clock import FakeClock
from scale.domain.tasks import TaskSpec
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.scheduler.core import Scheduler, SchedulerConfig
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.scheduler_store import SqlSchedulerStore

SWEEP = (10, 100, 1000)
RUNNING = 10_000
FINISHED = 10_000
FOREVER_S = 1e6
TARGET_MS = 100.0


@dataclass
class StatusMeasurement:
    nodes: int
    running: int
    finished: int
    build_ms: float
    build_cpu_ms: float
    serialize_ms: float
    tick_ms: float
    bytes: int
    nodes_in_status: int
    running_in_status: int
    completed_in_status: int
    setup_s: float
    status: dict[str, Any]

    @property
    def bytes_per_node(self) -> float:
        return self.bytes / self.nodes if self.nodes else 0.0

    def result_line(self) -> str:
        return (
            f"RESULT nodes={self.nodes} running={self.running_in_status} build_ms={self.build_ms:.1f} "
            f"build_cpu_ms={self.build_cpu_ms:.1f} "
            f"bytes={self.bytes} serialize_ms={self.serialize_ms:.1f} tick_ms={self.tick_ms:.1f}"
        )


def _script(finished: int) -> SimScript:
    """Jobs with ids up to ``finished`` run 1 simulated second; every other job runs 'forever'."""

    def script(spec: TaskSpec) -> tuple[float, int]:
        job_id = int(spec.env.get("SCALE_JOB_ID", "0"))
        return (1.0 if job_id <= finished else FOREVER_S), 0

    return script


def job_sizes(nodes: list[SimNode], running: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Requests sized so ``running`` executions fill about 80% of the cluster's cpus.

    Best fit packs nodes one by one, so requests much smaller than that would put every
    execution on a handful of nodes and leave the per-node parts of the status empty, which a
    loaded cluster's status is not. Memory (at most 1 GiB per requested cpu) never binds: every
    simulated node has at least 2 GiB per cpu.
    """
    total_cpus = sum(node.total.cpus for node in nodes)
    scale = 0.8 * total_cpus / (max(running, 1) * statistics.mean(CPUS_CHOICES))
    return tuple(c * scale for c in CPUS_CHOICES), (512.0 * scale,)


def loaded_scheduler(
    db: Database, *, nodes: int, running: int, finished: int, seed: int = 0, max_passes: int = 1000
) -> tuple[Scheduler, FakeClock]:
    """A scheduler on ``db`` (fresh, migrated) holding ``running`` running executions on ``nodes``
    simulated nodes, after ``finished`` others completed. Raises when the passes run out."""
    clock = FakeClock()
    sim_nodes = make_sim_nodes(nodes, seed=seed)
    cpus_choices, mem_choices = job_sizes(sim_nodes, running)
    populate(
        db,
        running + finished,
        clock.now() - timedelta(seconds=1),
        cpus_choices=cpus_choices,
        mem_choices=mem_choices,
    )
    backend = SimBackend(sim_nodes, clock=clock, script=_script(finished))
    scheduler = Scheduler(
        backend=backend,
        store=SqlSchedulerStore(db),
        clock=clock,
        handlers=_Pool(),
        config=SchedulerConfig(
            hostname="bench-host", data_dir="/tmp/scale-bench", pre_post_tasks=False, node_tasks=False
        ),
    )
    scheduler.start(clock.now(), db_update_completed=clock.now())
    worker = MessageWorker(DatabaseTransport(db), HANDLERS, now=clock.now)
    worker.drain()
    for _ in range(max_passes):
        clock.advance(1.0)
        now = clock.now()
        scheduler.scheduling_tick(now)
        scheduler.task_handling_tick(now)
        scheduler.messaging_tick(now)
        worker.drain()
        if len(scheduler.executions) != running:
            continue
        launched = all(exe.task_id is not None for exe in scheduler.executions.values())
        if launched and _done(scheduler) >= finished:
            return scheduler, clock
    raise RuntimeError(
        f"after {max_passes} passes: {len(scheduler.executions)} running of {running}, "
        f"{_done(scheduler)} completed of {finished}"
    )


def _done(scheduler: Scheduler) -> int:
    """Completed executions the scheduler's metrics hold (its own count, for the stop rule)."""
    status = scheduler.build_status(scheduler.clock.now())
    return sum(n["job_executions"]["completed"]["total"] for n in status["nodes"])


@dataclass
class Timings:
    """Medians in ms. ``build_cpu_ms`` is the process's cpu time for the build: on a machine
    shared with other work the wall time swings with the load, the cpu time much less."""

    build_ms: float
    build_cpu_ms: float
    serialize_ms: float
    tick_ms: float
    status: dict[str, Any]
    body: bytes


def measure(scheduler: Scheduler, clock: FakeClock, repeats: int) -> Timings:
    """Median build, serialize and whole-tick times, the last snapshot and its JSON bytes."""
    builds: list[float] = []
    cpus: list[float] = []
    serials: list[float] = []
    ticks: list[float] = []
    status: dict[str, Any] = {}
    body = b""
    for _ in range(repeats):
        clock.advance(0.01)
        now = clock.now()
        c0 = time.process_time()
        t0 = time.perf_counter()
        status = scheduler.build_status(now)
        t1 = time.perf_counter()
        c1 = time.process_time()
        body = json.dumps(status).encode()
        t2 = time.perf_counter()
        scheduler.status_tick(now)
        t3 = time.perf_counter()
        builds.append((t1 - t0) * 1000.0)
        cpus.append((c1 - c0) * 1000.0)
        serials.append((t2 - t1) * 1000.0)
        ticks.append((t3 - t2) * 1000.0)
    return Timings(
        build_ms=statistics.median(builds),
        build_cpu_ms=statistics.median(cpus),
        serialize_ms=statistics.median(serials),
        tick_ms=statistics.median(ticks),
        status=status,
        body=body,
    )


def run_size(
    *,
    nodes: int,
    running: int,
    finished: int = FINISHED,
    repeats: int = 11,
    db_kind: str = "sqlite",
    seed: int = 0,
) -> StatusMeasurement:
    """One size, on a fresh database."""
    with fresh_database(db_kind) as db:
        t0 = time.perf_counter()
        scheduler, clock = loaded_scheduler(db, nodes=nodes, running=running, finished=finished, seed=seed)
        setup_s = time.perf_counter() - t0
        timings = measure(scheduler, clock, repeats)
    status = timings.status
    running_in_status = sum(n["job_executions"]["running"]["total"] for n in status["nodes"])
    completed_in_status = sum(n["job_executions"]["completed"]["total"] for n in status["nodes"])
    return StatusMeasurement(
        nodes=nodes,
        running=running,
        finished=finished,
        build_ms=timings.build_ms,
        build_cpu_ms=timings.build_cpu_ms,
        serialize_ms=timings.serialize_ms,
        tick_ms=timings.tick_ms,
        bytes=len(timings.body),
        nodes_in_status=len(status["nodes"]),
        running_in_status=running_in_status,
        completed_in_status=completed_in_status,
        setup_s=setup_s,
        status=status,
    )


def table(results: list[StatusMeasurement]) -> str:
    header = (
        "nodes",
        "running",
        "completed",
        "build ms",
        "build cpu ms",
        "serialize ms",
        "tick ms",
        "bytes",
        "bytes/node",
    )
    rows = [
        (
            str(r.nodes),
            str(r.running_in_status),
            str(r.completed_in_status),
            f"{r.build_ms:.1f}",
            f"{r.build_cpu_ms:.1f}",
            f"{r.serialize_ms:.1f}",
            f"{r.tick_ms:.1f}",
            str(r.bytes),
            f"{r.bytes_per_node:.0f}",
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, action="append", help="repeatable; default: 10, 100, 1000")
    parser.add_argument("--running", type=int, default=RUNNING)
    parser.add_argument("--finished", type=int, default=FINISHED, help="completed executions in the window")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    sizes = sorted(args.nodes or SWEEP)

    print("SIMULATION: the scheduler on the sim backend; no real tasks run.", flush=True)
    tune_gc_for_scheduler()  # as `scale scheduler` and `scale up` do: the status loop runs there
    results = []
    for nodes in sizes:
        print(
            f"status build: {nodes} nodes, {args.running} running, {args.finished} completed ...", flush=True
        )
        results.append(
            run_size(
                nodes=nodes,
                running=args.running,
                finished=args.finished,
                repeats=args.repeats,
                db_kind=args.db,
            )
        )
    print(table(results))
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(
            f"growth {first.nodes}->{last.nodes} nodes: bytes x{last.bytes / first.bytes:.1f}, "
            f"build x{last.build_ms / first.build_ms:.1f} (nodes x{last.nodes / first.nodes:.0f}); "
            f"bytes/node {first.bytes_per_node:.0f} -> {last.bytes_per_node:.0f}"
        )
    for r in results:
        print(r.result_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
