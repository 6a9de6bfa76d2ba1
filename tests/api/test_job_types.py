"""``/v6/job-types/``: POST creates (201) or edits (200), validation, list, versions, detail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.tables import ErrorRow, JobTypeRevisionRow, JobTypeRow
from tests.api.factories import count_rows, job_type_body, minimal_manifest

LIST_FIELDS = {
    "id",
    "name",
    "version",
    "title",
    "description",
    "icon_code",
    "is_published",
    "is_active",
    "is_paused",
    "is_system",
    "is_long_running",
    "max_scheduled",
    "unmet_resources",
    "revision_num",
    "docker_image",
    "created",
    "deprecated",
    "paused",
    "last_modified",
}
DETAIL_FIELDS = LIST_FIELDS | {"max_tries", "manifest", "configuration"}
TABLES = (JobTypeRow, JobTypeRevisionRow, ErrorRow)


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v6/job-types/", json=job_type_body(**body))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


# --------------------------------------------------------------------------- create


def test_create_returns_201_with_the_detail_and_location(client: TestClient, clock: FakeClock) -> None:
    manifest = minimal_manifest("my-algo", "2.1.0")
    response = client.post("/v6/job-types/", json=job_type_body(manifest, docker_image="repo/my-algo:2.1"))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v6/job-types/my-algo/2.1.0/"
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["name"] == "my-algo"
    assert body["version"] == "2.1.0"
    assert body["title"] == "My Algo"
    assert body["docker_image"] == "repo/my-algo:2.1"
    assert body["revision_num"] == 1
    assert body["max_tries"] == 3
    assert body["configuration"] == {"priority": 100}
    assert body["manifest"] == manifest
    assert (body["is_active"], body["is_paused"], body["is_system"], body["is_published"]) == (
        True,
        False,
        False,
        False,
    )
    assert body["created"] == "2026-01-01T00:00:00Z"
    assert body["deprecated"] is None
    assert client.get(response.headers["location"]).json() == body


def test_create_stores_the_options_given(client: TestClient, clock: FakeClock) -> None:
    body = create(
        client,
        configuration={"priority": 7, "settings": {"DB_HOST": "db"}, "mounts": {}, "output_workspaces": {}},
        icon_code="f013",
        is_published=True,
        max_scheduled=4,
        is_paused=True,
        is_active=False,
        max_tries=5,
    )
    assert body["configuration"] == {
        "priority": 7,
        "settings": {"DB_HOST": "db"},
        "mounts": {},
        "output_workspaces": {},
    }
    assert (body["icon_code"], body["is_published"], body["max_scheduled"], body["max_tries"]) == (
        "f013",
        True,
        4,
        5,
    )
    assert body["is_paused"] is True
    assert body["paused"] == "2026-01-01T00:00:00Z"
    assert body["is_active"] is False
    assert body["deprecated"] == "2026-01-01T00:00:00Z"


def test_create_makes_revision_1_and_the_error_rows(client: TestClient, db: Database) -> None:
    manifest = minimal_manifest(
        errors=[
            {"code": 1, "name": "bad-data", "title": "Bad Data", "description": "d1", "category": "data"},
            {"code": 2, "name": "crashed", "title": "Crashed", "category": "job"},
        ]
    )
    body = create(client, manifest=manifest)
    with db.read() as session:
        revisions = session.scalars(
            select(JobTypeRevisionRow).where(JobTypeRevisionRow.job_type_id == body["id"])
        )
        assert [r.revision_num for r in revisions] == [1]
        errors = {
            e.name: e for e in session.scalars(select(ErrorRow).where(ErrorRow.job_type_name == "test-job"))
        }
    assert set(errors) == {"bad-data", "crashed"}
    assert (errors["bad-data"].category, errors["bad-data"].title, errors["bad-data"].description) == (
        "DATA",
        "Bad Data",
        "d1",
    )
    assert errors["crashed"].category == "ALGORITHM"
    assert not errors["crashed"].is_builtin
    assert not errors["crashed"].should_be_retried


def test_repost_edits_and_makes_revision_2_when_the_manifest_changes(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    # Given a job type
    first = create(client)
    clock.advance(60)
    # When the same name and version is posted with a changed manifest
    changed = minimal_manifest(timeout=120, errors=[{"code": 3, "name": "oom", "category": "job"}])
    response = client.post("/v6/job-types/", json=job_type_body(changed, configuration={"priority": 5}))
    # Then it is edited, and the result is Scale's validation shape
    assert response.status_code == 200, response.text
    assert response.json() == {"is_valid": True, "errors": [], "warnings": []}
    detail = client.get("/v6/job-types/test-job/1.0.0/").json()
    assert detail["id"] == first["id"]
    assert detail["revision_num"] == 2
    assert detail["manifest"] == changed
    assert detail["configuration"] == {"priority": 5}
    assert detail["created"] == first["created"]
    assert detail["last_modified"] == "2026-01-01T00:01:00Z"
    with db.read() as session:
        nums = session.scalars(
            select(JobTypeRevisionRow.revision_num).where(JobTypeRevisionRow.job_type_id == first["id"])
        )
        assert sorted(nums) == [1, 2]
        assert session.scalar(select(ErrorRow.category).where(ErrorRow.name == "oom")) == "ALGORITHM"


def test_repost_of_a_new_docker_image_makes_a_revision(client: TestClient) -> None:
    create(client)
    client.post("/v6/job-types/", json=job_type_body(docker_image="repo/img:2"))
    detail = client.get("/v6/job-types/test-job/1.0.0/").json()
    assert (detail["revision_num"], detail["docker_image"]) == (2, "repo/img:2")


def test_repost_of_flags_only_keeps_the_revision_and_other_fields(client: TestClient) -> None:
    create(client, max_tries=5, configuration={"priority": 9}, icon_code="f1")
    response = client.post("/v6/job-types/", json=job_type_body(is_paused=True))
    assert response.status_code == 200
    detail = client.get("/v6/job-types/test-job/1.0.0/").json()
    assert detail["revision_num"] == 1
    assert detail["is_paused"] is True
    assert (detail["max_tries"], detail["configuration"], detail["icon_code"]) == (5, {"priority": 9}, "f1")


def test_repost_can_clear_max_scheduled_with_null(client: TestClient) -> None:
    create(client, max_scheduled=3)
    client.post("/v6/job-types/", json=job_type_body(max_scheduled=None))
    assert client.get("/v6/job-types/test-job/1.0.0/").json()["max_scheduled"] is None


# --------------------------------------------------------------------------- rejected


def _without_name() -> dict[str, Any]:
    manifest = minimal_manifest()
    del manifest["job"]["name"]
    return manifest


def _negative_memory() -> dict[str, Any]:
    return minimal_manifest(mem=-64.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (job_type_body(_without_name()), "manifest.job.name"),
        (job_type_body(_negative_memory()), "manifest.job.resources"),
        (job_type_body(minimal_manifest("validation")), "manifest.job.name"),
        (job_type_body(minimal_manifest(version="1.0.0-" + "a" * 50)), "manifest.job.jobVersion"),
        ({"manifest": minimal_manifest()}, "docker_image"),
        ({"docker_image": ""}, "manifest"),
        (job_type_body(docker_image=5), "docker_image"),
        (job_type_body(manifest=[1, 2]), "manifest"),
        (job_type_body(manifest="seed"), "manifest"),
        (job_type_body(configuration={"priority": 0}), "configuration.priority"),
        (job_type_body(configuration={"priority": "high"}), "configuration.priority"),
        (job_type_body(configuration={"priority": 2**40}), "configuration.priority"),
        (job_type_body(configuration={"settings": []}), "configuration.settings"),
        (job_type_body(configuration={"colour": "red"}), "configuration.colour"),
        (job_type_body(configuration=[]), "configuration"),
        (job_type_body(max_tries=0), "max_tries"),
        (job_type_body(max_tries=101), "max_tries"),
        (job_type_body(max_tries=True), "max_tries"),
        (job_type_body(max_scheduled=0), "max_scheduled"),
        (job_type_body(max_scheduled="2"), "max_scheduled"),
        (job_type_body(is_active="yes"), "is_active"),
        (job_type_body(is_paused=None), "is_paused"),
        (job_type_body(is_published=0), "is_published"),
        (job_type_body(icon_code="x" * 21), "icon_code"),
        (job_type_body(surprise=1), "surprise"),
    ],
)
def test_create_rejects_bad_input_naming_the_field_and_writes_nothing(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    before = count_rows(db, *TABLES)
    response = client.post("/v6/job-types/", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert count_rows(db, *TABLES) == before


def test_rejected_edit_changes_nothing(client: TestClient, db: Database) -> None:
    create(client)
    before = client.get("/v6/job-types/test-job/1.0.0/").json()
    response = client.post("/v6/job-types/", json=job_type_body(docker_image="new", max_tries=0))
    assert response.status_code == 400
    assert client.get("/v6/job-types/test-job/1.0.0/").json() == before


def test_error_mapping_with_a_long_name_is_rejected(client: TestClient, db: Database) -> None:
    manifest = minimal_manifest(errors=[{"code": 1, "name": "e" * 51, "category": "job"}])
    response = client.post("/v6/job-types/", json=job_type_body(manifest))
    assert response.status_code == 400
    assert "manifest.job.errors[0].name" in response.json()["detail"]


# --------------------------------------------------------------------------- validation


def test_validation_of_a_good_job_type_writes_nothing(client: TestClient, db: Database) -> None:
    before = count_rows(db, *TABLES)
    response = client.post("/v6/job-types/validation/", json=job_type_body())
    assert response.status_code == 200
    assert response.json() == {"is_valid": True, "errors": [], "warnings": []}
    assert count_rows(db, *TABLES) == before


def test_validation_of_a_bad_manifest_lists_the_errors(client: TestClient) -> None:
    response = client.post(
        "/v6/job-types/validation/",
        json=job_type_body(_without_name(), configuration={"priority": 0}),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["is_valid"] is False
    assert body["warnings"] == []
    names = {e["name"] for e in body["errors"]}
    assert names == {"INVALID_MANIFEST", "INVALID_CONFIGURATION"}
    assert any(e["description"].startswith("manifest.job.name: ") for e in body["errors"])


def test_validation_of_a_body_of_the_wrong_shape_is_400(client: TestClient) -> None:
    response = client.post("/v6/job-types/validation/", json={"manifest": {}})
    assert response.status_code == 400
    assert "docker_image" in response.json()["detail"]


# --------------------------------------------------------------------------- reads


def test_list_shape_filters_and_paging(client: TestClient) -> None:
    a = create(client, manifest=minimal_manifest("alpha"))
    b = create(client, manifest=minimal_manifest("beta", title="Second Thing"))
    c = create(client, manifest=minimal_manifest("beta", "2.0.0"), is_active=False)

    listing = client.get("/v6/job-types/").json()
    assert listing["count"] == 3
    assert [r["id"] for r in listing["results"]] == [a["id"], b["id"], c["id"]]
    assert set(listing["results"][0]) == LIST_FIELDS

    def ids(query: str) -> list[int]:
        response = client.get(f"/v6/job-types/?{query}")
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["results"]]

    assert ids("keyword=alp") == [a["id"]]
    assert ids("keyword=second") == [b["id"]]
    assert ids("keyword=%25") == []
    assert ids(f"id={a['id']}&id={c['id']}") == [a["id"], c["id"]]
    assert ids("is_active=false") == [c["id"]]
    assert ids("is_active=true") == [a["id"], b["id"]]
    assert ids("is_system=false") == [a["id"], b["id"], c["id"]]
    assert ids("is_system=true") == []

    page = client.get("/v6/job-types/?page_size=2&page=2&keyword=a").json()
    assert [r["id"] for r in page["results"]] == [c["id"]]
    assert page["next"] is None
    assert page["previous"] == "/v6/job-types/?page_size=2&keyword=a&page=1"


def test_versions_of_a_name(client: TestClient) -> None:
    create(client, manifest=minimal_manifest("beta"))
    create(client, manifest=minimal_manifest("beta", "2.0.0"))
    create(client, manifest=minimal_manifest("gamma"))
    response = client.get("/v6/job-types/beta/")
    assert response.status_code == 200
    assert [r["version"] for r in response.json()["results"]] == ["1.0.0", "2.0.0"]
    assert client.get("/v6/job-types/nothing/").status_code == 404


def test_unknown_job_type_detail_is_404(client: TestClient) -> None:
    create(client)
    assert client.get("/v6/job-types/test-job/9.9.9/").status_code == 404
    assert client.get("/v6/job-types/other/1.0.0/").status_code == 404


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=0", "page"),
        ("page_size=0", "page_size"),
        ("page_size=1001", "page_size"),
        ("id=x", "id"),
        ("is_active=maybe", "is_active"),
    ],
)
def test_list_rejects_bad_parameters(client: TestClient, query: str, name: str) -> None:
    response = client.get(f"/v6/job-types/?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{name}: ")


def test_concurrent_creates_of_one_name_and_version_make_one_job_type(
    client: TestClient, db: Database
) -> None:
    # Given several clients posting the same new job type at once
    from concurrent.futures import ThreadPoolExecutor

    body = job_type_body(minimal_manifest(errors=[{"code": 1, "name": "e1", "category": "data"}]))
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda _: client.post("/v6/job-types/", json=body).status_code, range(8)))
    # Then exactly one created it and the others edited it (or, at worst, were told to retry)
    assert codes.count(201) == 1
    assert set(codes) <= {200, 201, 409}
    assert count_rows(db, JobTypeRow)["JobTypeRow"] == 1
