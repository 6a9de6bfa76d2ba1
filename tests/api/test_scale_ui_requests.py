"""Scale's own web UI (ngageoint/scale-ui v0.17) against this API: each request its dashboard,
Running Jobs, Jobs and job detail pages send, exactly as they send it (issue 17: ``page_size=1000``,
``page_size=null``, repeated ``column=``, ``dataType=``, a trailing ``&``, and ``started``/``ended``
as moment's ``toISOString()`` or ``YYYY-MM-DD``), on a cluster that really ran jobs. Every field
the pages read (their models and templates) must be there with its type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scale.store.db import Database
from tests.api.executed import Executed, executed_cluster

STR, INT, BOOL, NUM = str, int, bool, (int, float)
NONE = type(None)


class Time:
    """An ISO-8601 datetime with a zone, as moment.utc() reads it."""


class Date:
    """``YYYY-MM-DD``."""


OPT_STR = (str, NONE)
OPT_TIME = (Time, NONE)

#: The job type as the pages read it (navbar, dashboard items, running jobs, job list marks).
JOB_TYPE = {
    "id": INT,
    "name": STR,
    "version": STR,
    "title": OPT_STR,
    "description": OPT_STR,
    "icon_code": OPT_STR,
    "is_system": BOOL,
    "is_active": BOOL,
    "is_paused": BOOL,
    "is_published": BOOL,
    "unmet_resources": OPT_STR,
}
EXECUTION = {
    "id": INT,
    "status": STR,
    "exe_num": INT,
    "cluster_id": STR,
    "created": Time,
    "queued": Time,
    "started": Time,
    "ended": OPT_TIME,
    "last_modified": Time,
    "job": {"id": INT},
    "node": {"id": INT, "hostname": STR},
    "job_type": {"id": INT, "name": STR, "version": STR},
    "timeout": INT,
    "job_exit_code": (int, NONE),
}
#: What the Job model's constructor reads (lists and detail): it calls moment on the times and
#: reads event.occurred and execution.ended, so a missing one is a TypeError on every row.
JOB = {
    "id": INT,
    "job_type": JOB_TYPE,
    "job_type_rev": {"id": INT, "revision_num": INT},
    "event": {"id": INT, "type": STR, "occurred": Time},
    "status": STR,
    "priority": INT,
    "num_exes": INT,
    "timeout": INT,
    "max_tries": INT,
    "is_superseded": BOOL,
    "created": Time,
    "queued": OPT_TIME,
    "started": OPT_TIME,
    "ended": OPT_TIME,
    "last_status_change": OPT_TIME,
    "last_modified": Time,
    "execution": EXECUTION,
}
JOB_DETAIL = {
    **JOB,
    "input": {"json": dict, "files": dict},
    "inputs": [{"name": STR, "type": STR}],
    "outputs": list,
    "configuration": {"priority": INT, "settings": dict, "mounts": dict},
    "resources": {"resources": {"cpus": NUM, "mem": NUM}},
}


def page(item: Any, *, empty: bool = False) -> dict[str, Any]:
    return {"count": INT, "next": OPT_STR, "previous": OPT_STR, "results": [] if empty else [item]}


def problems(value: Any, spec: Any, where: str = "") -> list[str]:
    """Where ``value`` lacks a field of ``spec`` or has the wrong type. A list spec ``[item]``
    needs a non-empty list whose every element matches ``item``; ``[]`` an empty list."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where or 'body'}: not an object ({type(value).__name__})"]
        found: list[str] = []
        for key, sub in spec.items():
            if key not in value:
                found.append(f"{where}.{key}: missing")
            else:
                found += problems(value[key], sub, f"{where}.{key}")
        return found
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        if not spec:
            return [] if value == [] else [f"{where}: expected empty, got {len(value)}"]
        if not value:
            return [f"{where}: empty, expected items"]
        return [p for i, v in enumerate(value) for p in problems(v, spec[0], f"{where}[{i}]")]
    kinds = spec if isinstance(spec, tuple) else (spec,)
    for kind in kinds:
        if kind is Time and isinstance(value, str) and _is_time(value):
            return []
        if kind is Date and isinstance(value, str) and _is_date(value):
            return []
        if kind is INT and isinstance(value, bool):
            continue
        if isinstance(kind, type) and kind not in (Time, Date) and isinstance(value, kind):
            return []
    return [f"{where}: {value!r} is not {'/'.join(getattr(k, '__name__', str(k)) for k in kinds)}"]


