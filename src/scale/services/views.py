"""The shapes the services hand to the API: what a response is built from.

The API layer builds its responses from these read-only views, never from table classes, so a
schema names exactly the fields it reads and the store can change behind the services (issue 15:
"API schemas built from service results, not table rows"; import-linter forbids ``scale.api``
and ``scale.dashboard`` importing ``scale.store.tables``). The store's rows satisfy them
structurally, so a list of 1,000 jobs is not copied once more on its way out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ErrorView(Protocol):
    """An error of the catalog (Scale's Error model)."""

    @property
    def category(self) -> str: ...

    @property
    def created(self) -> datetime: ...

    @property
    def description(self) -> str | None: ...

    @property
    def id(self) -> int: ...

    @property
    def is_builtin(self) -> bool: ...

    @property
    def job_type_name(self) -> str | None: ...

    @property
    def last_modified(self) -> datetime: ...

    @property
    def name(self) -> str: ...

    @property
    def should_be_retried(self) -> bool: ...

    @property
    def title(self) -> str | None: ...


class JobTypeView(Protocol):
    """A job type at its current revision."""

    @property
    def configuration(self) -> dict[str, Any]: ...

    @property
    def created(self) -> datetime: ...

    @property
    def deprecated(self) -> datetime | None: ...

    @property
    def description(self) -> str | None: ...

    @property
    def docker_image(self) -> str: ...

    @property
    def icon_code(self) -> str | None: ...

    @property
    def id(self) -> int: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def is_long_running(self) -> bool: ...

    @property
    def is_paused(self) -> bool: ...

    @property
    def is_published(self) -> bool: ...

    @property
    def is_system(self) -> bool: ...

    @property
    def last_modified(self) -> datetime: ...

    @property
    def manifest(self) -> dict[str, Any]: ...

    @property
    def max_scheduled(self) -> int | None: ...

    @property
    def max_tries(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def paused(self) -> datetime | None: ...

    @property
    def revision_num(self) -> int: ...

    @property
    def title(self) -> str | None: ...

    @property
    def unmet_resources(self) -> str | None: ...

    @property
    def version(self) -> str: ...


class JobTypeRevisionView(Protocol):
    """One revision of a job type: the manifest its jobs were created with."""

    @property
    def created(self) -> datetime: ...

    @property
    def docker_image(self) -> str: ...

    @property
    def id(self) -> int: ...

    @property
    def manifest(self) -> dict[str, Any]: ...

    @property
    def revision_num(self) -> int: ...


class NodeView(Protocol):
    """A node as the database keeps it (the live state is in the status)."""

    @property
    def created(self) -> datetime: ...

    @property
    def deprecated(self) -> datetime | None: ...

    @property
    def hostname(self) -> str: ...

    @property
    def id(self) -> int: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def is_paused(self) -> bool: ...

    @property
    def last_modified(self) -> datetime: ...

    @property
    def pause_reason(self) -> str | None: ...
