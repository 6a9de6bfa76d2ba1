"""``GET /v6/status/`` as HTTP: gzip for clients that accept it, ETag and 304 for pollers, the
fast path that answers open reads before routing (``api/status_fast_path.py``) giving exactly
the route's answer, and the timestamp re-read after ``status_recheck_s``."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from scale.api.app import create_app
from scale.api.routes.system import accepts_gzip, etag_matches
from scale.clock import FakeClock
from scale.config import Settings
from scale.exceptions import InvalidRequest
from scale.store.db import Database
from scale.store.tables import SchedulerRow

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
#: A query string sends the request past the fast path to the route.
VIA_ROUTE = "/v6/status/?via=route"


def store(db: Database, status: dict[str, Any] | None, timestamp: datetime | None) -> None:
    with db.session() as session:
        session.execute(
            update(SchedulerRow).where(SchedulerRow.id == 1).values(status=status, status_timestamp=timestamp)
        )


def a_document(nodes: int = 50) -> dict[str, Any]:
    rows = [{"id": i, "hostname": f"node-{i}", "state": "READY"} for i in range(nodes)]
    return {"timestamp": "t", "nodes": rows}


def raw_get(client: TestClient, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body as sent (not inflated: httpx would undo the gzip)."""
    with client.stream("GET", url, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return response.status_code, dict(response.headers), body


def test_a_client_that_accepts_gzip_gets_the_document_compressed(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    document = a_document()
    store(db, document, clock.now())

    code, headers, body = raw_get(client, "/v6/status/", GZIP)
    assert code == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/json"
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(gzip.decompress(body)) == document

    code, headers, plain = raw_get(client, "/v6/status/", IDENTITY)
    assert code == 200
    assert "content-encoding" not in headers
    assert json.loads(plain) == document
    assert len(body) < len(plain)


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("GZIP", True),
        ("", False),
        ("identity", False),
        ("deflate", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *", False),
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_as_http_says(header: str, gzipped: bool) -> None:
    assert accepts_gzip(header) is gzipped


def test_a_poller_with_the_current_etag_gets_304_and_no_body_until_a_new_document(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, a_document(3), clock.now())
    first = client.get("/v6/status/", headers=IDENTITY)
    etag = first.headers["etag"]

    again = client.get("/v6/status/", headers={**IDENTITY, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get("/v6/status/", headers={**IDENTITY, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert client.get("/v6/status/", headers={**IDENTITY, "If-None-Match": '"other"'}).status_code == 200

    # The gzip copy is another representation with its own tag.
    zipped = client.get("/v6/status/", headers=GZIP)
    assert zipped.headers["etag"] != etag
    assert client.get("/v6/status/", headers={**GZIP, "If-None-Match": etag}).status_code == 200

    clock.advance(5.0)
    store(db, a_document(4), clock.now())
    newer = client.get("/v6/status/", headers={**IDENTITY, "If-None-Match": etag})
    assert newer.status_code == 200
    assert newer.headers["etag"] != etag
    assert len(newer.json()["nodes"]) == 4


def test_an_offline_scheduler_is_204_even_for_a_poller_with_an_etag(
    client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, a_document(1), clock.now())
    etag = client.get("/v6/status/").headers["etag"]
    clock.advance(12.001)
    response = client.get("/v6/status/", headers={"If-None-Match": etag})
    assert response.status_code == 204
    assert response.content == b""


@pytest.mark.parametrize("headers", [IDENTITY, GZIP, {**GZIP, "If-None-Match": "*"}])
def test_the_fast_path_answers_exactly_what_the_route_answers(
    client: TestClient, db: Database, clock: FakeClock, headers: dict[str, str]
) -> None:
    store(db, a_document(), clock.now())
    fast = raw_get(client, "/v6/status/", headers)
    routed = raw_get(client, VIA_ROUTE, headers)
    assert fast[0] == routed[0]
    assert fast[2] == routed[2]
    for name in ("content-type", "content-encoding", "content-length", "etag", "vary", "cache-control"):
        assert fast[1].get(name) == routed[1].get(name), name

    clock.advance(12.001)
    assert raw_get(client, "/v6/status/", headers)[0] == raw_get(client, VIA_ROUTE, headers)[0] == 204


@pytest.fixture
def closed_app(tmp_path: Path, db: Database, clock: FakeClock) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path / "data", public_read=False), db, clock=clock)


def test_the_fast_path_does_not_open_the_status_when_reads_need_a_token(
    closed_app: FastAPI, db: Database, clock: FakeClock, read_token: str
) -> None:
    store(db, a_document(2), clock.now())
    with TestClient(closed_app) as anonymous:
        response = anonymous.get("/v6/status/")
        assert response.status_code == 401
        assert "nodes" not in response.text
    with TestClient(closed_app, headers={"Authorization": f"Token {read_token}"}) as reader:
        response = reader.get("/v6/status/")
        assert response.status_code == 200
        assert len(response.json()["nodes"]) == 2


def test_other_methods_and_paths_are_not_answered_by_the_fast_path(
    anon_client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, a_document(1), clock.now())
    assert anon_client.post("/v6/status/").status_code == 405
    assert anon_client.get("/v6/status").status_code == 404
    assert anon_client.get("/v6/status/extra/").status_code == 404


@pytest.fixture
def recheck_client(tmp_path: Path, db: Database, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", status_recheck_s=2.0)
    with TestClient(create_app(settings, db, clock=clock)) as test_client:
        yield test_client


def test_a_new_document_shows_once_the_recheck_interval_has_passed(
    recheck_client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, a_document(1), clock.now())
    assert len(recheck_client.get("/v6/status/").json()["nodes"]) == 1

    clock.advance(1.0)
    store(db, a_document(2), clock.now())
    # Within the 2 s the API trusts the timestamp it read: the document it holds.
    assert len(recheck_client.get("/v6/status/").json()["nodes"]) == 1

    clock.advance(1.0)
    assert len(recheck_client.get("/v6/status/").json()["nodes"]) == 2


def test_going_offline_is_on_the_dot_whatever_the_recheck_interval(
    recheck_client: TestClient, db: Database, clock: FakeClock
) -> None:
    store(db, a_document(1), clock.now())
    clock.advance(11.0)
    assert recheck_client.get("/v6/status/").status_code == 200
    clock.advance(1.0)
    assert recheck_client.get("/v6/status/").status_code == 200
    clock.advance(0.001)
    assert recheck_client.get("/v6/status/").status_code == 204


def test_etag_comparison_is_weak_as_http_says() -> None:
    assert etag_matches('"1.5"', '"1.5"')
    assert etag_matches('W/"1.5"', '"1.5"')
    assert etag_matches(' "x" , "1.5" ', '"1.5"')
    assert etag_matches("*", '"1.5"')
    assert not etag_matches('"1.50"', '"1.5"')
    assert not etag_matches("", '"1.5"')


@pytest.mark.parametrize(
    ("value", "ok"), [("0", True), ("0.25", True), ("abc", False), ("-1", False), ("12", False)]
)
def test_the_recheck_interval_is_read_from_the_environment_and_checked(value: str, ok: bool) -> None:
    env = {"SCALE_STATUS_RECHECK_S": value}
    if ok:
        assert Settings.from_env(env).status_recheck_s == float(value)
    else:
        with pytest.raises(InvalidRequest, match=r"(SCALE_STATUS_RECHECK_S|status_recheck_s)"):
            Settings.from_env(env)
