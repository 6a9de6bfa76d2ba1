"""Conventions every endpoint keeps, checked on every endpoint the app has (found from its routes
and its OpenAPI document, so a new one is covered without being listed):

* a paginated list paged past its end is an empty 200 page linking back, and a bad ``page`` or
  ``page_size`` is a 400 naming it;
* an id or name in the path that does not exist is a 404 with a ``detail``; a path value of the
  wrong kind is a 400 naming the parameter;
* a query value of the wrong kind is a 400 naming the parameter;
* a write body with an unknown field, of the wrong shape, or not JSON at all is a 400 naming
  the field (or ``body``), and writes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from scale.store.db import Database
from tests.api.world import SAFE, TestClient, World, operations, snapshot

#: Path values that name nothing, per parameter (in range, so the answer must be a 404).
UNKNOWN = {
    "name": "no-such-job-type",
    "version": "9.9.9",
    "revision_num": "999",
    "job_id": "999999",
    "exe_num": "999",
    "exe_id": "999999",
    "stream": "no-such-stream",
    "node_id": "999999",
    "error_id": "999999",
    "metrics_type": "no-such-metrics",
}
#: Bad values for string query parameters the API parses itself.
BAD_STRINGS = {
    "started": "yesterday-ish",
    "ended": "yesterday-ish",
    "order": "no_such_field",
    "category": "NOPE",
}


def _document(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


def _flatten(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """The one non-null alternative of an ``anyOf``, an array's items, a ``$ref`` resolved."""
    if "anyOf" in schema:
        (schema,) = [s for s in schema["anyOf"] if s.get("type") != "null"]
    if schema.get("type") == "array":
        schema = schema["items"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _bad_value(name: str, schema: dict[str, Any]) -> str | None:
    if "enum" in schema:
        return "NOT_A_VALUE"
    if schema.get("type") == "integer":
        return "x"
    if schema.get("type") == "boolean":
        return "maybe"
    return BAD_STRINGS.get(name)


def _is_page(operation: dict[str, Any]) -> bool:
    content = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
    return str(content.get("schema", {}).get("$ref", "")).split("/")[-1].startswith("Page_")


def test_every_list_pages_past_its_end_and_names_a_bad_page(
    app: FastAPI, client: TestClient, world: World
) -> None:
    document = _document(client)
    lists = [(m, p) for m, p in operations(app) if m == "GET" and _is_page(_operation(document, m, p))]
    assert len(lists) >= 9
    for _, path in lists:
        url = world.url(path)
        past = client.get(url, params={"page": 1000, "page_size": 5})
        assert past.status_code == 200, (path, past.text)
        body = past.json()
        assert body["results"] == [] and body["next"] is None, path
        assert body["previous"] == f"{url}?page_size=5&page=999", path
        for query, field in (
            ({"page": 0}, "page"),
            ({"page": "x"}, "page"),
            ({"page_size": 1001}, "page_size"),
            ({"page_size": 0}, "page_size"),
        ):
            bad = client.get(url, params=query)
            assert bad.status_code == 400, (path, query, bad.text)
            assert bad.json()["detail"].startswith(f"{field}: "), (path, query, bad.text)


def test_every_path_value_that_names_nothing_is_a_404_and_a_wrong_kind_a_400(
    app: FastAPI, client: TestClient, world: World, db: Database
) -> None:
    document = _document(client)
    checked = 0
    before = snapshot(db)
    for method, path in operations(app):
        operation = _operation(document, method, path)
        body = world.body(method, path)
        for parameter in (p for p in operation.get("parameters", []) if p["in"] == "path"):
            name = parameter["name"]
            url = path.format(**{**world.values, name: UNKNOWN[name]})
            missing = client.request(method, url, json=body)
            assert missing.status_code == 404, (method, path, name, missing.text)
            assert missing.json()["detail"], (method, path, name)
            checked += 1
            bad = _bad_value(name, _flatten(parameter["schema"], document))
            if bad is not None:
                wrong = client.request(method, path.format(**{**world.values, name: bad}), json=body)
                assert wrong.status_code == 400, (method, path, name, wrong.text)
                assert wrong.json()["detail"].startswith(f"{name}: "), (method, path, wrong.text)
                zero = client.request(method, path.format(**{**world.values, name: "0"}), json=body)
                assert zero.status_code == 400 and zero.json()["detail"].startswith(f"{name}: "), zero.text
    assert checked >= 15
    assert snapshot(db) == before, "a request that named nothing changed the database"


def test_every_query_value_of_the_wrong_kind_is_a_400_naming_it(
    app: FastAPI, client: TestClient, world: World
) -> None:
    document = _document(client)
    checked = 0
    for method, path in operations(app):
        operation = _operation(document, method, path)
        for parameter in (p for p in operation.get("parameters", []) if p["in"] == "query"):
            name = parameter["name"]
            bad = _bad_value(name, _flatten(parameter["schema"], document))
            if bad is None:
                continue  # free text: every value is a valid filter
            response = client.request(
                method, world.url(path), params={name: bad}, json=world.body(method, path)
            )
            assert response.status_code == 400, (method, path, name, response.text)
            assert response.json()["detail"].startswith(f"{name}: "), (method, path, response.text)
            checked += 1
    assert checked >= 20


def test_every_write_body_that_is_wrong_is_a_400_naming_the_field_and_writes_nothing(
    app: FastAPI, client: TestClient, world: World, db: Database
) -> None:
    before = snapshot(db)
    document = _document(client)
    # Writes that take a body (logout takes none).
    bodies = [
        (m, p) for m, p in operations(app) if m not in SAFE and "requestBody" in _operation(document, m, p)
    ]
    assert len(bodies) >= 8
    for method, path in bodies:
        url = world.url(path)
        unknown = client.request(method, url, json={**world.body(method, path), "no_such_field": 1})
        assert unknown.status_code == 400, (method, path, unknown.text)
        assert "no_such_field: unexpected field" in unknown.json()["detail"], (method, path)
        for shape in ([], "text", 7):
            wrong = client.request(method, url, json=shape)
            assert wrong.status_code == 400, (method, path, shape, wrong.text)
            assert wrong.json()["detail"] == "body: must be a JSON object", (method, path, wrong.text)
        broken = client.request(method, url, content=b"{", headers={"content-type": "application/json"})
        assert broken.status_code == 400 and broken.json()["detail"].startswith("body: malformed JSON"), path
    assert snapshot(db) == before, "a rejected write changed the database"