def _is_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def iso(when: datetime) -> str:
    """moment.utc().toISOString(): milliseconds and ``Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@pytest.fixture
def ran(db: Database, tmp_path: Path) -> Iterator[Executed]:
    with executed_cluster(db, tmp_path) as executed:
        yield executed


def _get(ran: Executed, url: str, spec: Any, **headers: str) -> Any:
    response = ran.client.get(url, headers=headers or None)
    assert response.status_code == 200, (url, response.status_code, response.text)
    body = response.json()
    found = problems(body, spec)
    assert not found, (url, found)
    return body


def test_the_dashboard_requests(ran: Executed) -> None:
    now = ran.harness.clock.now()
    day_ago, three_days_ago = iso(now - timedelta(days=1)), iso(now - timedelta(days=3))
    status = _get(
        ran,
        "/v6/job-types/status/?page=1&page_size=1000&is_active=true",
        page(
            {
                "job_type": JOB_TYPE,
                "job_counts": [{"status": STR, "count": INT, "most_recent": Time, "category": OPT_STR}],
            }
        ),
    )
    assert sum(c["count"] for c in status["results"][0]["job_counts"]) == len(ran.jobs()) == 8
    _get(ran, "/v6/job-types/?page_size=1000&is_active=true", page(JOB_TYPE))
    running = _get(ran, "/v6/jobs/?page=1&status=RUNNING", page(JOB))
    assert running["count"] == 2
    column = {"name": STR, "title": STR, "units": STR, "group": STR, "aggregate": STR}
    plot = _get(
        ran,
        "/v6/metrics/job-types/plot-data/?&column=completed_count&column=failed_count"
        f"&dataType=job-types&started={three_days_ago}&ended={iso(now + timedelta(days=1))}"
        "&group=overview&page=1&page_size=null",
        page(
            {
                "column": column,
                "min_x": Date,
                "max_x": Date,
                "min_y": NUM,
                "max_y": NUM,
                "values": [{"date": Date, "datetime": Time, "value": NUM}],
            }
        ),
    )
    # column= and group= add up (as in Scale); the chart keeps the columns it named.
    sums = {r["column"]["name"]: sum(v["value"] for v in r["values"]) for r in plot["results"]}
    assert sums == {"completed_count": 3, "failed_count": 3, "canceled_count": 0, "total_count": 6}
    # The job history chart: one favourite, dates without times, page and page_size null.
    history = _get(
        ran,
        f"/v6/metrics/job-types/plot-data/?choice_id={ran.type_id}&column=completed_count"
        f"&column=failed_count&dataType=job-types&started={(now - timedelta(weeks=1)):%Y-%m-%d}"
        f"&ended={(now + timedelta(days=1)):%Y-%m-%d}&group=overview&group=overview&page=null&page_size=null",
        page({"column": column, "values": [{"date": Date, "value": NUM}]}),
    )
    assert history["results"][0]["values"][0]["date"] == f"{now:%Y-%m-%d}"
    for url in (
        f"/v6/ingests/status/?started={three_days_ago}&ended={iso(now)}",
        f"/v6/ingests/status/?started={three_days_ago}&ended={iso(now)}&use_ingest_time=true",
    ):
        _get(ran, url, page(None, empty=True))
    load = _get(
        ran,
        f"/v6/load/?started={day_ago}&ended={iso(now)}&",
        page({"time": Time, "pending_count": INT, "queued_count": INT, "running_count": INT}),
    )
    assert load["results"][-1]["running_count"] == 2


def test_the_running_jobs_page_request(ran: Executed) -> None:
    body = _get(
        ran,
        "/v6/job-types/running/?page=1&page_size=20",
        page({"job_type": JOB_TYPE, "count": INT, "longest_running": Time}),
    )
    assert body["results"][0]["count"] == 2


def test_the_jobs_list_and_job_detail_requests(ran: Executed) -> None:
    now = ran.harness.clock.now()
    listed = _get(
        ran,
        f"/v6/jobs/?order=-last_modified&page=1&page_size=20&started={iso(now - timedelta(days=1))}"
        f"&ended={iso(now)}&",
        page(JOB),
    )
    assert listed["count"] == 8
    job = next(j for j in listed["results"] if j["status"] == "COMPLETED")
    detail = _get(ran, f"/v6/jobs/{job['id']}/", JOB_DETAIL)
    assert detail["event"]["type"] == "USER" and detail["configuration"]["priority"] == job["priority"]
    _get(ran, f"/v6/jobs/{job['id']}/input_files/", page(None, empty=True))
    _get(ran, f"/v6/files/?job_id={job['id']}&sortField=last_modified&sortOrder=desc", page(None, empty=True))
    _get(ran, f"/v6/jobs/{job['id']}/executions/", page(EXECUTION))
    # The log viewer: Angular's HttpClient asks for JSON first.
    exe_id = ran.write_log(job["id"])
    logs = _get(
        ran,
        f"/v6/job-executions/{exe_id}/logs/combined/",
        {"hits": {"hits": [{"_source": {"@timestamp": Time, "scale_order_num": INT, "message": STR}}]}},
        Accept="application/json, text/plain, */*",
    )
    assert "".join(h["_source"]["message"] for h in logs["hits"]["hits"]) == "line one\nline two\n"
    # The same viewer polls with started= the last line's time.
    since = logs["hits"]["hits"][-1]["_source"]["@timestamp"]
    _get(
        ran,
        f"/v6/job-executions/{exe_id}/logs/combined/?started={since}",
        {"hits": {"hits": [{"_source": {"scale_order_num": INT}}]}},
        Accept="application/json, text/plain, */*",
    )
