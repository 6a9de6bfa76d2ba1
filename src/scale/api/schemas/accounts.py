"""``/v6/accounts/``: sign-in body and the signed-in operator's profile."""

from __future__ import annotations

from pydantic import BaseModel, StrictStr

from scale.api.schemas.common import UtcDateTime, WriteModel
from scale.services.accounts import AccountView


class LoginIn(WriteModel):
    username: StrictStr
    password: StrictStr


class ProfileOut(BaseModel):
    """Django's user fields, as Scale's ``/accounts/profile/`` served them. Every account is an
    operator (``is_staff``); names and e-mail are not kept, so they are empty."""

    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    is_staff: bool
    is_active: bool
    last_login: UtcDateTime | None

    @classmethod
    def from_view(cls, view: AccountView) -> ProfileOut:
        return cls(
            id=view.id,
            username=view.username,
            first_name="",
            last_name="",
            email="",
            is_staff=True,
            is_active=view.is_active,
            last_login=view.last_login,
        )
