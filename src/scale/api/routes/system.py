"""System services: ``/v6/status/`` and ``/v6/version/`` (spec 000, "v6 System Services")."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

import scale
from scale.api.deps import ClockDep, DbDep, SettingsDep
from scale.api.schemas.system import VersionOut
from scale.services.status import read_status

router = APIRouter(tags=["system"])


@router.get(
    "/status/",
    response_model=None,
    responses={
        200: {"description": "The latest status snapshot, verbatim", "content": {"application/json": {}}},
        204: {"description": "The scheduler is offline: no snapshot, or one more than 12 s old"},
    },
)
def get_status(db: DbDep, clock: ClockDep, settings: SettingsDep) -> Response:
    """The scheduler's status snapshot, or 204 with an empty body when the scheduler is offline."""
    status = read_status(db, clock.now(), settings.status_freshness_s)
    if status is None:
        return Response(status_code=204)
    return JSONResponse(status)


@router.get("/version/")
def get_version() -> VersionOut:
    """Always open: load balancers use it as a health check."""
    return VersionOut(version=scale.__version__)
