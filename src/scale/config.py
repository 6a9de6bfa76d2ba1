"""Process settings: one typed ``Settings``, read once at start-up, validated, passed down.
Never a module global.

Built with pydantic-settings (issue 15): each setting is declared once, here, with its type and
default; the environment variable is the field's name with the ``SCALE_`` prefix (loop periods
are the nested group ``SCALE_PERIOD_<NAME>``), a command-line option overrides it, and a bad
value is refused naming the variable (``SCALE_PERIOD_SCHEDULING: Input should be ...``).
Defaults the scheduling core also needs are declared in the core and read from there, so the
two cannot disagree.

Runtime settings an operator changes through the API (pause, queue mode, message handler count)
live in the database, not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from scale.exceptions import FieldProblem, InvalidRequest
from scale.scheduler.core import SchedulerConfig
from scale.scheduler.node_tasks import HEALTH_PERIOD, HEALTH_RETRY, MIN_FREE_DISK_MB

ENV_PREFIX = "SCALE_"
_CORE = SchedulerConfig


def absolute_path(path: Path | str) -> Path:
    """``path`` with ``~`` expanded, made absolute against this process's working directory and
    normalised (symlinks resolved), so that any other process reads it the same way."""
    return Path(path).expanduser().resolve()


def absolute_sqlite_url(url: str) -> str:
    """A SQLite URL whose file is relative (``sqlite:///scale.db``) made absolute; any other URL
    (an absolute file, ``:memory:``, PostgreSQL) is returned as given."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL: {url!r}") from None
    if not parsed.drivername.startswith("sqlite"):
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(absolute_path(database))).render_as_string(hide_password=False)


class LoopPeriods(BaseModel):
    """Loop periods in seconds (DESIGN §5), ``SCALE_PERIOD_<NAME>``; defaults are the core's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheduling: PositiveFloat = _CORE.scheduling_s
    sync: PositiveFloat = _CORE.sync_s
    status: PositiveFloat = _CORE.status_s
    task_handling: PositiveFloat = _CORE.task_handling_s
    reconciliation: PositiveFloat = _CORE.reconciliation_s
    messaging: PositiveFloat = _CORE.messaging_s
    #: node health checks (DESIGN §8): after a finished check, and after a failed one
    health_check: PositiveFloat = HEALTH_PERIOD.total_seconds()
    health_retry: PositiveFloat = HEALTH_RETRY.total_seconds()


class Settings(BaseSettings):
    """Everything a process of ours is started with. Paths are absolute from construction on."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,
        validate_default=True,
    )

    data_dir: Path = Path(".scale")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    backend: Literal["local", "sim", "ray"] = "local"
    nodes: int = Field(default=1, ge=1)
    sim_nodes: int = Field(default=10, ge=1)
    #: the Ray backend: the cluster's GCS ``HOST:PORT`` (``--ray-address``, ``SCALE_RAY_ADDRESS``)
    ray_address: str | None = None
    #: RabbitMQ for command messages (``SCALE_BROKER_URL=amqp://...``); None: the database transport
    broker_url: str | None = Field(default=None, pattern=r"^amqps?://")
    #: the durable queue on that broker (``SCALE_BROKER_QUEUE``); one per cluster sharing a broker
    broker_queue: str = "scale.messages"
    status_freshness_s: PositiveFloat = 12.0
    #: how long the API trusts the status timestamp it last read before reading it again
    #: (``SCALE_STATUS_RECHECK_S``): the one query a ``GET /v6/status/`` would otherwise make.
    #: A new document shows at most this much later; going offline (204) is still exact.
    status_recheck_s: float = Field(default=0.5, ge=0)
    #: ``SCALE_PERIOD_<NAME>``: the loop periods
    period: LoopPeriods = Field(default_factory=LoopPeriods)
    public_read: bool = True
    #: Origins (``https://ui.example:8443``) besides this host's own from which a signed-in browser
    #: session may write (``SCALE_TRUSTED_ORIGINS``, comma-separated): where Scale's UI is served
    #: from another host than the API's and the proxy does not pass ``X-Forwarded-Host``.
    trusted_origins: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: str = "INFO"
    #: where job types run: ``process`` or ``docker`` (``--runtime``, ``SCALE_RUNTIME``)
    runtime: Literal["process", "docker"] = _CORE.runtime  # type: ignore[assignment]
    #: a node whose data directory has less free disk (MiB) than this is DEGRADED by its health check
    min_free_disk_mb: float = Field(default=MIN_FREE_DISK_MB, ge=0)

    # Every path setting is made absolute here, once, against the working directory of the
    # process that read it: a relative path means something only to that process, and these
    # settings cross into others (the task supervisor runs in the task's own directory, the
    # message handlers and Docker mounts get them as text). Issue 13: ``scale up`` without
    # ``--data-dir`` used ``./.scale`` relatively and no task could write its state.
    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return absolute_path(value)

    @field_validator("trusted_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        """``https://a.example, http://b:8080/`` → the origins, lower case, no trailing slash."""
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(o).strip().rstrip("/").lower() for o in items if str(o).strip())

    @field_validator("database_url", mode="after")
    @classmethod
    def _absolute_database_file(cls, value: str | None) -> str | None:
        return absolute_sqlite_url(value) if value else None

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.status_recheck_s >= self.status_freshness_s:
            raise ValueError("status_recheck_s: must be at least 0 and less than status_freshness_s")
        if self.backend == "ray" and not self.ray_address:
            raise ValueError(
                "ray_address: the ray backend needs --ray-address HOST:PORT (or SCALE_RAY_ADDRESS)"
            )
        return self

    @property
    def periods(self) -> LoopPeriods:
        """The loop periods (``period``), by the name the rest of the code reads them."""
        return self.period

    @property
    def resolved_database_url(self) -> str:
        """SQLite in the data directory unless ``SCALE_DATABASE_URL`` says otherwise."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'scale.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``env`` (default: this process's environment), with ``overrides`` (the
        command line's options; None means "not given") on top.

        Raises ``InvalidRequest`` naming each bad variable (or option) and the reason."""
        given = {k: v for k, v in overrides.items() if v is not None}
        source = os.environ if env is None else env
        try:
            return cls._read(source, given)
        except ValidationError as exc:
            raise InvalidRequest([_problem(error, source, given) for error in exc.errors()]) from None

    @classmethod
    def _read(cls, env: Mapping[str, str], given: dict[str, Any]) -> Settings:
        if env is os.environ:
            return cls(**given)

        class _FromMapping(cls):  # type: ignore[valid-type,misc]
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                return (init_settings, _MappingSource(settings_cls, env))

        read = _FromMapping(**given)
        return cls.model_construct(**{name: getattr(read, name) for name in cls.model_fields})


class _MappingSource(EnvSettingsSource):
    """The environment source, over a mapping given by the caller instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._mapping.items() if v != "" or not self.env_ignore_empty}


def _problem(error: Any, env: Mapping[str, str], given: Mapping[str, Any]) -> FieldProblem:
    """One validation error as ``FieldProblem``: named by the environment variable when the
    value came from there, by the option's field otherwise."""
    loc = [str(part) for part in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across fields: its message names its field
        field, _, reason = message.partition(": ")
        return FieldProblem(field, reason) if reason else FieldProblem("settings", message)
    variable = ENV_PREFIX + "_".join(loc).upper()
    if loc[0] in given or variable not in {k.upper() for k in env}:
        return FieldProblem(".".join(loc), message)
    return FieldProblem(variable, message)
