from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scale.scheduler.warnings import SchedulerWarnings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_started_stays_last_updated_moves_and_warnings_expire_after_an_hour() -> None:
    w = SchedulerWarnings()
    w.raise_warning("X", "t", "d1", T0)
    w.raise_warning("X", "t", "d2", T0 + timedelta(minutes=30))
    [active] = w.active(T0 + timedelta(minutes=31))
    assert (active.started, active.last_updated, active.description) == (T0, T0 + timedelta(minutes=30), "d2")
    assert w.active(T0 + timedelta(minutes=90, seconds=1)) == []
