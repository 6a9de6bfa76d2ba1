"""The status snapshot as the API serves it: the freshness rule lives here and nowhere else.

The scheduler stores one status document with the time its build started. Scale (spec era,
reference §1.2) serves it verbatim while it is at most ``STATUS_FRESHNESS_THRESHOLD`` seconds
old and answers "offline" (204, no body) otherwise; 12.0 s exactly is still fresh.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
