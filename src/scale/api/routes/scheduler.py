"""``/v6/scheduler/``: the runtime scheduler settings, and the queued resources (Scale HEAD)."""

from __future__ import annotations

from fastapi import APIRouter

from scale.api.deps import ClockDep, DbDep
from scale.api.openapi import NOT_FOUND
from scale.api.schemas.scheduler import QueuedResourcesOut, SchedulerOut, SchedulerPatch
from scale.services import scheduler_settings

router = APIRouter(prefix="/scheduler", tags=["scheduler"])


@router.get("/", responses=NOT_FOUND)
def read_scheduler(db: DbDep) -> SchedulerOut:
    return SchedulerOut.from_view(scheduler_settings.get_scheduler_settings(db))


@router.patch("/", responses=NOT_FOUND)
def update_scheduler(body: SchedulerPatch, db: DbDep, clock: ClockDep) -> SchedulerOut:
    """Change any subset of the settings; the scheduler applies them within its 10 s sync.

    Returns 200 with the settings as they now are, not Scale HEAD's 204: a client sees the result
    (e.g. the upper-cased ``queue_mode``) without a second GET, as spec-era Scale did.
    """
    view = scheduler_settings.update_scheduler_settings(db, body.to_changes(), now=clock.now())
    return SchedulerOut.from_view(view)


@router.get("/queued-resources/")
def read_queued_resources(db: DbDep) -> QueuedResourcesOut:
    """The cluster's total resources (from the latest status), and per job status (PENDING,
    QUEUED, RUNNING) the number of jobs and the sum of their resources."""
    return QueuedResourcesOut.from_view(scheduler_settings.get_queued_resources(db))
