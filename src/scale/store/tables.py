"""SQLAlchemy 2 mapped rows. No behaviour lives here; queries are in ``repository`` modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite a datetime is text. SQLAlchemy's own SQLite processors format it with a %-dict and
    # parse it with a regular expression; the scheduler's hot statements bind and read tens of
    # thousands a second, so these do the same with ``isoformat`` and ``fromisoformat`` (C code),
    # in the very format SQLAlchemy stores ("YYYY-MM-DD HH:MM:SS.ffffff"). Other databases keep
    # the TypeDecorator's usual path.

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)

        return process


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class SchedulerRow(Base):
    """The scheduler singleton (id 1): runtime settings and the latest status document."""

    __tablename__ = "scheduler"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    num_message_handlers: Mapped[int] = mapped_column(Integer, default=1)
    queue_mode: Mapped[str] = mapped_column(String(10), default="FIFO")
    system_logging_level: Mapped[str] = mapped_column(String(10), default="INFO")
    status: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status_timestamp: Mapped[datetime | None] = mapped_column(nullable=True)
    framework_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    master_hostname: Mapped[str | None] = mapped_column(String(250), nullable=True)
    master_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_modified: Mapped[datetime | None] = mapped_column(nullable=True)


class NodeRow(Base):
    __tablename__ = "node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hostname: Mapped[str] = mapped_column(String(250), unique=True)
    agent_id: Mapped[str] = mapped_column(String(250), default="")
    pause_reason: Mapped[str | None] = mapped_column(String(250), nullable=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deprecated: Mapped[datetime | None] = mapped_column(nullable=True)
    last_offer_received: Mapped[datetime | None] = mapped_column(nullable=True)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class ErrorRow(Base):
    __tablename__ = "error"
    __table_args__ = (UniqueConstraint("job_type_name", "name", name="uq_error_job_type_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(50), nullable=True)
    description: Mapped[str | None] = mapped_column(String(250), nullable=True)
    job_type_name: Mapped[str | None] = mapped_column(String(250), nullable=True)
    category: Mapped[str] = mapped_column(String(50), default="SYSTEM")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    should_be_retried: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class JobTypeRow(Base):
    __tablename__ = "job_type"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_job_type_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(250))
    version: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(250), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    icon_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    is_long_running: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    max_scheduled: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_tries: Mapped[int] = mapped_column(Integer, default=3)
    docker_image: Mapped[str] = mapped_column(String(500), default="")
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision_num: Mapped[int] = mapped_column(Integer, default=1)
    unmet_resources: Mapped[str | None] = mapped_column(String(250), nullable=True)
    created: Mapped[datetime]
    deprecated: Mapped[datetime | None] = mapped_column(nullable=True)
    paused: Mapped[datetime | None] = mapped_column(nullable=True)
    last_modified: Mapped[datetime]


class JobTypeRevisionRow(Base):
    __tablename__ = "job_type_revision"
    __table_args__ = (UniqueConstraint("job_type_id", "revision_num", name="uq_job_type_revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_type.id"))
    revision_num: Mapped[int] = mapped_column(Integer)
    docker_image: Mapped[str] = mapped_column(String(500), default="")
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime]


class JobRow(Base):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_status", "status"),
        Index("ix_job_job_type_id", "job_type_id"),
        Index("ix_job_last_modified", "last_modified"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_type.id"))
    job_type_rev_id: Mapped[int | None] = mapped_column(ForeignKey("job_type_revision.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(50))
    priority: Mapped[int] = mapped_column(Integer)
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    num_exes: Mapped[int] = mapped_column(Integer, default=0)
    max_tries: Mapped[int] = mapped_column(Integer, default=3)
    timeout: Mapped[int] = mapped_column(Integer, default=3600)
    error_id: Mapped[int | None] = mapped_column(ForeignKey("error.id"), nullable=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), nullable=True)
    created: Mapped[datetime]
    queued: Mapped[datetime | None] = mapped_column(nullable=True)
    started: Mapped[datetime | None] = mapped_column(nullable=True)
    ended: Mapped[datetime | None] = mapped_column(nullable=True)
    last_status_change: Mapped[datetime | None] = mapped_column(nullable=True)
    last_modified: Mapped[datetime]


class QueueRow(Base):
    """A job waiting to be scheduled. ``unplaced_reasons`` says why it has not been placed yet."""

    __tablename__ = "queue"
    __table_args__ = (Index("ix_queue_order", "priority", "queued"),)

    job_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("job.id"), primary_key=True
    )
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_type.id"))
    exe_num: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    queued: Mapped[datetime]
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_canceled: Mapped[bool] = mapped_column(Boolean, default=False)
    unplaced_reasons: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class JobExecutionRow(Base):
    __tablename__ = "job_exe"
    __table_args__ = (
        UniqueConstraint("job_id", "exe_num", name="uq_job_exe_job_exe_num"),
        Index("ix_job_exe_node_id", "node_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"))
    exe_num: Mapped[int] = mapped_column(Integer)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_type.id"))
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id"))
    cluster_id: Mapped[str] = mapped_column(String(250))
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    timeout: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    queued: Mapped[datetime]
    started: Mapped[datetime]
    created: Mapped[datetime]


class JobExecutionEndRow(Base):
    __tablename__ = "job_exe_end"
    __table_args__ = (
        Index("ix_job_exe_end_ended", "ended"),
        Index("ix_job_exe_end_job_id", "job_id"),
    )

    job_exe_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("job_exe.id"), primary_key=True
    )
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id"))
    exe_num: Mapped[int] = mapped_column(Integer)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_type.id"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("node.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(50))
    error_id: Mapped[int | None] = mapped_column(ForeignKey("error.id"), nullable=True)
    error_category: Mapped[str | None] = mapped_column(String(50), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    task_results: Mapped[list[Any]] = mapped_column(JSON)
    started: Mapped[datetime | None] = mapped_column(nullable=True)
    ended: Mapped[datetime]
    created: Mapped[datetime]


class MessageRow(Base):
    """A command message on the database transport. Claimed by a handler, deleted when applied."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_claim", "dead", "claimed_until", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claimed_until: Mapped[float] = mapped_column(Float, default=0.0)
    dead: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiTokenRow(Base):
    """An API token. Only the SHA-256 of the token is kept, so a copy of the database grants
    nothing; the token itself is shown once, when it is created."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_token_token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(10))
    created: Mapped[datetime]
    last_used: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class MessageHandlerRow(Base):
    """One message handler's running totals, reported every few seconds by the handler itself.

    Handlers are separate processes on the nodes, so this is where the scheduler learns the
    handler throughput it shows in ``dependencies.msg_queue`` (a rate between two samples).
    """

    __tablename__ = "message_handler"

    handler_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    started: Mapped[datetime]
    last_seen: Mapped[datetime]


class AccountRow(Base):
    """An operator who signs in from a browser. Only an argon2 hash of the password is kept."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("username", name="uq_account_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[datetime]
    last_login: Mapped[datetime | None] = mapped_column(nullable=True)


class AccountSessionRow(Base):
    """A browser session. ``key_hash`` is the SHA-256 of the session cookie (the cookie itself is
    never stored); ``csrf_token`` is the value the session's writes must echo in ``X-CSRFToken``."""

    __tablename__ = "account_session"
    __table_args__ = (UniqueConstraint("key_hash", name="uq_account_session_key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime]
    expires: Mapped[datetime]
