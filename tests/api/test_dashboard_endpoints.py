"""The endpoints Scale's dashboard, Running Jobs and job pages read (issue 17), on a cluster that
really ran jobs (``tests/api/executed.py``): each count equals what the jobs API says, each filter
and page narrows it, and bad input is a 400 naming the field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scale.api.schemas.common import format_time
from scale.store.db import Database
from tests.api.executed import Executed, executed_cluster
from tests.api.factories import job_type_body, minimal_manifest
from tests.factories import T0


@pytest.fixture
def ran(db: Database, tmp_path: Path) -> Iterator[Executed]:
    with executed_cluster(db, tmp_path) as executed:
        yield executed


def _counts_from_jobs(jobs: list[dict[str, Any]]) -> Counter[tuple[str, str | None]]:
    return Counter(
        (j["status"], j["error"]["category"] if j["status"] == "FAILED" and j["error"] else None)
        for j in jobs
    )


def _iso(when: datetime) -> str:
    return format_time(when)


def _detail(response: Any) -> str:
    detail: str = response.json()["detail"]
    return detail


# --------------------------------------------------------------------------- job types' status


def test_job_types_status_counts_equal_the_jobs_api_and_filter_and_page(ran: Executed) -> None:
    c = ran.client
    jobs = ran.jobs()
    assert len(jobs) == 8
    body = c.get("/v6/job-types/status/").json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert entry["job_type"]["id"] == ran.type_id and entry["job_type"]["is_active"] is True
    counted = Counter({(x["status"], x["category"]): x["count"] for x in entry["job_counts"]})
    assert counted == _counts_from_jobs(jobs)
    assert counted[("COMPLETED", None)] == 3 and counted[("RUNNING", None)] == 2
    assert counted[("FAILED", "DATA")] == 1 and counted[("FAILED", "ALGORITHM")] == 2
    for x in entry["job_counts"]:
        same = [j for j in jobs if _counts_from_jobs([j]) == Counter({(x["status"], x["category"]): 1})]
        assert x["most_recent"] == max(j["last_status_change"] for j in same)

    # A range after every status change: only RUNNING jobs count, whatever the range.
    later = c.get("/v6/job-types/status/", params={"started": _iso(ran.harness.clock.now())}).json()
    assert [(x["status"], x["count"]) for x in later["results"][0]["job_counts"]] == [("RUNNING", 2)]
    # A duration works as in Scale: the last 3 hours hold everything.
    assert c.get("/v6/job-types/status/", params={"started": "PT3H"}).json() == body

    # is_active and paging
    assert c.get("/v6/job-types/status/", params={"is_active": "false"}).json()["count"] == 0
    assert c.post("/v6/job-types/", json=job_type_body(minimal_manifest("zz-other"))).status_code == 201
    first = c.get("/v6/job-types/status/", params={"page_size": 1}).json()
    assert first["count"] == 2 and len(first["results"]) == 1 and first["next"] is not None
    second = c.get(first["next"]).json()
    assert second["results"][0]["job_type"]["name"] == "zz-other"
    assert second["results"][0]["job_counts"] == []


def test_job_types_status_refuses_bad_times_naming_the_field(ran: Executed) -> None:
    c = ran.client
    for params, field in (
        ({"started": "soon"}, "started"),
        ({"ended": "later"}, "ended"),
        ({"started": "2026-02-01T00:00:00Z", "ended": "2026-01-01T00:00:00Z"}, "started"),
        ({"is_active": "perhaps"}, "is_active"),
        ({"page_size": 0}, "page_size"),
    ):
        response = c.get("/v6/job-types/status/", params=params)
        assert response.status_code == 400, (params, response.text)
        assert _detail(response).startswith(f"{field}: "), response.text


def test_running_and_pending_job_types_equal_the_jobs_api(ran: Executed) -> None:
    c = ran.client
    running = ran.jobs(status="RUNNING")
    assert {j["id"] for j in running} == set(ran.running_job_ids)
    body = c.get("/v6/job-types/running/", params={"page": 1, "page_size": 20}).json()
    assert body["count"] == 1
    (entry,) = body["results"]
    assert entry["count"] == len(running) == 2
    assert entry["longest_running"] == min(j["started"] for j in running)
    assert entry["job_type"]["id"] == ran.type_id
    # Nothing is PENDING: jobs are queued as they are made.
    assert ran.jobs(status="PENDING") == []
    assert c.get("/v6/job-types/pending/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    # Once they end, nothing runs.
    assert c.post("/v6/jobs/cancel/", json={"job_ids": ran.running_job_ids}).status_code == 202
    ran.harness.run_until(lambda: not ran.jobs(status="RUNNING"))
    assert c.get("/v6/job-types/running/").json()["count"] == 0
    assert c.get("/v6/job-types/running/", params={"page": 0}).status_code == 400


# --------------------------------------------------------------------------- metrics


def test_metrics_catalogue_and_plot_data_equal_the_jobs_api(ran: Executed) -> None:
    c = ran.client
    listed = c.get("/v6/metrics/").json()
    assert [m["name"] for m in listed["results"]] == ["job-types"]
    detail = c.get("/v6/metrics/job-types/").json()
    assert [ch["id"] for ch in detail["choices"]] == [ran.type_id]
    assert {"completed_count", "failed_count", "error_data_count", "job_time_avg"} <= {
        col["name"] for col in detail["columns"]
    }
    missing = c.get("/v6/metrics/recipe-types/")
    assert missing.status_code == 404 and "recipe-types" in _detail(missing)

    jobs = ran.jobs()
    window = {"started": _iso(T0 - timedelta(hours=1)), "ended": _iso(ran.harness.clock.now())}
    series = c.get("/v6/metrics/job-types/plot-data/", params=window).json()
    by_column = {s["column"]["name"]: s for s in series["results"]}
    assert series["count"] == len(detail["columns"])

    def total(name: str) -> float:
        return sum(v["value"] for v in by_column[name]["values"])

    statuses = Counter(j["status"] for j in jobs)
    assert total("completed_count") == statuses["COMPLETED"] == 3
    assert total("failed_count") == statuses["FAILED"] == 3
    assert total("total_count") == 6  # the two RUNNING jobs have not ended
    failed = [j for j in jobs if j["status"] == "FAILED"]
    assert total("error_data_count") == sum(1 for j in failed if j["error"]["category"] == "DATA") == 1
    assert total("error_algorithm_count") == 2 and total("error_system_count") == 0
    completed = by_column["completed_count"]
    assert completed["min_x"] == completed["max_x"] == "2026-01-01"
    assert [(v["datetime"], v["date"]) for v in completed["values"]] == [
        ("2026-01-01T00:00:00Z", "2026-01-01")
    ]
    # Every execution that ended ran for a positive time.
    assert by_column["job_time_min"]["values"][0]["value"] > 0

    # Columns and groups select series; unknown ones are 400s naming the parameter.
    picked = c.get(
        "/v6/metrics/job-types/plot-data/", params={**window, "column": ["completed_count", "failed_count"]}
    ).json()
    assert [s["column"]["name"] for s in picked["results"]] == ["completed_count", "failed_count"]
    errors = c.get("/v6/metrics/job-types/plot-data/", params={**window, "group": "errors"}).json()
    assert {s["column"]["group"] for s in errors["results"]} == {"errors"} and errors["count"] == 3
    for params, field in (
        ({"column": "nope"}, "column"),
        ({"group": "nope"}, "group"),
        ({"choice_id": 999999}, "choice_id"),
        ({"choice_id": "x"}, "choice_id"),
        ({"started": "whenever"}, "started"),
    ):
        bad = c.get("/v6/metrics/job-types/plot-data/", params=params)
        assert bad.status_code == 400 and _detail(bad).startswith(f"{field}: "), bad.text

    # Several choices: one value per job type, naming it; the other type has no jobs.
    other = c.post("/v6/job-types/", json=job_type_body(minimal_manifest("other"))).json()["id"]
    per_type = c.get(
        "/v6/metrics/job-types/plot-data/",
        params={**window, "column": "completed_count", "choice_id": [ran.type_id, other]},
    ).json()
    assert [(v["id"], v["value"]) for v in per_type["results"][0]["values"]] == [(ran.type_id, 3)]
    only_other = c.get(
        "/v6/metrics/job-types/plot-data/", params={**window, "column": "completed_count", "choice_id": other}
    ).json()
    assert only_other["results"][0]["values"] == [] and only_other["results"][0]["min_y"] is None
    # Paging over the series
    paged = c.get("/v6/metrics/job-types/plot-data/", params={**window, "page_size": 2, "page": 2}).json()
    assert [s["column"]["name"] for s in paged["results"]] == [
        s["column"]["name"] for s in series["results"][2:4]
    ]


# --------------------------------------------------------------------------- load


def test_load_per_hour_equals_the_jobs_api(ran: Executed) -> None:
    c = ran.client
    now = ran.harness.clock.now()
    jobs = ran.jobs()
    body = c.get("/v6/load/", params={"started": _iso(T0 - timedelta(hours=1)), "ended": _iso(now)}).json()
    points = {p["time"]: p for p in body["results"]}
    assert list(points) == ["2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]
    # Before anything: nothing. At T0 the six first jobs had just been queued.
    assert points["2025-12-31T23:00:00Z"] == {
        "time": "2025-12-31T23:00:00Z",
        "pending_count": 0,
        "queued_count": 0,
        "running_count": 0,
    }
    queued_at_t0 = [j for j in jobs if j["queued"] == "2026-01-01T00:00:00Z"]
    assert points["2026-01-01T00:00:00Z"]["queued_count"] == len(queued_at_t0) == 6
    # An hour on, the two RUNNING jobs run and nothing waits.
    running = ran.jobs(status="RUNNING")
    assert points["2026-01-01T01:00:00Z"]["running_count"] == len(running) == 2
    assert points["2026-01-01T01:00:00Z"]["queued_count"] == len(ran.jobs(status="QUEUED")) == 0

    # Filters: another job type has no load; the default range is the last week.
    other = c.post("/v6/job-types/", json=job_type_body(minimal_manifest("other"))).json()["id"]
    filtered = c.get(
        "/v6/load/", params={"started": _iso(T0), "ended": _iso(now), "job_type_id": other}
    ).json()
    assert all(p["running_count"] == p["queued_count"] == 0 for p in filtered["results"])
    by_name = c.get(
        "/v6/load/", params={"started": _iso(T0), "ended": _iso(now), "job_type_name": "exit-code"}
    )
    assert by_name.json()["results"][-1]["running_count"] == 2
    assert c.get("/v6/load/").json()["count"] == 7 * 24  # whole hours in the last week
    paged = c.get("/v6/load/", params={"page_size": 24, "page": 2}).json()
    assert len(paged["results"]) == 24 and paged["previous"] is not None

    for params, field in (
        ({"started": _iso(now - timedelta(days=40)), "ended": _iso(now)}, "started"),
        ({"started": "soon"}, "started"),
        ({"ended": "x"}, "ended"),
        ({"job_type_id": 0}, "job_type_id"),
    ):
        bad = c.get("/v6/load/", params=params)
        assert bad.status_code == 400 and _detail(bad).startswith(f"{field}: "), bad.text


# --------------------------------------------------------------------------- ingest, files, job details


def test_ingests_and_files_are_truthfully_empty_and_check_their_parameters(ran: Executed) -> None:
    c = ran.client
    job_id = ran.jobs()[0]["id"]
    empty = {"count": 0, "next": None, "previous": None, "results": []}
    for url, params in (
        ("/v6/ingests/status/", {"started": _iso(T0), "ended": _iso(T0 + timedelta(days=1))}),
        ("/v6/ingests/status/", {"started": "PT3H", "use_ingest_time": "true"}),
        ("/v6/files/", {"job_id": job_id, "sortField": "last_modified", "sortOrder": "desc"}),
        (f"/v6/jobs/{job_id}/input_files/", {}),
    ):
        response = c.get(url, params=params)
        assert response.status_code == 200 and response.json() == empty, (url, response.text)
    for url, params, field in (
        ("/v6/ingests/status/", {"started": "nope"}, "started"),
        ("/v6/ingests/status/", {"use_ingest_time": "maybe"}, "use_ingest_time"),
        ("/v6/files/", {"job_id": "abc"}, "job_id"),
        ("/v6/files/", {"sortOrder": "sideways"}, "sortOrder"),
        (f"/v6/jobs/{job_id}/input_files/", {"ended": "x"}, "ended"),
    ):
        bad = c.get(url, params=params)
        assert bad.status_code == 400 and _detail(bad).startswith(f"{field}: "), (url, bad.text)
    unknown = c.get("/v6/jobs/999999/input_files/")
    assert unknown.status_code == 404 and "999999" in _detail(unknown)


def test_job_lists_and_details_carry_the_event_configuration_execution_and_job_type_flags(
    ran: Executed,
) -> None:
    c = ran.client
    for job in ran.jobs():
        detail = c.get(f"/v6/jobs/{job['id']}/").json()
        assert (
            job["event"] == detail["event"] == {"id": job["id"], "type": "USER", "occurred": job["created"]}
        )
        assert job["execution"] == detail["execution"] and job["execution"] is not None
        assert job["execution"]["exe_num"] == job["num_exes"]
        assert detail["configuration"]["priority"] == job["priority"]
        flags = {k: job["job_type"][k] for k in ("is_active", "is_paused", "is_published", "unmet_resources")}
        assert flags == {
            "is_active": True,
            "is_paused": False,
            "is_published": False,
            "unmet_resources": None,
        }
    # A queued job has no execution yet.
    queued = c.post("/v6/jobs/", json={"job_type_id": ran.type_id, "input": {"json": {"CODE": 0}}}).json()
    assert queued["execution"] is None
    assert c.get("/v6/jobs/", params={"job_id": queued["id"]}).json()["results"][0]["execution"] is None
    # The flags follow the job type.
    assert c.patch("/v6/job-types/exit-code/1.0.0/", json={"is_paused": True}).status_code == 200
    assert all(j["job_type"]["is_paused"] for j in ran.jobs())


def test_page_size_null_is_no_page_size(ran: Executed) -> None:
    c = ran.client
    default = c.get("/v6/jobs/").json()
    assert c.get("/v6/jobs/?page_size=null").json() == default
    assert c.get("/v6/jobs/?page=1&page_size=null&status=RUNNING").json()["count"] == 2
    bad = c.get("/v6/jobs/?page_size=nil")
    assert bad.status_code == 400 and _detail(bad).startswith("page_size: ")


# --------------------------------------------------------------------------- logs as JSON


def test_logs_are_json_records_when_asked_and_text_otherwise(ran: Executed) -> None:
    c = ran.client
    finished = ran.jobs(status="COMPLETED")[0]
    exe_id = ran.write_log(finished["id"], "first\nsecond\n")
    url = f"/v6/job-executions/{exe_id}/logs/combined/"
    as_json = c.get(url, headers={"Accept": "application/json, text/plain, */*"})
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    hits = as_json.json()["hits"]["hits"]
    assert [h["_source"]["message"] for h in hits] == ["first\n", "second\n"]
    assert [h["_source"]["scale_order_num"] for h in hits] == [1, 2]
    assert {h["_source"]["stream"] for h in hits} == {"stdout"} and hits[0]["_source"]["scale_task"] == "main"
    stamp = hits[0]["_source"]["@timestamp"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).tzinfo is not None
    # The UI asks again for what came after the last line it has.
    again = c.get(url, params={"started": stamp}, headers={"Accept": "application/json"}).json()
    assert len(again["hits"]["hits"]) == 2
    after = c.get(url, params={"started": "2999-01-01T00:00:00Z"}, headers={"Accept": "application/json"})
    assert after.json()["hits"] == {"total": 0, "hits": []}
    # Text as before when JSON is not asked for first
    text = c.get(url, headers={"Accept": "text/plain, application/json"})
    assert text.headers["content-type"].startswith("text/plain") and "=== main stdout ===" in text.text
    assert c.get(url).text == text.text
    # An execution with no output yet: 204 for JSON (the UI waits), 404 for text, as before.
    other = ran.jobs(status="FAILED")[0]["execution"]["id"]
    empty = c.get(f"/v6/job-executions/{other}/logs/combined/", headers={"Accept": "application/json"})
    assert empty.status_code == 204 and empty.content == b""
    assert c.get(f"/v6/job-executions/{other}/logs/combined/").status_code == 404
    bad = c.get(url, params={"started": "soon"}, headers={"Accept": "application/json"})
    assert bad.status_code == 400 and _detail(bad).startswith("started: ")
    assert (
        c.get("/v6/job-executions/999999/logs/combined/", headers={"Accept": "application/json"}).status_code
        == 404
    )
