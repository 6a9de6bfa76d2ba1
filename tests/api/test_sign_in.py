"""Browser sign-in (issue 17): operator accounts with argon2 hashes, a session cookie, Django-style
CSRF protection of a session's writes, logout, and tokens working as before."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from scale.api.app import create_app
from scale.clock import FakeClock
from scale.config import Settings
from scale.exceptions import Conflict, InvalidRequest
from scale.services.accounts import SESSION_AGE, create_account, hash_key
from scale.store.db import Database
from scale.store.tables import AccountRow, AccountSessionRow, SchedulerRow

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

USER, PASSWORD = "operator", "correct horse battery"


@pytest.fixture
def browser(app: FastAPI, db: Database, clock: FakeClock) -> Iterator[TestClient]:
    """A client with no token (a browser), and an operator account to sign in with."""
    create_account(db, username=USER, password=PASSWORD, now=clock.now())
    with TestClient(app) as client:
        yield client


def _sign_in(client: TestClient) -> str:
    response = client.post("/v6/accounts/login/", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 200, response.text
    csrf: str = response.cookies["csrftoken"]
    return csrf


def _paused(db: Database) -> bool:
    with db.read() as session:
        row = session.get(SchedulerRow, 1)
        assert row is not None
        return row.is_paused


def _sessions(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AccountSessionRow)) or 0


def test_a_wrong_password_or_unknown_user_is_401_and_sets_nothing(browser: TestClient, db: Database) -> None:
    for body in (
        {"username": USER, "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": USER, "password": ""},
    ):
        response = browser.post("/v6/accounts/login/", json=body)
        assert response.status_code == 401, response.text
        assert response.json()["detail"] == "username, password: wrong username or password"
        assert "set-cookie" not in response.headers
    assert not browser.cookies and _sessions(db) == 0
    assert browser.get("/v6/accounts/profile/").status_code == 401
    bad = browser.post("/v6/accounts/login/", json={"username": USER})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("password: ")


def test_sign_in_sets_an_httponly_samesite_session_cookie_and_a_readable_csrf_cookie(
    browser: TestClient, db: Database
) -> None:
    response = browser.post("/v6/accounts/login/", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["username"] == USER and response.json()["is_staff"] is True
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["sessionid"] and "samesite=lax" in cookies["sessionid"]
    assert "httponly" not in cookies["csrftoken"] and "samesite=lax" in cookies["csrftoken"]
    assert (
        "path=/" in cookies["sessionid"]
        and f"max-age={int(SESSION_AGE.total_seconds())}" in cookies["sessionid"]
    )
    # Only hashes are stored: the session key is nowhere in the database, nor the password.
    key = response.cookies["sessionid"]
    with db.read() as session:
        stored = session.scalars(select(AccountSessionRow)).one()
        account = session.scalars(select(AccountRow)).one()
    assert stored.key_hash == hash_key(key) and key not in stored.key_hash
    assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
    profile = browser.get("/v6/accounts/profile/")
    assert profile.status_code == 200 and profile.json()["username"] == USER
    assert profile.json()["last_login"] is not None


def test_a_session_can_patch_the_scheduler_with_its_csrf_token(browser: TestClient, db: Database) -> None:
    csrf = _sign_in(browser)
    response = browser.patch("/v6/scheduler/", json={"is_paused": True}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200, response.text
    assert response.json()["is_paused"] is True and _paused(db)
    same_site = browser.patch(
        "/v6/scheduler/",
        json={"is_paused": False},
        headers={"X-CSRFToken": csrf, "Origin": "http://testserver"},
    )
    assert same_site.status_code == 200 and not _paused(db)


def test_a_cross_site_write_without_the_protection_is_refused_and_changes_nothing(
    browser: TestClient, db: Database
) -> None:
    csrf = _sign_in(browser)
    for headers, field in (
        ({}, "X-CSRFToken"),  # a form on another site posting with the browser's cookie
        ({"X-CSRFToken": "guessed"}, "X-CSRFToken"),
        ({"X-CSRFToken": csrf, "Origin": "https://evil.example"}, "Origin"),
        ({"X-CSRFToken": csrf, "Origin": "null"}, "Origin"),
    ):
        response = browser.patch("/v6/scheduler/", json={"is_paused": True}, headers=headers)
        assert response.status_code == 403, (headers, response.text)
        assert response.json()["detail"].startswith(f"{field}: "), response.text
        assert not _paused(db)
    # A node write and a job write are refused alike.
    assert browser.post("/v6/jobs/cancel/", json={"job_ids": [1]}).status_code == 403
    # Reads need no CSRF token.
    assert browser.get("/v6/scheduler/").status_code == 200


def test_logout_ends_the_session(browser: TestClient, db: Database) -> None:
    csrf = _sign_in(browser)
    key = browser.cookies["sessionid"]
    # Logout is a write too: without the CSRF token another site could sign the operator out.
    assert browser.post("/v6/accounts/logout/").status_code == 403
    assert browser.get("/v6/accounts/profile/").status_code == 200
    response = browser.post("/v6/accounts/logout/", headers={"X-CSRFToken": csrf})
    assert response.status_code == 204
    assert _sessions(db) == 0
    assert browser.get("/v6/accounts/profile/").status_code == 401
    # The old cookie, sent again, is worth nothing.
    browser.cookies.set("sessionid", key)
    assert browser.get("/v6/accounts/profile/").status_code == 401
    stale = browser.patch("/v6/scheduler/", json={"is_paused": True}, headers={"X-CSRFToken": csrf})
    assert stale.status_code == 401 and not _paused(db)
    # Logging out with no session does nothing and is no error.
    assert browser.post("/v6/accounts/logout/").status_code == 204


def test_a_session_runs_out_after_two_weeks(browser: TestClient, clock: FakeClock) -> None:
    csrf = _sign_in(browser)
    clock.advance(SESSION_AGE.total_seconds() - 1)
    assert browser.get("/v6/accounts/profile/").status_code == 200
    clock.advance(2)
    assert browser.get("/v6/accounts/profile/").status_code == 401
    assert (
        browser.patch("/v6/scheduler/", json={"is_paused": True}, headers={"X-CSRFToken": csrf}).status_code
        == 401
    )


def test_tokens_work_as_before_and_need_no_csrf_token(
    browser: TestClient, client: TestClient, read_client: TestClient, db: Database
) -> None:
    assert client.patch("/v6/scheduler/", json={"is_paused": True}).status_code == 200 and _paused(db)
    assert read_client.patch("/v6/scheduler/", json={"is_paused": False}).status_code == 403
    # A token is judged by itself even when a session cookie comes along.
    csrf = _sign_in(browser)
    assert csrf
    bad_token = browser.patch(
        "/v6/scheduler/", json={"is_paused": False}, headers={"Authorization": "Token not-a-token"}
    )
    assert bad_token.status_code == 401 and _paused(db)
    # Profile is of a signed-in operator; a token is not one.
    assert client.get("/v6/accounts/profile/").status_code == 401


def test_closed_reads_are_open_to_a_session(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    create_account(db, username=USER, password=PASSWORD, now=clock.now())
    app = create_app(Settings(data_dir=tmp_path / "data", public_read=False), db, clock=clock)
    with TestClient(app) as browser:
        assert browser.get("/v6/jobs/").status_code == 401
        _sign_in(browser)
        assert browser.get("/v6/jobs/").status_code == 200
        assert browser.get("/v6/accounts/profile/").status_code == 200


def test_accounts_refuse_bad_names_short_passwords_and_duplicates(db: Database, clock: FakeClock) -> None:
    create_account(db, username=USER, password=PASSWORD, now=clock.now())
    with pytest.raises(Conflict, match="username"):
        create_account(db, username=USER, password=PASSWORD, now=clock.now())
    with pytest.raises(InvalidRequest, match="username"):
        create_account(db, username="has space", password=PASSWORD, now=clock.now())
    with pytest.raises(InvalidRequest, match="password"):
        create_account(db, username="other", password="short", now=clock.now())


def test_scale_user_create_makes_an_account_that_can_sign_in(tmp_path: Path) -> None:
    data_dir = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("SCALE_DATABASE_URL", None)
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "scale",
            "user",
            "create",
            USER,
            "--data-dir",
            str(data_dir),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr + made.stdout
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "scale",
            "user",
            "create",
            USER,
            "--data-dir",
            str(data_dir),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert again.returncode == 2 and "exists already" in again.stdout + again.stderr
    db = Database(f"sqlite:///{data_dir / 'scale.db'}")
    try:
        app = create_app(Settings(data_dir=data_dir), db, clock=FakeClock())
        with TestClient(app) as browser:
            _sign_in(browser)
            assert browser.get("/v6/accounts/profile/").json()["username"] == USER
    finally:
        db.dispose()


def test_a_trusted_origin_may_write_with_a_session(db: Database, clock: FakeClock, tmp_path: Path) -> None:
    create_account(db, username=USER, password=PASSWORD, now=clock.now())
    settings = Settings.from_env({"SCALE_TRUSTED_ORIGINS": "https://ui.example:8443/, http://other"})
    assert settings.trusted_origins == ("https://ui.example:8443", "http://other")
    app = create_app(
        Settings(data_dir=tmp_path / "d", trusted_origins=settings.trusted_origins), db, clock=clock
    )
    with TestClient(app) as browser:
        csrf = _sign_in(browser)
        headers = {"X-CSRFToken": csrf, "Origin": "https://ui.example:8443"}
        assert browser.patch("/v6/scheduler/", json={"is_paused": True}, headers=headers).status_code == 200
        headers["Origin"] = "https://ui.example"
        assert browser.patch("/v6/scheduler/", json={"is_paused": False}, headers=headers).status_code == 403
        # A proxy that says which host it was asked for is the same site.
        forwarded = {
            "X-CSRFToken": csrf,
            "Origin": "https://proxy.example",
            "X-Forwarded-Host": "proxy.example",
        }
        assert (
            browser.patch("/v6/scheduler/", json={"is_paused": False}, headers=forwarded).status_code == 200
        )
