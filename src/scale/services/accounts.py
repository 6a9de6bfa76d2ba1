"""Operator accounts and browser sessions: what Scale's web UI signs in with.

* Passwords are hashed with argon2id (``argon2-cffi``, its default parameters); only the hash is
  stored, and a hash made with weaker parameters is replaced on the next successful sign-in.
* A session is 32 random bytes in an HttpOnly cookie; only its SHA-256 is stored (like tokens:
  there is nothing to guess, so a plain hash is enough and doubles as the lookup key).
* Each session has its own CSRF token. A write made with the session cookie must send it back in
  ``X-CSRFToken`` (Django's names, which Scale's UI was built against); the token is also set in
  the readable ``csrftoken`` cookie so the page's script can copy it into the header, which a
  page on another site cannot do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select

from scale.exceptions import Conflict, FieldProblem, InvalidRequest
from scale.store.db import Database
from scale.store.tables import AccountRow, AccountSessionRow

#: How long a session lasts after sign-in (Django's default ``SESSION_COOKIE_AGE``: two weeks).
SESSION_AGE = timedelta(days=14)
MAX_USERNAME = 150
#: argon2 hashes any length, but a megabyte of "password" is a way to burn CPU, not a password.
MAX_PASSWORD = 1024
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9@.+_-]+$")
#: The argon2id hash (default parameters) of a random password nobody kept: what a sign-in with an
#: unknown username is checked against, so that it takes as long as one with a wrong password.
_NO_ACCOUNT_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$s/0BSdkMzy0I8dQvA3A03g$mt16Jj4STzbOh6BgSutQMdp6cWAqWPAWTw9bgNhZC+Y"
)


@dataclass(frozen=True, slots=True)
class AccountView:
    id: int
    username: str
    is_active: bool
    created: datetime
    last_login: datetime | None


@dataclass(frozen=True, slots=True)
class SessionView:
    account: AccountView
    csrf_token: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just started: ``key`` goes in the cookie and is not stored anywhere."""

    key: str
    session: SessionView


def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _view(row: AccountRow) -> AccountView:
    return AccountView(row.id, row.username, row.is_active, row.created, row.last_login)


def username_problems(username: str) -> list[FieldProblem]:
    if not 1 <= len(username) <= MAX_USERNAME:
        return [FieldProblem("username", f"must be 1 to {MAX_USERNAME} characters")]
    if not _USERNAME.match(username):
        return [FieldProblem("username", "may hold only letters, digits and @ . + - _")]
    return []


def create_account(db: Database, *, username: str, password: str, now: datetime) -> AccountView:
    """A new active operator account. InvalidRequest for a bad username or a password shorter than
    8 characters; Conflict when the username is taken."""
    problems = username_problems(username)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        problems.append(FieldProblem("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"))
    if problems:
        raise InvalidRequest(problems)
    with db.session() as session:
        if session.scalar(select(AccountRow.id).where(AccountRow.username == username)) is not None:
            raise Conflict(f"username: an account named {username} exists already")
        row = AccountRow(
            username=username, password_hash=_hasher().hash(password), is_active=True, created=now
        )
        session.add(row)
        session.flush()
        return _view(row)


def authenticate(db: Database, *, username: str, password: str, now: datetime) -> AccountView | None:
    """The account when ``password`` is its password and it is active, else None.

    An unknown username still costs one hash verification, so the time taken does not tell
    which usernames exist.
    """
    hasher = _hasher()
    if len(password) > MAX_PASSWORD or len(username) > MAX_USERNAME:
        return None
    with db.session() as session:
        row = session.scalar(select(AccountRow).where(AccountRow.username == username))
        stored = row.password_hash if row is not None else _NO_ACCOUNT_HASH
        try:
            hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or not row.is_active:
            return None
        if hasher.check_needs_rehash(row.password_hash):
            row.password_hash = hasher.hash(password)
        row.last_login = now
        session.flush()
        return _view(row)


def start_session(db: Database, account: AccountView, *, now: datetime) -> NewSession:
    key = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_AGE
    with db.session() as session:
        # Sessions that ran out are of no use to anyone; the sign-in that finds them removes them.
        session.execute(delete(AccountSessionRow).where(AccountSessionRow.expires <= now))
        session.add(
            AccountSessionRow(
                key_hash=hash_key(key), account_id=account.id, csrf_token=csrf, created=now, expires=expires
            )
        )
    return NewSession(key, SessionView(account, csrf, expires))


def session_for(db: Database, key: str, *, now: datetime) -> SessionView | None:
    """The live session whose cookie is ``key`` (its account active), else None."""
    if not key or len(key) > 200:
        return None
    with db.read() as session:
        found = session.execute(
            select(AccountSessionRow, AccountRow)
            .join(AccountRow, AccountRow.id == AccountSessionRow.account_id)
            .where(AccountSessionRow.key_hash == hash_key(key))
        ).one_or_none()
        if found is None:
            return None
        row, account = found
        if row.expires <= now or not account.is_active:
            return None
        return SessionView(_view(account), row.csrf_token, row.expires)


def csrf_matches(session: SessionView, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf_token.encode(), (sent or "").encode())


def end_session(db: Database, key: str) -> None:
    """End the session whose cookie is ``key`` (nothing happens for one that does not exist)."""
    with db.session() as session:
        session.execute(delete(AccountSessionRow).where(AccountSessionRow.key_hash == hash_key(key)))


def list_accounts(db: Database) -> list[AccountView]:
    with db.read() as session:
        return [_view(r) for r in session.scalars(select(AccountRow).order_by(AccountRow.id))]
