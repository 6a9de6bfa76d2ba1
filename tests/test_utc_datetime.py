"""``UTCDateTime``: aware datetimes in, the same instants back in UTC, on SQLite and PostgreSQL.

On SQLite the column is text written and parsed by our own processors (``isoformat`` and
``fromisoformat``, for speed); the text must be exactly what SQLAlchemy's own DateTime writes,
so rows written before and after read alike and text comparisons in WHERE keep time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import DateTime, select, text, update
from sqlalchemy.dialects import sqlite

from scale.store.db import Database
from scale.store.migrate import update_database
from scale.store.tables import NodeRow, UTCDateTime

INSTANTS = [
    datetime(2026, 11, 29, 4, 25, 19, 59945, tzinfo=UTC),
    datetime(2026, 11, 29, 4, 25, 19, tzinfo=UTC),  # no microseconds: still written with them
    datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
]


@pytest.mark.parametrize("value", INSTANTS)
def test_sqlite_text_is_what_sqlalchemys_datetime_writes(value: datetime) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))


def test_a_naive_datetime_is_refused() -> None:
    process = UTCDateTime().bind_processor(sqlite.dialect())
    assert process is not None
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 1, 1))


def test_sqlite_reads_text_with_or_without_microseconds() -> None:
    process = UTCDateTime().result_processor(sqlite.dialect(), None)
    assert process is not None
    assert process("2026-01-02 03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert process("2026-01-02 03:04:05.000001") == datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)
    assert process(None) is None


def test_instants_round_trip_as_utc_and_compare_in_time_order(db: Database) -> None:
    with db.session() as session:
        for i, value in enumerate(INSTANTS):
            session.add(NodeRow(hostname=f"node-{i}", created=value, last_modified=value))
    with db.read() as session:
        rows = session.execute(select(NodeRow.hostname, NodeRow.created).order_by(NodeRow.created)).all()
    read = {hostname: created for hostname, created in rows}
    for i, value in enumerate(INSTANTS):
        assert read[f"node-{i}"] == value
        assert read[f"node-{i}"].tzinfo == UTC
    assert [created for _, created in rows] == sorted(INSTANTS)

    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    with db.read() as session:
        later = set(session.scalars(select(NodeRow.hostname).where(NodeRow.created >= cutoff)))
    assert later == {f"node-{i}" for i, v in enumerate(INSTANTS) if v >= cutoff}


def test_rows_written_by_sqlalchemys_format_read_back(tmp_path: Path) -> None:
    """A value in the text form written before these processors (or by hand) reads the same."""
    db = Database(f"sqlite:///{tmp_path / 'scale.db'}")
    update_database(db)
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    with db.session() as session:
        session.add(NodeRow(hostname="old", created=when, last_modified=when))
    with db.session() as session:
        session.execute(text("UPDATE node SET created = '2025-05-06 07:08:09' WHERE hostname = 'old'"))
        session.execute(update(NodeRow).where(NodeRow.hostname == "old").values(last_modified=when))
    with db.read() as session:
        created, modified = session.execute(
            select(NodeRow.created, NodeRow.last_modified).where(NodeRow.hostname == "old")
        ).one()
    assert created == datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert modified == when
    db.dispose()
