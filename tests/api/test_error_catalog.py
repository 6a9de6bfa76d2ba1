"""``/v6/errors/``: the error catalogue, list with filters and order, and detail (read-only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.tables import ErrorRow
from tests.api.factories import count_rows
from tests.factories import error_id

ERROR_FIELDS = {
    "id",
    "name",
    "title",
    "description",
    "job_type_name",
    "category",
    "is_builtin",
    "should_be_retried",
    "created",
    "last_modified",
}


def insert_error(
    db: Database,
    name: str,
    *,
    when: datetime,
    job_type_name: str | None = "my-job",
    category: str = "ALGORITHM",
    should_be_retried: bool = False,
) -> int:
    with db.session() as session:
        row = ErrorRow(
            name=name,
            title=name.title(),
            description=f"{name} happened",
            job_type_name=job_type_name,
            category=category,
            is_builtin=False,
            should_be_retried=should_be_retried,
            created=when,
            last_modified=when,
        )
        session.add(row)
        session.flush()
        return row.id


def ids(client: TestClient, query: str) -> list[int]:
    response = client.get(f"/v6/errors/?{query}")
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["results"]]


@pytest.fixture
def made(db: Database, clock: FakeClock) -> dict[str, int]:
    """Three job-type errors a minute apart (00:00, 00:01, 00:02), next to the built-ins."""
    now = clock.now()
    return {
        "bad-input": insert_error(db, "bad-input", when=now, category="DATA"),
        "crash": insert_error(db, "crash", when=now + timedelta(minutes=1)),
        "other-crash": insert_error(
            db, "crash", when=now + timedelta(minutes=2), job_type_name="other-job", should_be_retried=True
        ),
    }


def test_list_shape_includes_the_built_ins(client: TestClient, made: dict[str, int]) -> None:
    listing = client.get("/v6/errors/?page_size=1000").json()
    assert listing["count"] > 3
    assert listing["next"] is None and listing["previous"] is None
    assert all(set(e) == ERROR_FIELDS for e in listing["results"])
    mine = next(e for e in listing["results"] if e["id"] == made["other-crash"])
    assert mine == {
        "id": made["other-crash"],
        "name": "crash",
        "title": "Crash",
        "description": "crash happened",
        "job_type_name": "other-job",
        "category": "ALGORITHM",
        "is_builtin": False,
        "should_be_retried": True,
        "created": "2026-01-01T00:02:00Z",
        "last_modified": "2026-01-01T00:02:00Z",
    }
    builtin = next(e for e in listing["results"] if e["name"] == "unknown")
    assert builtin["is_builtin"] is True
    assert builtin["job_type_name"] is None
    assert builtin["category"] == "SYSTEM"


def test_detail_and_unknown_error(client: TestClient, db: Database, made: dict[str, int]) -> None:
    response = client.get(f"/v6/errors/{made['crash']}/")
    assert response.status_code == 200
    assert set(response.json()) == ERROR_FIELDS
    assert response.json()["job_type_name"] == "my-job"
    unknown = error_id(db, "unknown")
    assert client.get(f"/v6/errors/{unknown}/").json()["name"] == "unknown"
    for missing in (max(made.values()) + 100, 2**31, 2**63 - 1):
        response = client.get(f"/v6/errors/{missing}/")
        assert response.status_code == 404, missing
        assert "error" in response.json()["detail"]


def test_filters_narrow_the_list(client: TestClient, made: dict[str, int]) -> None:
    bad, crash, other = made["bad-input"], made["crash"], made["other-crash"]
    assert ids(client, "is_builtin=false") == [bad, crash, other]
    builtins = ids(client, "is_builtin=true&page_size=1000")
    assert builtins and not {bad, crash, other} & set(builtins)
    assert ids(client, "job_type_name=my-job") == [bad, crash]
    assert ids(client, "job_type_name=none-such") == []
    assert ids(client, "name=crash") == [crash, other]
    assert ids(client, "name=crash&job_type_name=other-job") == [other]
    assert ids(client, "category=DATA&is_builtin=false") == [bad]
    assert ids(client, "category=data&is_builtin=false") == [bad]
    assert ids(client, "category=Algorithm&is_builtin=false") == [crash, other]
    system = client.get("/v6/errors/?category=system&page_size=1000").json()["results"]
    assert system and all(e["category"] == "SYSTEM" and e["is_builtin"] for e in system)
    assert ids(client, "is_builtin=false&started=2026-01-01T00:01:00Z") == [crash, other]
    assert ids(client, "is_builtin=false&ended=2026-01-01T00:01:00Z") == [bad, crash]
    assert ids(client, "is_builtin=false&started=2026-01-01T00:00:30Z&ended=2026-01-01T00:01:30%2B00:00") == [
        crash
    ]
    assert ids(client, "is_builtin=false&ended=2026-01-01T00:05:00Z") == [bad, crash, other]


def test_started_as_a_duration_counts_back_from_now(
    client: TestClient, clock: FakeClock, made: dict[str, int]
) -> None:
    clock.advance(150)  # now is 00:02:30
    assert ids(client, "is_builtin=false&started=PT1M") == [made["other-crash"]]
    assert ids(client, "is_builtin=false&ended=PT1M") == [made["bad-input"], made["crash"]]


def test_order(client: TestClient, made: dict[str, int]) -> None:
    bad, crash, other = made["bad-input"], made["crash"], made["other-crash"]
    assert ids(client, "is_builtin=false&order=-last_modified") == [other, crash, bad]
    assert ids(client, "is_builtin=false&order=-id") == [other, crash, bad]
    assert ids(client, "is_builtin=false&order=name&order=-job_type_name") == [bad, other, crash]
    assert ids(client, "is_builtin=false&order=-should_be_retried&order=category") == [other, crash, bad]


def test_paging_and_a_page_past_the_end(client: TestClient, made: dict[str, int]) -> None:
    first = client.get("/v6/errors/?is_builtin=false&page_size=2").json()
    assert first["count"] == 3
    assert [e["id"] for e in first["results"]] == [made["bad-input"], made["crash"]]
    assert first["next"] == "/v6/errors/?is_builtin=false&page_size=2&page=2"
    second = client.get(first["next"]).json()
    assert [e["id"] for e in second["results"]] == [made["other-crash"]]
    assert second["next"] is None
    assert second["previous"] == "/v6/errors/?is_builtin=false&page_size=2&page=1"
    past = client.get("/v6/errors/?page=1000")
    assert past.status_code == 200
    assert past.json()["results"] == []
    assert past.json()["count"] > 3


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=0", "page"),
        ("page_size=0", "page_size"),
        ("category=FATAL", "category"),
        ("category=", "category"),
        ("is_builtin=perhaps", "is_builtin"),
        ("started=tomorrow", "started"),
        ("ended=2026-02-30T00:00:00Z", "ended"),
        ("started=2026-01-02T00:00:00Z&ended=2026-01-01T00:00:00Z", "ended"),
        ("order=colour", "order"),
        ("order=description", "order"),
        ("name=a%00b", "name"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(client: TestClient, query: str, name: str) -> None:
    response = client.get(f"/v6/errors/?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}: ")


@pytest.mark.parametrize("path", ["/v6/errors/x/", "/v6/errors/0/", f"/v6/errors/{2**64}/"])
def test_bad_error_ids_are_400(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("error_id: ")


@pytest.mark.parametrize("body", [b"", b"{", b"null", b"[]", b'{"name": "x"}', b'{"category": 5}'])
def test_errors_are_read_only(client: TestClient, db: Database, made: dict[str, int], body: bytes) -> None:
    before = count_rows(db, ErrorRow)
    headers = {"content-type": "application/json"}
    for method, path in (("POST", "/v6/errors/"), ("PATCH", f"/v6/errors/{made['crash']}/")):
        response: Any = client.request(method, path, content=body, headers=headers)
        assert response.status_code == 405
    assert count_rows(db, ErrorRow) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v6/errors/?started=9999-99-99",
        "/v6/errors/?started=P99999999999D",
        "/v6/errors/?order=" + "x" * 5000,
        "/v6/errors/?category=" + "D" * 5000,
        "/v6/errors/99999999999999999999999/",
        "/v6/errors/1e3/",
    ],
)
def test_odd_reads_are_never_5xx(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code < 500, response.text
    assert response.status_code in (400, 404)


@pytest.mark.parametrize(
    "query",
    ["name=" + "n" * 3000, "job_type_name=%25_%5C", "name=%E2%9C%93", "job_type_name=" + "j" * 3000],
)
def test_odd_text_filters_match_nothing_without_error(client: TestClient, query: str) -> None:
    response = client.get(f"/v6/errors/?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["results"] == []
