"""``/v6/nodes/``: list with filters and order, detail, and PATCH that changes only what is sent."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from scale.clock import FakeClock
from scale.store.db import Database
from scale.store.tables import NodeRow
from tests.api.factories import insert_node

NODE_FIELDS = {
    "id",
    "hostname",
    "pause_reason",
    "is_paused",
    "is_active",
    "deprecated",
    "created",
    "last_modified",
}


def stored(db: Database, node_id: int) -> dict[str, Any]:
    with db.read() as session:
        row = session.get(NodeRow, node_id)
        assert row is not None
        return {
            "hostname": row.hostname,
            "pause_reason": row.pause_reason,
            "is_paused": row.is_paused,
            "is_active": row.is_active,
            "deprecated": row.deprecated,
            "last_modified": row.last_modified,
        }


def ids(client: TestClient, query: str = "") -> list[int]:
    response = client.get(f"/v6/nodes/?{query}")
    assert response.status_code == 200, response.text
    return [n["id"] for n in response.json()["results"]]


# --------------------------------------------------------------------------- read


def test_list_shape_and_default_order(client: TestClient, db: Database, clock: FakeClock) -> None:
    first = insert_node(db, "node-1", now=clock.now())
    clock.advance(60)
    second = insert_node(db, "node-2", now=clock.now())
    with db.session() as session:
        session.execute(update(NodeRow).where(NodeRow.id == first).values(last_modified=clock.now()))
        session.execute(update(NodeRow).where(NodeRow.id == second).values(last_modified=clock.now()))
    clock.advance(60)
    third = insert_node(db, "node-3", now=clock.now())
    listing = client.get("/v6/nodes/").json()
    assert listing["count"] == 3
    assert listing["next"] is None and listing["previous"] is None
    # last_modified ascending, the id breaking the tie
    assert [n["id"] for n in listing["results"]] == [first, second, third]
    node = listing["results"][0]
    assert set(node) == NODE_FIELDS
    assert node == {
        "id": first,
        "hostname": "node-1",
        "pause_reason": None,
        "is_paused": False,
        "is_active": True,
        "deprecated": None,
        "created": "2026-01-01T00:00:00Z",
        "last_modified": "2026-01-01T00:01:00Z",
    }


def test_detail_and_unknown_node(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    response = client.get(f"/v6/nodes/{node}/")
    assert response.status_code == 200
    assert set(response.json()) == NODE_FIELDS
    assert response.json()["hostname"] == "node-1"
    for missing in (node + 1, 2**31, 2**63 - 1):
        response = client.get(f"/v6/nodes/{missing}/")
        assert response.status_code == 404, missing
        assert "node" in response.json()["detail"]


def test_filters_narrow_the_list(client: TestClient, db: Database, clock: FakeClock) -> None:
    # Given an old active node, a newer inactive one and a newest active one (now is 00:02:00)
    old = insert_node(db, "old", now=clock.now())
    clock.advance(60)
    gone = insert_node(db, "gone", now=clock.now())
    clock.advance(60)
    new = insert_node(db, "new", now=clock.now())
    with db.session() as session:
        session.execute(update(NodeRow).where(NodeRow.id == gone).values(is_active=False))

    # Then each filter narrows the list
    assert ids(client) == [old, gone, new]
    assert ids(client, "is_active=true") == [old, new]
    assert ids(client, "is_active=false") == [gone]
    assert ids(client, "started=2026-01-01T00:01:00Z") == [gone, new]
    assert ids(client, "ended=2026-01-01T00:01:00Z") == [old, gone]
    assert ids(client, "started=2026-01-01T00:00:30&ended=2026-01-01T00:01:30%2B00:00") == [gone]
    assert ids(client, "started=PT30S") == [new]
    assert ids(client, "started=PT1M30S&is_active=true") == [new]
    assert ids(client, "started=2026-02-01T00:00:00Z") == []


def test_order(client: TestClient, db: Database, clock: FakeClock) -> None:
    made = []
    for name in ("b-node", "c-node", "a-node"):
        made.append(insert_node(db, name, now=clock.now()))
        clock.advance(1)
    assert ids(client, "order=-last_modified") == made[::-1]
    assert ids(client, "order=id") == made
    assert ids(client, "order=-id") == made[::-1]
    assert ids(client, "order=hostname") == [made[2], made[0], made[1]]
    assert ids(client, "order=-hostname") == [made[1], made[0], made[2]]
    assert ids(client, "order=is_active&order=-created") == made[::-1]


def test_paging_and_a_page_past_the_end(client: TestClient, db: Database, clock: FakeClock) -> None:
    for n in range(5):
        insert_node(db, f"node-{n}", now=clock.now())
    first = client.get("/v6/nodes/?page_size=2&is_active=true").json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["next"] == "/v6/nodes/?page_size=2&is_active=true&page=2"
    seen = {n for p in (1, 2, 3) for n in ids(client, f"page_size=2&page={p}")}
    assert len(seen) == 5
    past = client.get("/v6/nodes/?page=50")
    assert past.status_code == 200
    assert past.json()["count"] == 5
    assert past.json()["results"] == []
    assert past.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("page=0", "page"),
        ("page_size=1001", "page_size"),
        ("is_active=maybe", "is_active"),
        ("started=yesterday", "started"),
        ("ended=2026-13-01T00:00:00Z", "ended"),
        ("started=2026-01-02T00:00:00Z&ended=2026-01-01T00:00:00Z", "ended"),
        ("order=colour", "order"),
        ("order=-", "order"),
        ("order=id&order=agent_id", "order"),
    ],
)
def test_bad_list_parameters_are_400_naming_them(client: TestClient, query: str, name: str) -> None:
    response = client.get(f"/v6/nodes/?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}: ")


@pytest.mark.parametrize("path", ["/v6/nodes/x/", "/v6/nodes/0/", "/v6/nodes/-1/", f"/v6/nodes/{2**64}/"])
def test_bad_node_ids_are_400(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("node_id: ")


# --------------------------------------------------------------------------- patch


def test_pause_with_a_reason_is_204_and_changes_only_that(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    clock.advance(30)
    response = client.patch(f"/v6/nodes/{node}/", json={"is_paused": True, "pause_reason": "disk swap"})
    assert response.status_code == 204
    assert response.content == b""
    after = stored(db, node)
    assert after["is_paused"] is True
    assert after["pause_reason"] == "disk swap"
    # Scale's bug would stamp deprecated here; an active node stays undeprecated
    assert after["is_active"] is True
    assert after["deprecated"] is None
    assert after["last_modified"] == clock.now()
    assert client.get(f"/v6/nodes/{node}/").json()["last_modified"] == "2026-01-01T00:00:30Z"


def test_pausing_an_inactive_node_keeps_its_deprecation(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    assert client.patch(f"/v6/nodes/{node}/", json={"is_active": False}).status_code == 204
    deprecated = stored(db, node)["deprecated"]
    assert deprecated == clock.now()
    clock.advance(60)
    assert client.patch(f"/v6/nodes/{node}/", json={"is_paused": True}).status_code == 204
    after = stored(db, node)
    assert after["deprecated"] == deprecated
    assert after["is_active"] is False
    assert after["is_paused"] is True


def test_deactivate_stamps_deprecated_and_reactivate_clears_it(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    clock.advance(10)
    assert client.patch(f"/v6/nodes/{node}/", json={"is_active": False}).status_code == 204
    assert stored(db, node)["deprecated"] == clock.now()
    assert client.get(f"/v6/nodes/{node}/").json()["deprecated"] == "2026-01-01T00:00:10Z"
    assert ids(client, "is_active=false") == [node]
    # Deactivating again keeps the first deprecation time
    clock.advance(10)
    assert client.patch(f"/v6/nodes/{node}/", json={"is_active": False}).status_code == 204
    assert stored(db, node)["deprecated"] == datetime.fromisoformat("2026-01-01T00:00:10+00:00")
    clock.advance(10)
    assert client.patch(f"/v6/nodes/{node}/", json={"is_active": True}).status_code == 204
    after = stored(db, node)
    assert after["is_active"] is True
    assert after["deprecated"] is None
    assert after["is_paused"] is False


def test_resume_clears_the_pause_reason(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    client.patch(f"/v6/nodes/{node}/", json={"is_paused": True, "pause_reason": "maintenance"})
    assert client.patch(f"/v6/nodes/{node}/", json={"is_paused": False}).status_code == 204
    after = stored(db, node)
    assert after["is_paused"] is False
    assert after["pause_reason"] is None
    assert after["deprecated"] is None


def test_pause_reason_alone_can_be_set_and_cleared(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    client.patch(f"/v6/nodes/{node}/", json={"is_paused": True})
    assert client.patch(f"/v6/nodes/{node}/", json={"pause_reason": "x" * 250}).status_code == 204
    assert stored(db, node)["pause_reason"] == "x" * 250
    assert stored(db, node)["is_paused"] is True
    assert client.patch(f"/v6/nodes/{node}/", json={"pause_reason": None}).status_code == 204
    assert stored(db, node)["pause_reason"] is None
    assert stored(db, node)["is_paused"] is True


def test_patch_of_an_unknown_node_is_404(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    for missing in (node + 1, 2**40):
        response = client.patch(f"/v6/nodes/{missing}/", json={"is_paused": True})
        assert response.status_code == 404
        assert "node" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({}, "body"),
        ({"hostname": "other"}, "hostname"),
        ({"is_paused": True, "colour": "red"}, "colour"),
        ({"is_paused": "true"}, "is_paused"),
        ({"is_paused": 1}, "is_paused"),
        ({"is_paused": None}, "is_paused"),
        ({"is_active": "false"}, "is_active"),
        ({"is_active": 0}, "is_active"),
        ({"is_active": None}, "is_active"),
        ({"pause_reason": 5}, "pause_reason"),
        ({"pause_reason": ["a"]}, "pause_reason"),
        ({"pause_reason": "x" * 251}, "pause_reason"),
        ({"pause_reason": "a\x00b"}, "pause_reason"),
        ({"is_paused": True, "pause_reason": "y" * 251}, "pause_reason"),
    ],
)
def test_patch_rejects_bad_bodies_naming_the_field_and_writes_nothing(
    client: TestClient, db: Database, clock: FakeClock, body: dict[str, Any], name: str
) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    before = stored(db, node)
    clock.advance(60)
    response = client.patch(f"/v6/nodes/{node}/", json=body)
    assert response.status_code == 400, response.text
    assert f"{name}: " in response.json()["detail"]
    assert stored(db, node) == before


def test_patch_names_every_unknown_key(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    response = client.patch(f"/v6/nodes/{node}/", json={"a": 1, "b": 2})
    assert response.status_code == 400
    assert response.json()["detail"] == "a: unexpected field; b: unexpected field"


_ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    float("nan"),
    "",
    "x" * 300,
    [],
    {},
    [1],
    {"a": 1},
]
_RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"1",
    b'"s"',
    b"{]",
    b"\xff\xfe",
    b'{"is_paused": tru}',
]


def test_no_malformed_body_yields_a_5xx(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    before = stored(db, node)
    bodies: list[Any] = [*_RAW_BODIES, *_ODD_VALUES]
    for key in ("is_paused", "is_active", "pause_reason", "other"):
        bodies.extend({key: value} for value in _ODD_VALUES)
    statuses: list[int] = []
    for path in (f"/v6/nodes/{node}/", f"/v6/nodes/{node + 1}/", "/v6/nodes/x/"):
        for body in bodies:
            raw = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
            response = client.patch(path, content=raw, headers={"content-type": "application/json"})
            assert response.status_code < 500, (
                f"{path} {body!r:.100} -> {response.status_code} {response.text}"
            )
            assert "by the database" not in response.text
            statuses.append(response.status_code)
    assert statuses.count(400) > 100
    # Only the valid bodies (booleans for the flags, short strings or null for the reason) wrote
    after = stored(db, node)
    assert after["hostname"] == before["hostname"]


def test_resume_with_a_reason_still_clears_it(client: TestClient, db: Database, clock: FakeClock) -> None:
    node = insert_node(db, "node-1", now=clock.now())
    client.patch(f"/v6/nodes/{node}/", json={"is_paused": True, "pause_reason": "maintenance"})
    response = client.patch(f"/v6/nodes/{node}/", json={"is_paused": False, "pause_reason": "ignored"})
    assert response.status_code == 204
    assert stored(db, node)["pause_reason"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/v6/nodes/?started=9999-99-99",
        "/v6/nodes/?started=P99999999999D",
        "/v6/nodes/?ended=P99999999999999999999D",
        "/v6/nodes/?order=" + "x" * 5000,
        "/v6/nodes/?is_active=" + "1" * 500,
        "/v6/nodes/99999999999999999999999/",
        "/v6/nodes/1.5/",
    ],
)
def test_odd_reads_are_never_5xx(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code < 500, response.text
    assert response.status_code in (400, 404)
