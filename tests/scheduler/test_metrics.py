"""Per-second rates and the 3-hour, 5-minute-block execution counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scale.domain.states import ErrorCategory, ExecutionStatus
from scale.scheduler.metrics import FinishedExecution, FinishedMetrics, RateCounters, round_rate

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [(250.4, 250.0), (12.345, 12.3), (1.2345, 1.23), (0.0, 0.0)])
def test_round_rate(value: float, expected: float) -> None:
    assert round_rate(value) == expected


def test_rates_divide_by_window_and_reset() -> None:
    counters = RateCounters(start=100.0)
    counters.add("jobs_launched_per_sec", 10)
    counters.add("offers_launched_per_sec", 3)
    counters.add("offers_launched_per_sec", 2)  # accumulates (Scale overwrote it)
    rates = counters.rates(105.0)
    assert rates["jobs_launched_per_sec"] == 2.0
    assert rates["offers_launched_per_sec"] == 1.0
    assert counters.rates(110.0)["jobs_launched_per_sec"] == 0.0


def fin(
    node: int, status: ExecutionStatus, cat: ErrorCategory | None, ended: datetime, type_id: int = 1
) -> FinishedExecution:
    return FinishedExecution(node, type_id, status, cat, ended)


def test_counts_by_category_and_job_type() -> None:
    m = FinishedMetrics()
    m.add(fin(1, ExecutionStatus.COMPLETED, None, T0), T0)
    m.add(fin(1, ExecutionStatus.COMPLETED, None, T0, type_id=2), T0)
    m.add(fin(1, ExecutionStatus.FAILED, ErrorCategory.DATA, T0), T0)
    m.add(fin(1, ExecutionStatus.FAILED, ErrorCategory.ALGORITHM, T0), T0)
    m.add(fin(1, ExecutionStatus.FAILED, ErrorCategory.SYSTEM, T0), T0)
    m.add(fin(1, ExecutionStatus.CANCELED, None, T0), T0)  # counts nowhere
    m.add(fin(2, ExecutionStatus.COMPLETED, None, T0), T0)
    j = m.node_json(1)
    assert j["completed"] == {
        "total": 2,
        "by_job_type": [{"job_type_id": 1, "count": 1}, {"job_type_id": 2, "count": 1}],
    }
    assert j["failed"]["total"] == 3
    for cat in ("data", "algorithm", "system"):
        assert j["failed"][cat] == {"total": 1, "by_job_type": [{"job_type_id": 1, "count": 1}]}
    assert m.node_json(3)["completed"] == {"total": 0, "by_job_type": []}


def test_blocks_roll_off_after_three_hours() -> None:
    m = FinishedMetrics()
    m.add(fin(1, ExecutionStatus.COMPLETED, None, T0 + timedelta(minutes=1)), T0)
    m.add(fin(1, ExecutionStatus.COMPLETED, None, T0 + timedelta(minutes=6)), T0)
    m.roll(T0 + timedelta(minutes=7))
    assert m.node_json(1)["completed"]["total"] == 2
    # The first block (12:00-12:05) ends out of the window at 15:05 + a moment
    m.roll(T0 + timedelta(hours=3, minutes=5, seconds=1))
    assert m.node_json(1)["completed"]["total"] == 1
    m.roll(T0 + timedelta(hours=3, minutes=10, seconds=1))
    assert m.node_json(1)["completed"]["total"] == 0


def test_old_executions_are_not_added() -> None:
    m = FinishedMetrics()
    m.add(fin(1, ExecutionStatus.COMPLETED, None, T0 - timedelta(hours=4)), T0)
    assert m.node_json(1)["completed"]["total"] == 0


def test_totals_keep_counting_across_rate_windows() -> None:
    """The status carries them so /metrics can export counters from another process."""
    counters = RateCounters(start=100.0)
    counters.add("jobs_launched_per_sec", 10)
    counters.rates(105.0)
    counters.add("jobs_launched_per_sec", 3)
    counters.add("tasks_finished_per_sec", 0)  # nothing counted
    counters.rates(110.0)
    totals = counters.totals()
    assert totals["jobs_launched"] == 13 and totals["tasks_finished"] == 0
    assert set(totals) == {
        "task_updates",
        "new_offers",
        "jobs_finished",
        "jobs_launched",
        "tasks_launched",
        "offers_launched",
        "tasks_finished",
    }
