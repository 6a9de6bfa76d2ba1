"""``SqlSchedulerStore.register_nodes``: the agents that came up in one pass, in one transaction.

The batch must answer exactly as registering the agents one by one, in order, would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from scale.store.db import Database
from scale.store.scheduler_store import SqlSchedulerStore
from scale.store.tables import NodeRow

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_new_hosts_get_one_active_row_each_with_ids_in_order(db: Database) -> None:
    store = SqlSchedulerStore(db)
    records = store.register_nodes([("a", "agent-a"), ("b", "agent-b"), ("c", "agent-c")], T0)
    assert [(r.hostname, r.agent_id, r.is_active, r.is_paused) for r in records] == [
        ("a", "agent-a", True, False),
        ("b", "agent-b", True, False),
        ("c", "agent-c", True, False),
    ]
    with db.read() as s:
        rows = {r.hostname: r for r in s.scalars(select(NodeRow))}
    assert {h: rows[h].id for h in rows} == {r.hostname: r.node_id for r in records}
    assert {rows[h].last_offer_received for h in rows} == {T0}


def test_a_known_host_keeps_its_row_and_takes_the_new_agent_id(db: Database) -> None:
    store = SqlSchedulerStore(db)
    (first,) = store.register_nodes([("a", "agent-1")], T0)
    later = T0 + timedelta(minutes=5)
    (again,) = store.register_nodes([("a", "agent-2")], later)
    assert (again.node_id, again.agent_id) == (first.node_id, "agent-2")
    with db.read() as s:
        (row,) = s.scalars(select(NodeRow)).all()
    assert (row.agent_id, row.last_modified, row.last_offer_received) == ("agent-2", later, later)


def test_the_same_host_twice_in_one_batch_is_one_row_and_the_last_agent_wins(db: Database) -> None:
    store = SqlSchedulerStore(db)
    records = store.register_nodes([("a", "agent-1"), ("b", "agent-b"), ("a", "agent-2")], T0)
    assert [(r.hostname, r.agent_id) for r in records] == [
        ("a", "agent-1"),
        ("b", "agent-b"),
        ("a", "agent-2"),
    ]
    assert records[0].node_id == records[2].node_id != records[1].node_id
    with db.read() as s:
        rows = {r.hostname: r.agent_id for r in s.scalars(select(NodeRow))}
    assert rows == {"a": "agent-2", "b": "agent-b"}


def test_an_empty_batch_touches_nothing(db: Database) -> None:
    assert SqlSchedulerStore(db).register_nodes([], T0) == []
