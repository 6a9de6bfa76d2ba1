"""What the Ray backend reads about Ray nodes: names, liveness, totals and what is available.

Ray admits resource requests instead of offering capacity, so the backend builds offers from
each node's *available* resources (DESIGN §12). Ray has no public call for that per node; the
one private call lives in ``available_per_node`` below, alone, so an upgrade of Ray that moves
it breaks exactly one function. Everything else here is a pure function over the plain dicts
Ray returns, testable without a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scale.domain.resources import Resources

#: The custom Ray resource a node declares for its scratch disk, in MiB (``--resources``).
DISK_RESOURCE = "disk_mb"
_BYTES_PER_MIB = 1024.0 * 1024.0


@dataclass(frozen=True, slots=True)
class RayNode:
    """One entry of ``ray.nodes()``, reduced to what an agent needs."""

    node_id: str
    hostname: str
    alive: bool
    total: Resources


def node_hostname(info: Mapping[str, Any]) -> str:
    """A distinct, stable name for a Ray node: its node name, or ``address:raylet-port``.

    Ray's node name defaults to the node's IP address, which every node of a loopback cluster
    shares (127.0.0.1); a name given when the node starts (``ray start --node-name``) is used
    as is. Without one, the raylet's port tells nodes on one address apart, but it changes
    when the raylet restarts, so production nodes should be started with a node name.
    """
    name = str(info.get("NodeName") or "")
    address = str(info.get("NodeManagerAddress") or "")
    if name and name != address:
        return name
    return f"{address or name or 'unknown'}:{info.get('NodeManagerPort', 0)}"


def to_resources(values: Mapping[str, Any]) -> Resources:
    """Ray resource quantities as our vector: ``CPU``, ``memory`` (bytes → MiB), ``disk_mb``, ``GPU``.

    A resource missing from the mapping is zero: Ray leaves out a resource whose available
    quantity has dropped to nothing.
    """
    return Resources(
        cpus=float(values.get("CPU", 0.0)),
        mem=float(values.get("memory", 0.0)) / _BYTES_PER_MIB,
        disk=float(values.get(DISK_RESOURCE, 0.0)),
        gpus=float(values.get("GPU", 0.0)),
    )


def parse_nodes(infos: Sequence[Mapping[str, Any]]) -> list[RayNode]:
    """``ray.nodes()`` as ``RayNode``s. A node that died and came back shows twice, with two ids."""
    return [
        RayNode(
            node_id=str(info["NodeID"]),
            hostname=node_hostname(info),
            alive=bool(info.get("Alive", False)),
            total=to_resources(info.get("Resources") or {}),
        )
        for info in infos
    ]


def list_nodes() -> list[RayNode]:
    """Every node the GCS knows, alive or dead (public API: ``ray.nodes()``)."""
    import ray

    return parse_nodes(ray.nodes())  # type: ignore[no-untyped-call]


def available_per_node() -> dict[str, Resources]:
    """What each live node has available now, by node id (hex).

    This is the one private Ray call the backend makes (``ray._private.state``); Ray 2.60 has
    no public per-node equivalent (``ray.available_resources()`` sums the cluster).
    """
    from ray._private import state

    raw: Mapping[str, Mapping[str, Any]] = state.available_resources_per_node()  # type: ignore[no-untyped-call]
    return {str(node_id): to_resources(values) for node_id, values in raw.items()}
