"""Node state precedence: the first matching fact wins."""

from __future__ import annotations

import pytest

from scale.scheduler.node_state import NodeFacts, NodeState, derive_node_state, state_json

BASE = {"is_active": True, "is_online": True, "is_paused": False, "scheduler_paused": False}


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, NodeState.READY),
        ({"is_active": False, "is_online": False, "is_paused": True}, NodeState.DEPRECATED),
        ({"is_online": False, "is_paused": True, "scheduler_paused": True}, NodeState.OFFLINE),
        ({"is_paused": True, "scheduler_paused": True}, NodeState.PAUSED),
        ({"scheduler_paused": True, "has_errors": True}, NodeState.SCHEDULER_STOPPED),
        ({"has_errors": True, "initial_cleanup_done": False}, NodeState.DEGRADED),
        ({"initial_cleanup_done": False, "image_pulled": False}, NodeState.INITIAL_CLEANUP),
        ({"image_pulled": False}, NodeState.IMAGE_PULL),
    ],
)
def test_precedence(facts: dict[str, bool], expected: NodeState) -> None:
    assert derive_node_state(NodeFacts(**{**BASE, **facts})) == expected


def test_state_json_has_name_title_description() -> None:
    assert state_json(NodeState.READY) == {
        "name": "READY",
        "title": "Ready",
        "description": "Node is ready to run new jobs.",
    }
