"""``/v6/job-executions/``: the task output of one execution, as plain text or, for a client that
asks for JSON, as the log records Scale's UI reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from scale.api.deps import MAX_ID, ClockDep, DbDep, SettingsDep, parse_time
from scale.api.schemas.common import format_time
from scale.services import logs

router = APIRouter(prefix="/job-executions", tags=["job executions"])

#: The JSON form: Elasticsearch's search result, in which Scale kept its logs and which its UI reads
#: (``hits.hits[]._source`` with ``@timestamp``, ``message`` and ``scale_order_num``).
_LOG_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hits"],
    "properties": {
        "hits": {
            "type": "object",
            "required": ["total", "hits"],
            "properties": {
                "total": {"type": "integer"},
                "hits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["_source"],
                        "properties": {
                            "_source": {
                                "type": "object",
                                "required": ["message", "@timestamp", "scale_order_num", "stream"],
                                "properties": {
                                    "message": {"type": "string"},
                                    "@timestamp": {"type": "string", "format": "date-time"},
                                    "scale_order_num": {"type": "integer"},
                                    "scale_task": {"type": "string"},
                                    "scale_job_exe": {"type": "string"},
                                    "scale_node": {"type": "string"},
                                    "stream": {"type": "string", "enum": ["stdout", "stderr"]},
                                },
                            }
                        },
                    },
                },
            },
        }
    },
}


def wants_json(accept: str | None) -> bool:
    """Whether the client asked for JSON before plain text (``application/json, text/plain, */*``
    is what Angular's HttpClient sends)."""
    if not accept:
        return False
    types = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    if "application/json" not in types:
        return False
    return "text/plain" not in types or types.index("application/json") < types.index("text/plain")


@router.get(
    "/{exe_id}/logs/{stream}/",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": _LOG_JSON_SCHEMA},
            },
            "description": "Text: sections `=== <task> <stream> ===`. "
            "JSON (with `Accept: application/json`): "
            "one record per line",
        },
        204: {"description": "JSON only: the execution has no output yet"},
        404: {"description": "Unknown execution or stream, or (text) no logs are stored for the execution"},
    },
)
def read_execution_logs(
    exe_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    stream: str,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    clock: ClockDep,
    started: Annotated[
        str | None, Query(description="JSON only: lines written at or after (datetime or duration)")
    ] = None,
    ended: Annotated[str | None, Query(description="JSON only: lines written at or before")] = None,
) -> Response:
    """The output of tasks pre, main and post; ``stream`` is ``stdout``, ``stderr`` or ``combined``.

    Read from the files the local backend writes; at most 10 MiB (the tail) of each is returned.
    """
    now = clock.now()
    since, until = parse_time("started", started, now), parse_time("ended", ended, now)
    if not wants_json(request.headers.get("accept")):
        return PlainTextResponse(logs.read_logs(db, settings.data_dir, exe_id, stream))
    entries = logs.read_log_entries(db, settings.data_dir, exe_id, stream, started=since, ended=until)
    if entries is None:
        return Response(status_code=204)
    hits = [
        {
            "_source": {
                "message": e.message,
                "@timestamp": format_time(e.timestamp),
                "scale_order_num": e.order_num,
                "scale_task": e.task,
                "scale_job_exe": e.cluster_id,
                "scale_node": e.hostname,
                "stream": e.stream,
            }
        }
        for e in entries
    ]
    return JSONResponse({"hits": {"total": len(hits), "hits": hits}})
