"""Benchmark 1 of issue 6: the scheduler on the ``sim`` backend (a SIMULATION, no real tasks).

``python bench/scheduling.py --nodes 1000 --jobs 100000 --db sqlite|postgresql``

A fake clock advances 1 s per pass; every pass runs ``scheduling_tick``, ``task_handling_tick``,
``messaging_tick`` and drains the message worker, the way ``tests/scheduler/test_core.py`` does.
Wall-clock time (``time.perf_counter``) is what is measured.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from scale.backends.sim import SimBackend, SimScript, make_sim_nodes
from scale.bootstrap import tune_gc_for_scheduler
from scale.clock import FakeClock
from scale.domain.tasks import TaskSpec
from scale.messaging.transport import DatabaseTransport
from scale.messaging.worker import MessageWorker
from scale.scheduler.core import Scheduler, SchedulerConfig
from scale.services.handlers import HANDLERS
from scale.store.db import Database
from scale.store.migrate import update_database
from scale.store.scheduler_store import SqlSchedulerStore
from scale.store.tables import JobExecutionRow, JobRow, JobTypeRow, QueueRow

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FINAL = ("COMPLETED", "FAILED", "CANCELED")
NUM_JOB_TYPES = 20
BATCH = 5000


class _Pool:
    """Stands in for handler threads: the benchmark drains messages itself."""

    def __init__(self) -> None:
        self.size = 0

    def resize(self, count: int) -> None:
        self.size = count

    def alive(self) -> int:
        return self.size


@dataclass
class BenchResult:
    db: str
    nodes: int
    jobs: int
    passes: int = 0
    executions: int = 0
    completed: int = 0
    not_final: int = 0
    max_num_exes: int = 0
    loop_wall_s: float = 0.0
    time_to_all_final_s: float | None = None
    setup_s: float = 0.0
    pass_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    @property
    def launches_per_sec(self) -> float:
        return self.executions / self.loop_wall_s if self.loop_wall_s > 0 else 0.0

    def pct(self, q: float) -> float:
        if not self.pass_ms:
            return 0.0
        ordered = sorted(self.pass_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def table(self) -> str:
        rows: list[tuple[str, str]] = [
            ("backend", "sim (SIMULATION: no real tasks run)"),
            ("database", self.db),
            ("nodes / jobs", f"{self.nodes} / {self.jobs}"),
            ("setup (insert) s", f"{self.setup_s:.1f}"),
            ("passes", str(self.passes)),
            ("executions created", str(self.executions)),
            ("run-loop wall s", f"{self.loop_wall_s:.1f}"),
            ("launches/s (sustained)", f"{self.launches_per_sec:.1f}"),
            ("pass p50 / p99 / max ms", f"{self.pct(0.5):.1f} / {self.pct(0.99):.1f} / {self.pct(1.0):.1f}"),
            (
                "time to all completed s",
                "not reached" if self.time_to_all_final_s is None else f"{self.time_to_all_final_s:.1f}",
            ),
            ("completed", f"{self.completed} of {self.jobs}"),
            ("peak RSS MiB", f"{self.peak_rss_mb:.0f}"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)

    def result_line(self) -> str:
        return (
            f"RESULT launches_per_sec={self.launches_per_sec:.1f} pass_p50_ms={self.pct(0.5):.1f} "
            f"pass_p99_ms={self.pct(0.99):.1f} completed={self.completed} peak_rss_mb={self.peak_rss_mb:.0f} "
            f"pass_max_ms={self.pct(1.0):.1f} all_done_s={self.time_to_all_final_s or 0:.1f} "
            f"executions={self.executions}"
        )


@contextmanager
def fresh_database(kind: str) -> Iterator[Database]:
    """A new, migrated database: a SQLite file in a temp dir, or a uniquely named PostgreSQL one."""
    if kind == "sqlite":
        tmp = tempfile.mkdtemp(prefix="scale-bench-")
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            update_database(db)
            yield db
        finally:
            db.dispose()
            shutil.rmtree(tmp, ignore_errors=True)
    elif kind == "postgresql":
        name = f"scale_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        try:
            update_database(db)
            yield db
        finally:
            db.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def _manifest(name: str, cpus: float, mem: float) -> dict[str, Any]:
    return {
        "seedVersion": "1.0.0",
        "job": {
            "name": name,
            "jobVersion": "1.0.0",
            "packageVersion": "1.0.0",
            "title": name.replace("-", " ").title(),
            "description": f"{name} for the scheduling benchmark",
            "maintainer": {"name": "Bench", "email": "bench@example.com"},
            "timeout": 3600,
            "interface": {"command": "exit 0"},
            "resources": {"scalar": [{"name": "cpus", "value": cpus}, {"name": "mem", "value": mem}]},
        },
    }


CPUS_CHOICES = (0.5, 1.0, 1.0, 2.0, 4.0, 8.0)
MEM_CHOICES = (256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0)


def populate(
    db: Database,
    jobs: int,
    when: datetime,
    *,
    cpus_choices: tuple[float, ...] = CPUS_CHOICES,
    mem_choices: tuple[float, ...] = MEM_CHOICES,
) -> None:
    """20 job types of varied sizes and priorities, then ``jobs`` queued jobs in batches.

    The status benchmark passes tiny sizes so 10,000 executions fit on 10 nodes at once.
    """
    types: list[tuple[int, int, dict[str, float]]] = []
    with db.session() as s:
        for i in range(NUM_JOB_TYPES):
            cpus = cpus_choices[i % len(cpus_choices)]
            mem = mem_choices[(i * 3) % len(mem_choices)]
            priority = 50 + 25 * (i % 5)
            name = f"bench-type-{i:02d}"
            row = JobTypeRow(
                name=name,
                version="1.0.0",
                title=name,
                description="benchmark job type",
                manifest=_manifest(name, cpus, mem),
                configuration={"priority": priority},
                max_tries=3,
                created=when,
                last_modified=when,
            )
            s.add(row)
            s.flush()
            types.append((row.id, priority, {"cpus": cpus, "mem": mem, "disk": 0.0, "gpus": 0.0}))
    with db.engine.begin() as conn:
        for start in range(0, jobs, BATCH):
            ids = range(start + 1, min(jobs, start + BATCH) + 1)
            job_rows: list[dict[str, Any]] = []
            queue_rows: list[dict[str, Any]] = []
            for job_id in ids:
                type_id, priority, res = types[job_id % NUM_JOB_TYPES]
                job_rows.append(
                    {
                        "id": job_id,
                        "job_type_id": type_id,
                        "status": "QUEUED",
                        "priority": priority,
                        "input": {"json": {}},
                        "resources": res,
                        "num_exes": 1,
                        "max_tries": 3,
                        "timeout": 3600,
                        "created": when,
                        "queued": when,
                        "last_status_change": when,
                        "last_modified": when,
                    }
                )
                queue_rows.append(
                    {
                        "job_id": job_id,
                        "job_type_id": type_id,
                        "exe_num": 1,
                        "priority": priority,
                        "queued": when,
                        "resources": res,
                        "is_canceled": False,
                    }
                )
            conn.execute(insert(JobRow), job_rows)
            conn.execute(insert(QueueRow), queue_rows)
        if db.engine.dialect.name == "postgresql" and jobs:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('job', 'id'), :n)"), {"n": jobs})


def reset_peak_rss() -> None:
    """Start this process's peak RSS (VmHWM) afresh: Linux resets it on ``5`` in clear_refs."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not allowed: the peak then includes what ran before


