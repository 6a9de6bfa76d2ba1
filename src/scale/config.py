"""Process settings: read once at start-up, typed, validated, passed down. Never a module global.

Runtime settings an operator changes through the API (pause, queue mode, message handler count)
live in the database, not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scale.exceptions import InvalidRequest


def _env_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise InvalidRequest(f"not a boolean: {value!r}")


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
        raise InvalidRequest(f"database_url: not a database URL: {url!r}") from None
    if not parsed.drivername.startswith("sqlite"):
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(absolute_path(database))).render_as_string(hide_password=False)


@dataclass(frozen=True)
class LoopPeriods:
    """Loop periods in seconds (DESIGN §5)."""

    scheduling: float = 1.0
    sync: float = 10.0
    status: float = 5.0
    task_handling: float = 5.0
    reconciliation: float = 1.0
    messaging: float = 1.0
    #: node health checks (DESIGN §8): after a finished check, and after a failed one
    health_check: float = 300.0
    health_retry: float = 120.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".scale")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    backend: str = "local"
    nodes: int = 1
    sim_nodes: int = 10
    #: the Ray backend: the cluster's GCS ``HOST:PORT`` (``--ray-address``, ``SCALE_RAY_ADDRESS``)
    ray_address: str | None = None
    #: RabbitMQ for command messages (``SCALE_BROKER_URL=amqp://...``); None: the database transport
    broker_url: str | None = None
    #: the durable queue on that broker (``SCALE_BROKER_QUEUE``); one per cluster sharing a broker
    broker_queue: str = "scale.messages"
    status_freshness_s: float = 12.0
    #: how long the API trusts the status timestamp it last read before reading it again
    #: (``SCALE_STATUS_RECHECK_S``): the one query a ``GET /v6/status/`` would otherwise make.
    #: A new document shows at most this much later; going offline (204) is still exact.
    status_recheck_s: float = 0.5
    periods: LoopPeriods = field(default_factory=LoopPeriods)
    public_read: bool = True
    log_level: str = "INFO"
    #: where job types run: ``process`` or ``docker`` (``--runtime``, ``SCALE_RUNTIME``)
    runtime: str = "process"
    #: a node whose data directory has less free disk (MiB) than this is DEGRADED by its health check
    min_free_disk_mb: float = 1024.0

    def __post_init__(self) -> None:
        # Every path setting is made absolute here, once, against the working directory of the
        # process that read it: a relative path means something only to that process, and these
        # settings cross into others (the task supervisor runs in the task's own directory, the
        # message handlers and Docker mounts get them as text). Issue 13: ``scale up`` without
        # ``--data-dir`` used ``./.scale`` relatively and no task could write its state.
        object.__setattr__(self, "data_dir", absolute_path(self.data_dir))
        if self.database_url:
            object.__setattr__(self, "database_url", absolute_sqlite_url(self.database_url))

    @property
    def resolved_database_url(self) -> str:
        """SQLite in the data directory unless ``SCALE_DATABASE_URL`` says otherwise."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'scale.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if "SCALE_DATA_DIR" in env:
            values["data_dir"] = Path(env["SCALE_DATA_DIR"])
        if env.get("SCALE_DATABASE_URL"):
            values["database_url"] = env["SCALE_DATABASE_URL"]
        if "SCALE_PUBLIC_READ" in env:
            values["public_read"] = _env_bool(env["SCALE_PUBLIC_READ"])
        if env.get("SCALE_BROKER_URL"):
            values["broker_url"] = env["SCALE_BROKER_URL"]
        if env.get("SCALE_BROKER_QUEUE"):
            values["broker_queue"] = env["SCALE_BROKER_QUEUE"]
        if "SCALE_LOG_LEVEL" in env:
            values["log_level"] = env["SCALE_LOG_LEVEL"]
        if env.get("SCALE_RAY_ADDRESS"):
            values["ray_address"] = env["SCALE_RAY_ADDRESS"]
        if env.get("SCALE_RUNTIME"):
            values["runtime"] = env["SCALE_RUNTIME"]
        for name in ("min_free_disk_mb", "status_recheck_s"):
            key = f"SCALE_{name.upper()}"
            if key in env:
                try:
                    values[name] = float(env[key])
                except ValueError:
                    raise InvalidRequest(f"{key}: not a number: {env[key]!r}") from None
        periods = {
            name: float(env[f"SCALE_PERIOD_{name.upper()}"])
            for name in LoopPeriods.__dataclass_fields__
            if f"SCALE_PERIOD_{name.upper()}" in env
        }
        if periods:
            values["periods"] = LoopPeriods(**periods)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.nodes < 1:
            raise InvalidRequest("nodes: must be at least 1")
        if self.min_free_disk_mb < 0:
            raise InvalidRequest("min_free_disk_mb: must not be negative")
        if not 0 <= self.status_recheck_s < self.status_freshness_s:
            raise InvalidRequest("status_recheck_s: must be at least 0 and less than status_freshness_s")
        if self.broker_url is not None and not self.broker_url.startswith(("amqp://", "amqps://")):
            raise InvalidRequest("broker_url: must be an amqp:// or amqps:// URL")
        if not 0 < self.port < 65536:
            raise InvalidRequest("port: must be between 1 and 65535")
        if self.runtime not in {"process", "docker"}:
            raise InvalidRequest("runtime: must be one of process, docker")
        if self.backend not in {"local", "sim", "ray"}:
            raise InvalidRequest("backend: must be one of local, sim, ray")
        if self.backend == "ray" and not self.ray_address:
            raise InvalidRequest(
                "ray_address: the ray backend needs --ray-address HOST:PORT (or SCALE_RAY_ADDRESS)"
            )
