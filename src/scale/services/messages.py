"""Dead letters: command messages that failed five times and were set aside, so they never
block the ones behind them (Scale issues #1755, #1783), with the error of their last try."""

from __future__ import annotations

from sqlalchemy import func, select

from scale.store.db import Database
from scale.store.tables import MessageRow


def dead_letters(db: Database, *, offset: int, limit: int) -> tuple[int, list[MessageRow]]:
    """Newest first."""
    with db.read() as session:
        where = MessageRow.dead.is_(True)
        count = session.scalar(select(func.count()).select_from(MessageRow).where(where)) or 0
        rows = session.scalars(
            select(MessageRow).where(where).order_by(MessageRow.id.desc()).offset(offset).limit(limit)
        )
        return count, list(rows)
