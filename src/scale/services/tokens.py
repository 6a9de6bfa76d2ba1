"""API tokens: create (the plaintext is returned once), verify, list and revoke.

Only the SHA-256 hex digest of a token is stored. A token is 32 random bytes, so a plain hash
(no salt, no slow KDF) is enough: there is nothing to guess, and the hash doubles as the unique
lookup key, so verifying is one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update

from scale.exceptions import FieldProblem, InvalidRequest, NotFound
from scale.store.db import Database
from scale.store.tables import ApiTokenRow

#: Width of ``api_token.name``.
MAX_NAME = 100

#: ``last_used`` is refreshed at most this often, so that a busy client's reads do not each take
#: the database's write lock just to move a timestamp by a few milliseconds.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenScope(StrEnum):
    """``write`` may do anything; ``read`` may read when reads are closed, and never write."""

    WRITE = "write"
    READ = "read"


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    scope: TokenScope
    created: datetime
    last_used: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: ``token`` is the plaintext, which is not stored anywhere."""

    view: TokenView
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _view(row: ApiTokenRow) -> TokenView:
    return TokenView(row.id, row.name, TokenScope(row.scope), row.created, row.last_used, row.revoked)


def create_token(
    db: Database, *, now: datetime, name: str = "", scope: TokenScope = TokenScope.WRITE
) -> NewToken:
    """Store a new token's hash and return the token; it cannot be read back later."""
    if len(name) > MAX_NAME:
        raise InvalidRequest([FieldProblem("name", f"must be at most {MAX_NAME} characters")])
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        row = ApiTokenRow(
            name=name, token_hash=hash_token(token), scope=scope.value, created=now, revoked=False
        )
        session.add(row)
        session.flush()
        return NewToken(_view(row), token)


def verify_token(db: Database, token: str, *, now: datetime) -> TokenView | None:
    """The token's record when it exists and is not revoked, else None."""
    digest = hash_token(token)
    with db.read() as session:
        row = session.scalar(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == digest, ApiTokenRow.revoked.is_(False))
        )
        if row is None:
            return None
        view = _view(row)
    if view.last_used is None or now - view.last_used >= LAST_USED_RESOLUTION:
        with db.session() as session:
            session.execute(update(ApiTokenRow).where(ApiTokenRow.id == view.id).values(last_used=now))
    return view


def list_tokens(db: Database) -> list[TokenView]:
    """Every token, revoked ones included, oldest first."""
    with db.read() as session:
        return [_view(row) for row in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))]


def revoke_token(db: Database, token_id: int) -> TokenView:
    """Revoke a token for good (revoking twice is harmless). NotFound for an unknown id."""
    with db.session() as session:
        row = session.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFound(f"token {token_id} does not exist")
        row.revoked = True
        return _view(row)
