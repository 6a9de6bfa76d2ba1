"""Node state derived from facts, first match wins (DESIGN §8, reference §2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NodeState(StrEnum):
    DEPRECATED = "DEPRECATED"
    OFFLINE = "OFFLINE"
    PAUSED = "PAUSED"
    SCHEDULER_STOPPED = "SCHEDULER_STOPPED"
    DEGRADED = "DEGRADED"
    INITIAL_CLEANUP = "INITIAL_CLEANUP"
    IMAGE_PULL = "IMAGE_PULL"
    READY = "READY"


NODE_STATE_TEXT: dict[NodeState, tuple[str, str]] = {
    NodeState.DEPRECATED: (
        "Deprecated",
        "Node is deprecated and will not be used by Scale. Existing jobs on the node will be failed.",
    ),
    NodeState.OFFLINE: ("Offline", "Node is offline/unavailable, so no jobs can currently run on it."),
    NodeState.PAUSED: (
        "Paused",
        "Node is paused, so no new jobs will be scheduled. Existing jobs will continue to run.",
    ),
    NodeState.SCHEDULER_STOPPED: (
        "Scheduler Stopped",
        "Scheduler is paused, so no new jobs will be scheduled. Existing jobs will continue to run.",
    ),
    NodeState.DEGRADED: (
        "Degraded",
        "Node has an error condition, putting it in a degraded state. New jobs will not be scheduled, "
        "and the node will attempt to continue to run existing jobs.",
    ),
    NodeState.INITIAL_CLEANUP: (
        "Cleaning up",
        "Node is performing an initial cleanup step to remove existing Scale Docker containers and volumes.",
    ),
    NodeState.IMAGE_PULL: ("Pulling image", "Node is pulling the Scale Docker image."),
    NodeState.READY: ("Ready", "Node is ready to run new jobs."),
}


@dataclass(frozen=True, slots=True)
class NodeFacts:
    is_active: bool
    is_online: bool
    is_paused: bool
    scheduler_paused: bool
    has_errors: bool = False
    initial_cleanup_done: bool = True
    image_pulled: bool = True


def derive_node_state(f: NodeFacts) -> NodeState:
    """Node pause wins over scheduler pause (Scale HEAD, issue #1032): it is the more specific fact."""
    if not f.is_active:
        return NodeState.DEPRECATED
    if not f.is_online:
        return NodeState.OFFLINE
    if f.is_paused:
        return NodeState.PAUSED
    if f.scheduler_paused:
        return NodeState.SCHEDULER_STOPPED
    if f.has_errors:
        return NodeState.DEGRADED
    if not f.initial_cleanup_done:
        return NodeState.INITIAL_CLEANUP
    if not f.image_pulled:
        return NodeState.IMAGE_PULL
    return NodeState.READY


def state_json(state: NodeState) -> dict[str, str]:
    title, description = NODE_STATE_TEXT[state]
    return {"name": state.value, "title": title, "description": description}


SCHEDULER_STATE_TEXT: dict[bool, dict[str, str]] = {
    True: {
        "name": "PAUSED",
        "title": "Paused",
        "description": (
            "Scheduler is paused, so no new jobs will be scheduled. Existing jobs will continue to run."
        ),
    },
    False: {"name": "READY", "title": "Ready", "description": "Scheduler is ready to run new jobs."},
}