def peak_rss_mb() -> float:
    """Peak resident memory of this process (the one running the scheduler's loops) in MiB:
    VmHWM from /proc, which :func:`reset_peak_rss` can reset; else ``getrusage``'s lifetime peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_script(seed: int) -> SimScript:
    """Each main task runs 1–5 simulated seconds, fixed per job id and seed; all exit 0."""

    def script(spec: TaskSpec) -> tuple[float, int]:
        job_id = int(spec.env.get("SCALE_JOB_ID", "0"))
        return float(1 + (job_id * 2654435761 + seed) % 5), 0

    return script


def _counts(db: Database) -> tuple[int, int]:
    """(rows still in the queue, jobs not yet in a final status)."""
    with db.read() as s:
        queued = s.scalar(select(func.count()).select_from(QueueRow)) or 0
        open_jobs = s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status.not_in(FINAL))) or 0
    return int(queued), int(open_jobs)


def run_benchmark(
    db: Database,
    *,
    db_kind: str,
    nodes: int,
    jobs: int,
    max_passes: int,
    seed: int = 0,
    progress: bool = True,
) -> BenchResult:
    """Populate ``db`` (fresh, migrated), run the scheduler until every job is final or the
    pass bound is hit, and return the measurements."""
    result = BenchResult(db=db_kind, nodes=nodes, jobs=jobs)
    clock = FakeClock()
    t0 = time.perf_counter()
    populate(db, jobs, clock.now() - timedelta(seconds=1))
    result.setup_s = time.perf_counter() - t0
    reset_peak_rss()  # the peak of the scheduling run, not of the bulk insert before it

    backend = SimBackend(make_sim_nodes(nodes, seed=seed), clock=clock, script=make_script(seed))
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

    queued, open_jobs = _counts(db)
    loop_s = 0.0
    while open_jobs and result.passes < max_passes:
        start = time.perf_counter()
        clock.advance(1.0)
        now = clock.now()
        tick = time.perf_counter()
        scheduler.scheduling_tick(now)
        tick_ms = (time.perf_counter() - tick) * 1000.0
        scheduler.task_handling_tick(now)
        scheduler.messaging_tick(now)
        worker.drain()
        loop_s += time.perf_counter() - start
        result.passes += 1
        if queued:  # the queue was non-empty when this pass began
            result.pass_ms.append(tick_ms)
        queued, open_jobs = _counts(db)  # bookkeeping: not counted in the loop time
        if progress and result.passes % 10 == 0:
            print(
                f"pass {result.passes}: queued={queued} open={open_jobs} loop_s={loop_s:.1f} "
                f"last_pass_ms={tick_ms:.1f}",
                file=sys.stderr,
                flush=True,
            )
    result.loop_wall_s = loop_s
    result.not_final = open_jobs
    if not open_jobs:
        result.time_to_all_final_s = loop_s

    with db.read() as s:
        result.executions = int(s.scalar(select(func.count()).select_from(JobExecutionRow)) or 0)
        result.completed = int(
            s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status == "COMPLETED")) or 0
        )
        result.max_num_exes = int(s.scalar(select(func.max(JobRow.num_exes))) or 0)
    result.peak_rss_mb = peak_rss_mb()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--max-passes", type=int, default=100_000, help="safety bound on passes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print("SIMULATION: the scheduler on the sim backend; no real tasks run.", flush=True)
    tune_gc_for_scheduler()  # as `scale scheduler` and `scale up` do
    with fresh_database(args.db) as db:
        result = run_benchmark(
            db, db_kind=args.db, nodes=args.nodes, jobs=args.jobs, max_passes=args.max_passes, seed=args.seed
        )
    print(result.table())
    if result.executions != args.jobs:
        print(f"WARNING: {result.executions} executions for {args.jobs} jobs", flush=True)
    if result.not_final:
        print(f"WARNING: {result.not_final} jobs not final after {result.passes} passes", flush=True)
    print(result.result_line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
