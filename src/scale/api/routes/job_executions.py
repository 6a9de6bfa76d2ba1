"""``/v6/job-executions/``: the task output of one execution, as plain text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import PlainTextResponse

from scale.api.deps import MAX_ID, DbDep, SettingsDep
from scale.services import logs

router = APIRouter(prefix="/job-executions", tags=["job executions"])


@router.get(
    "/{exe_id}/logs/{stream}/",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Sections `=== <task> <stream> ===`"},
        404: {"description": "Unknown execution or stream, or no logs are stored for the execution"},
    },
)
def read_execution_logs(
    exe_id: Annotated[int, Path(ge=1, le=MAX_ID)], stream: str, db: DbDep, settings: SettingsDep
) -> PlainTextResponse:
    """The output of tasks pre, main and post; ``stream`` is ``stdout``, ``stderr`` or ``combined``.

    Read from the files the local backend writes; at most 10 MiB (the tail) is returned.
    """
    return PlainTextResponse(logs.read_logs(db, settings.data_dir, exe_id, stream))
