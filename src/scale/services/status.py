"""The status snapshot as the API serves it: the freshness rule lives here and nowhere else.

The scheduler stores one status document with the time its build started. Scale (spec era,
reference §1.2) serves it verbatim while it is at most ``STATUS_FRESHNESS_THRESHOLD`` seconds
old and answers "offline" (204, no body) otherwise; 12.0 s exactly is still fresh.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Text, cast, select

from scale.store.db import Database
from scale.store.tables import SchedulerRow


def is_fresh(timestamp: datetime, now: datetime, threshold: float) -> bool:
    """True when ``timestamp`` is at most ``threshold`` seconds before ``now`` (the boundary is fresh).

    A timestamp slightly in the future (clocks of two hosts disagree) counts as fresh.
    """
    return (now - timestamp).total_seconds() <= threshold


_TIMESTAMP = select(SchedulerRow.status_timestamp).where(SchedulerRow.id == 1)
#: The document as the JSON text the database holds: no parse, no re-encode.
_DOCUMENT = select(cast(SchedulerRow.status, Text), SchedulerRow.status_timestamp).where(SchedulerRow.id == 1)
#: JSON texts of a document that counts as "no status": a missing scheduler row, a row that never
#: received a status, an empty one and a stale one all read as offline, none as an error.
_EMPTY_DOCUMENTS = frozenset({"", "{}", "null"})


@dataclass(eq=False)
class StatusDocument:
    """One stored status document as the API sends it: the JSON bytes, their gzip copy and an ETag.

    At 1,000 nodes the document is about 1 MB of JSON and compresses about 20-fold; most HTTP
    clients (browsers, curl --compressed, requests, httpx) ask for gzip, and moving a megabyte
    per request through the server, loopback and the client was most of the cost of
    ``GET /v6/status/`` (BENCHMARKS.md, benchmark 3). The gzip copy is made once per document,
    on the first request that accepts it, not once per request.
    """

    body: bytes
    timestamp: datetime
    _gzipped: bytes | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    etag: str = field(init=False)
    gzip_etag: str = field(init=False)

    def __post_init__(self) -> None:
        # Strong validators, one per representation, made once per document rather than per
        # request: the status timestamp changes with every document the scheduler stores.
        stamp = f"{self.timestamp.timestamp():.6f}"
        self.etag = f'"{stamp}"'
        self.gzip_etag = f'"{stamp}-gzip"'

    def gzipped(self) -> bytes:
        """The body compressed (level 6), computed once for this document."""
        if self._gzipped is None:
            with self._lock:
                if self._gzipped is None:
                    self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


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

    def __init__(self, recheck_s: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._timestamp: datetime | None = None
        self._document: StatusDocument | None = None
        self._recheck_s = recheck_s
        #: (when the timestamp was last read, what it was), by the caller's clock
        self._checked: tuple[datetime, datetime | None] | None = None

    def read(self, db: Database, now: datetime, threshold: float) -> bytes | None:
        """The fresh stored document as JSON bytes, or None when the scheduler is offline
        (no row, no document, or a stale one)."""
        document = self.document(db, now, threshold)
        return None if document is None else document.body

    def document(self, db: Database, now: datetime, threshold: float) -> StatusDocument | None:
        """The fresh stored document (body, gzip copy, ETag), or None when the scheduler is offline.

        The stored timestamp is read again once ``recheck_s`` has passed on the caller's clock
        since the last read (or the clock went back): under load that query was a third of the
        route's cost. The freshness rule is applied to ``now`` on every call, so a scheduler
        that stops still turns the status to None on the dot; only a newer document (or a
        deleted row) is seen up to ``recheck_s`` late.
        """
        timestamp = self._timestamp_at(db, now)
        if timestamp is None or not is_fresh(timestamp, now, threshold):
            return None
        with self._lock:
            if timestamp != self._timestamp:
                self._timestamp, self._document = self._load(db)
            if self._timestamp is None or not is_fresh(self._timestamp, now, threshold):
                return None
            return self._document

    def _timestamp_at(self, db: Database, now: datetime) -> datetime | None:
        checked = self._checked
        if checked is not None and 0 <= (now - checked[0]).total_seconds() < self._recheck_s:
            return checked[1]
        # A Core query on a plain connection: a third of the cost of an ORM session.
        with db.read_engine.connect() as conn:
            timestamp: datetime | None = conn.scalar(_TIMESTAMP)
        self._checked = (now, timestamp)
        return timestamp

    @staticmethod
    def _load(db: Database) -> tuple[datetime | None, StatusDocument | None]:
        """The document and the timestamp stored with it, read together so they always match."""
        with db.read_engine.connect() as conn:
            row = conn.execute(_DOCUMENT).first()
        if row is None or row[1] is None:
            return None, None
        text, timestamp = row
        if text is None or text.strip() in _EMPTY_DOCUMENTS:
            return timestamp, None
        return timestamp, StatusDocument(body=text.encode(), timestamp=row[1])
