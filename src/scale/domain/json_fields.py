"""Strict reading of JSON objects field by field, for the command messages (``domain.messages``).

Why not Pydantic: the core (``domain``, ``scheduler``) imports no framework (DESIGN §3), and
the scheduler builds these messages. Every problem raises ``InvalidMessage`` naming the field
(``jobs[3].exe_num: expected an integer ≥ 0, got '1'``); nothing is read with a default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Protocol, Self, TypeGuard, TypeVar

from scale.exceptions import InvalidMessage

_MISSING: Final = object()


def _kind(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Fields:
    """Reads one JSON object field by field, naming ``path.field`` in every problem.

    ``close`` refuses the fields nobody asked for: an unknown field is a sender the handler does
    not understand (a newer version, a typo), and applying the rest would silently drop it.
    """

    def __init__(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise InvalidMessage(f"{path or 'body'}: expected an object, got {_kind(value)}")
        self.value: dict[str, Any] = value
        self.path = path
        self.read: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> object:
        self.read.add(key)
        if key in self.value:
            return self.value[key]
        if required:
            raise InvalidMessage(f"{self._where(key)}: required")
        return _MISSING

    def id(self, key: str) -> int:
        """A required database id: an integer of at least 1 (never a boolean, a float, a string)."""
        value = self._get(key, required=True)
        if type(value) is not int or value < 1:
            raise InvalidMessage(f"{self._where(key)}: expected an id (an integer ≥ 1), got {value!r:.100}")
        return value

    def count(self, key: str) -> int:
        """A required count (an execution number): an integer of at least 0."""
        value = self._get(key, required=True)
        if type(value) is not int or value < 0:
            raise InvalidMessage(f"{self._where(key)}: expected an integer ≥ 0, got {value!r:.100}")
        return value

    def optional_id(self, key: str) -> int | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        return self.id(key)

    def optional_int(self, key: str) -> int | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if type(value) is not int:
            raise InvalidMessage(f"{self._where(key)}: expected an integer or null, got {_kind(value)}")
        return value

    def optional_time(self, key: str) -> datetime | None:
        """An ISO 8601 time with its UTC offset, or null (absent: the handler uses its ``now``)."""
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            raise InvalidMessage(f"{self._where(key)}: expected an ISO 8601 time, got {_kind(value)}")
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidMessage(f"{self._where(key)}: not an ISO 8601 time: {value[:100]!r}") from None
        if when.tzinfo is None:
            raise InvalidMessage(f"{self._where(key)}: an ISO 8601 time needs its UTC offset: {value!r}")
        return when

    def choice(self, key: str, allowed: Mapping[str, str]) -> str:
        value = self._get(key, required=True)
        if not isinstance(value, str) or value not in allowed:
            raise InvalidMessage(f"{self._where(key)}: expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def optional_choice(self, key: str, allowed: Mapping[str, str]) -> str | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        return self.choice(key, allowed)

    def optional_object(self, key: str) -> dict[str, Any] | None:
        value = self._get(key, required=False)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidMessage(f"{self._where(key)}: expected an object or null, got {_kind(value)}")
        return value

    def objects(self, key: str, *, required: bool = True) -> list[dict[str, Any]]:
        """A list of JSON objects whose keys are strings (kept as they are, e.g. task results)."""
        value = self._get(key, required=required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise InvalidMessage(f"{self._where(key)}: expected an array, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise InvalidMessage(f"{self._where(key)}[{i}]: expected an object, got {_kind(item)}")
        return value

    def entries(self, key: str, entry: type[E]) -> tuple[E, ...]:
        """A required array of entries, each read by ``entry.parse``."""
        value = self._get(key, required=True)
        if not isinstance(value, list):
            raise InvalidMessage(f"{self._where(key)}: expected an array, got {_kind(value)}")
        where = self._where(key)
        return tuple(entry.parse(item, where, i) for i, item in enumerate(value))

    def close(self) -> None:
        unknown = sorted(set(self.value) - self.read)
        if unknown:
            names = ", ".join(repr(k) for k in unknown[:5])
            raise InvalidMessage(
                f"{self.path or 'body'}: unknown field{'s' if len(unknown) > 1 else ''} {names}"
            )


class Entry(Protocol):
    """An entry of a message's array. ``parse`` is the fast path over well-formed JSON (a
    scheduling pass sends ~1,000 entries per message); anything it does not accept goes to
    ``read``, which says precisely what is wrong (or accepts it: ``read`` is the rule)."""

    @classmethod
    def parse(cls, value: object, where: str, index: int) -> Self: ...


E = TypeVar("E", bound=Entry)


class Slow(Exception):
    """The fast path gives up: the strict reader decides (and names the problem)."""


def quick_time(value: object) -> datetime | None:
    """``optional_time``'s rule on the fast path; raises ``Slow`` for anything else."""
    if value is None:
        return None
    if type(value) is str:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise Slow from None
        if when.tzinfo is not None:
            return when
    raise Slow


def is_id(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 1


def is_optional_id(value: object) -> TypeGuard[int | None]:
    return value is None or (type(value) is int and value >= 1)


def is_count(value: object) -> TypeGuard[int]:
    return type(value) is int and value >= 0


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> object:
    """The JSON value of a body, strictly (UTF-8 only, NaN and Infinity refused);
    ``InvalidMessage`` if it has none."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")  # json.loads would guess UTF-16 and UTF-32 from the bytes
        except UnicodeDecodeError as exc:
            raise InvalidMessage(f"body: not UTF-8: {exc}") from None
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, and NaN or Infinity
        raise InvalidMessage(f"body: not JSON: {exc}") from None
    except RecursionError:
        raise InvalidMessage("body: not JSON: nested too deeply") from None
