"""Correctness of the scheduling benchmark at a small size (no timing assertions): every job
ends COMPLETED and none runs twice. The sim backend is a simulation."""

from __future__ import annotations

from bench.scheduling import run_benchmark
from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import JobExecutionRow, JobRow

NODES = 50
JOBS = 2000
MAX_PASSES = 500


def test_every_job_completes_once(db: Database) -> None:
    kind = db.engine.dialect.name
    result = run_benchmark(db, db_kind=kind, nodes=NODES, jobs=JOBS, max_passes=MAX_PASSES, progress=False)

    assert result.passes < MAX_PASSES
    assert result.completed == JOBS
    assert result.not_final == 0
    assert result.executions == JOBS
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(JobExecutionRow)) == JOBS
        assert s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status != "COMPLETED")) == 0
        assert set(s.scalars(select(JobRow.num_exes).distinct())) == {1}
        per_job = select(JobExecutionRow.job_id).group_by(JobExecutionRow.job_id).having(func.count() > 1)
        assert list(s.scalars(per_job)) == []
