"""The status snapshot as the API serves it: the freshness rule lives here and nowhere else.

The scheduler stores one status document with the time its build started. Scale (spec era,
reference §1.2) serves it verbatim while it is at most ``STATUS_FRESHNESS_THRESHOLD`` seconds
old and answers "offline" (204, no body) otherwise; 12.0 s exactly is still fresh.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select

from scale.store.db import Database
from scale.store.tables import SchedulerRow


def is_fresh(timestamp: datetime, now: datetime, threshold: float) -> bool:
    """True when ``timestamp`` is at most ``threshold`` seconds before ``now`` (the boundary is fresh).

    A timestamp slightly in the future (clocks of two hosts disagree) counts as fresh.
    """
    return (now - timestamp).total_seconds() <= threshold


def read_status(db: Database, now: datetime, threshold: float) -> dict[str, Any] | None:
    """The stored status document when it exists and is fresh, else None (the scheduler is offline).

    A missing scheduler row, a row that never received a status, and a stale status all read as
    None: none of them is an error of the API.
    """
    with db.read() as session:
        row = session.get(SchedulerRow, 1)
        if row is None or not row.status or row.status_timestamp is None:
            return None
        if not is_fresh(row.status_timestamp, now, threshold):
            return None
        return dict(row.status)


_TIMESTAMP = select(SchedulerRow.status_timestamp).where(SchedulerRow.id == 1)
#: The document as the JSON text the database holds: no parse, no re-encode.
_DOCUMENT = select(cast(SchedulerRow.status, Text), SchedulerRow.status_timestamp).where(SchedulerRow.id == 1)
#: JSON texts of a document that counts as "no status" (``read_status``'s ``not row.status``).
_EMPTY_DOCUMENTS = frozenset({"", "{}", "null"})


class StatusCache:
    """The stored status as the bytes the API sends, kept until the row's status timestamp changes.

    At 1,000 nodes the document is about 1 MB: loading it through the ORM, parsing it and
    serializing it again cost tens of milliseconds per request, so ``GET /v6/status/`` managed
    about ten requests a second (BENCHMARKS.md, benchmark 3). A request now reads only the
    timestamp (one small query by primary key) and re-reads the document only when the
    timestamp changed, which the scheduler's status loop does with every document it stores.
    The document is served as the JSON text the database holds (the same document, verbatim;
    only whitespace may differ from ``JSONResponse``'s encoding). The freshness rule is applied
    to the stored timestamp on every request, so 204 comes exactly when it did before.

    One instance per application (the API keeps it on ``app.state``): a module-level cache would
    be shared by every app and database in the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timestamp: datetime | None = None
        self._body: bytes | None = None

    def read(self, db: Database, now: datetime, threshold: float) -> bytes | None:
        """The fresh stored document as JSON bytes, or None when the scheduler is offline
        (no row, no document, or a stale one): the rule of :func:`read_status`."""
        # A Core query on a plain connection: a third of the cost of an ORM session, and this
        # runs on every request.
        with db.read_engine.connect() as conn:
            timestamp = conn.scalar(_TIMESTAMP)
        if timestamp is None or not is_fresh(timestamp, now, threshold):
            return None
        with self._lock:
            if timestamp != self._timestamp:
                self._timestamp, self._body = self._load(db)
            if self._timestamp is None or not is_fresh(self._timestamp, now, threshold):
                return None
            return self._body

    @staticmethod
    def _load(db: Database) -> tuple[datetime | None, bytes | None]:
        """The document and the timestamp stored with it, read together so they always match."""
        with db.read_engine.connect() as conn:
            row = conn.execute(_DOCUMENT).first()
        if row is None or row[1] is None:
            return None, None
        text, timestamp = row
        if text is None or text.strip() in _EMPTY_DOCUMENTS:
            return timestamp, None
        return timestamp, text.encode()
