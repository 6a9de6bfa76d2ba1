"""PATCH ``/v6/job-types/{name}/{version}/`` and the revisions list and detail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobTypeRevisionRow, JobTypeRow
from tests.api.factories import count_rows, job_type_body, minimal_manifest
from tests.factories import make_job_type

URL = "/v6/job-types/test-job/1.0.0/"
TABLES = (JobTypeRow, JobTypeRevisionRow, ErrorRow)
OK = {"is_valid": True, "errors": [], "warnings": []}


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v6/job-types/", json=job_type_body(**body))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def detail(client: TestClient) -> dict[str, Any]:
    result: dict[str, Any] = client.get(URL).json()
    return result


# --------------------------------------------------------------------------- PATCH


def test_patch_of_flags_keeps_the_revision(client: TestClient, clock: FakeClock) -> None:
    create(client)
    clock.advance(60)
    response = client.patch(
        URL,
        json={
            "icon_code": "f013",
            "is_published": True,
            "max_scheduled": 4,
            "max_tries": 7,
            "configuration": {"priority": 9},
            "auto_update": False,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == OK
    body = detail(client)
    assert (body["icon_code"], body["is_published"], body["max_scheduled"], body["max_tries"]) == (
        "f013",
        True,
        4,
        7,
    )
    assert body["configuration"] == {"priority": 9}
    assert body["revision_num"] == 1
    assert body["last_modified"] == "2026-01-01T00:01:00Z"


def test_patch_pause_and_deactivate_stamp_and_clear_the_times(client: TestClient, clock: FakeClock) -> None:
    create(client)
    clock.advance(60)
    assert client.patch(URL, json={"is_paused": True, "is_active": False}).status_code == 200
    body = detail(client)
    assert (body["is_paused"], body["paused"]) == (True, "2026-01-01T00:01:00Z")
    assert (body["is_active"], body["deprecated"]) == (False, "2026-01-01T00:01:00Z")
    assert client.patch(URL, json={"is_paused": False, "is_active": True}).status_code == 200
    body = detail(client)
    assert (body["is_paused"], body["paused"], body["is_active"], body["deprecated"]) == (
        False,
        None,
        True,
        None,
    )


def test_patch_can_clear_max_scheduled_and_icon_with_null(client: TestClient) -> None:
    create(client, max_scheduled=3, icon_code="f013")
    assert client.patch(URL, json={"max_scheduled": None, "icon_code": None}).status_code == 200
    body = detail(client)
    assert (body["max_scheduled"], body["icon_code"]) == (None, None)


def test_patch_of_manifest_makes_a_revision_and_the_error_rows(client: TestClient, db: Database) -> None:
    first = create(client)
    manifest = minimal_manifest(
        command="echo changed", errors=[{"code": 3, "name": "oops", "title": "Oops", "category": "data"}]
    )
    response = client.patch(URL, json={"manifest": manifest})
    assert response.status_code == 200, response.text
    body = detail(client)
    assert body["revision_num"] == 2
    assert body["manifest"] == manifest
    assert body["configuration"] == first["configuration"]
    with db.read() as session:
        revisions = session.scalars(
            select(JobTypeRevisionRow.revision_num).where(JobTypeRevisionRow.job_type_id == first["id"])
        )
        assert sorted(revisions) == [1, 2]
        error = session.scalars(select(ErrorRow).where(ErrorRow.job_type_name == "test-job")).one()
    assert (error.name, error.category) == ("oops", "DATA")


def test_patch_of_docker_image_makes_a_revision(client: TestClient) -> None:
    create(client)
    assert client.patch(URL, json={"docker_image": "repo/img:2"}).status_code == 200
    body = detail(client)
    assert (body["docker_image"], body["revision_num"]) == ("repo/img:2", 2)
    assert client.patch(URL, json={"docker_image": "repo/img:2"}).status_code == 200
    assert detail(client)["revision_num"] == 2


def test_patch_of_unknown_job_type_is_404(client: TestClient) -> None:
    response = client.patch("/v6/job-types/nope/1.0.0/", json={"is_paused": True})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"surprise": 1}, "surprise"),
        ({"manifest": minimal_manifest("other-job")}, "manifest.job.name"),
        ({"manifest": minimal_manifest(version="2.0.0")}, "manifest.job.jobVersion"),
        ({"manifest": {"seedVersion": "1.0.0"}}, "manifest"),
        ({"manifest": [1]}, "manifest"),
        ({"docker_image": 5}, "docker_image"),
        ({"docker_image": None}, "docker_image"),
        ({"max_tries": 0}, "max_tries"),
        ({"max_scheduled": 0}, "max_scheduled"),
        ({"configuration": {"priority": 0}}, "configuration.priority"),
        ({"configuration": {"colour": "red"}}, "configuration.colour"),
        ({"is_paused": "yes"}, "is_paused"),
        ({"is_active": None}, "is_active"),
        ({"icon_code": "x" * 21}, "icon_code"),
        ({"is_paused": True, "max_tries": 0}, "max_tries"),
    ],
)
def test_patch_rejects_bad_input_naming_the_field_and_writes_nothing(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    create(client)
    before_rows = count_rows(db, *TABLES)
    before = detail(client)
    response = client.patch(URL, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert count_rows(db, *TABLES) == before_rows
    assert detail(client) == before


# --------------------------------------------------------------------------- revisions


def test_revisions_newest_first_with_paging(client: TestClient) -> None:
    first = create(client)
    client.patch(URL, json={"docker_image": "img:2"})
    client.patch(URL, json={"docker_image": "img:3"})
    response = client.get(URL + "revisions/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [r["revision_num"] for r in body["results"]] == [3, 2, 1]
    newest = body["results"][0]
    assert set(newest) == {"id", "job_type", "revision_num", "docker_image", "created"}
    assert newest["job_type"] == {"id": first["id"], "name": "test-job", "version": "1.0.0"}
    assert newest["docker_image"] == "img:3"
    assert newest["created"] == "2026-01-01T00:00:00Z"

    page = client.get(URL + "revisions/?page=2&page_size=2").json()
    assert [r["revision_num"] for r in page["results"]] == [1]
    assert page["next"] is None
    assert page["previous"] == "/v6/job-types/test-job/1.0.0/revisions/?page_size=2&page=1"
    past = client.get(URL + "revisions/?page=9&page_size=2")
    assert past.status_code == 200
    assert past.json()["results"] == []


def test_revision_detail_adds_the_manifest(client: TestClient) -> None:
    first = create(client)
    response = client.get(URL + "revisions/1/")
    assert response.status_code == 200
    body = response.json()
    assert body["revision_num"] == 1
    assert body["manifest"] == first["manifest"]
    assert body["job_type"]["id"] == first["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/v6/job-types/nope/1.0.0/revisions/",
        "/v6/job-types/nope/1.0.0/revisions/1/",
        URL + "revisions/2/",
    ],
)
def test_unknown_revisions_are_404(client: TestClient, path: str) -> None:
    create(client)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("num", ["0", "x", str(2**31)])
def test_bad_revision_number_is_400(client: TestClient, num: str) -> None:
    create(client)
    response = client.get(URL + f"revisions/{num}/")
    assert response.status_code == 400
    assert "revision_num" in response.json()["detail"]


def test_patch_of_manifest_updates_title_and_description(client: TestClient) -> None:
    create(client)
    manifest = minimal_manifest(title="Renamed", description="New words")
    assert client.patch(URL, json={"manifest": manifest, "docker_image": "img:9"}).status_code == 200
    body = detail(client)
    assert (body["title"], body["description"], body["docker_image"]) == ("Renamed", "New words", "img:9")
    assert body["revision_num"] == 2
    assert client.get(URL + "revisions/").json()["count"] == 2


def test_patch_of_a_job_type_without_revision_rows(client: TestClient, db: Database) -> None:
    make_job_type(db)
    assert client.patch(URL, json={"is_paused": True}).status_code == 200
    assert detail(client)["is_paused"] is True
    assert client.get(URL + "revisions/").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
