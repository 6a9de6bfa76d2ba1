"""A real 3-node Ray cluster on loopback for the Ray backend's tests (DESIGN §12).

``ray.cluster_utils.Cluster`` starts a head node and two worker nodes as processes of this test
session, all on 127.0.0.1, each with a distinct node name, CPU count and memory, a ``disk_mb``
custom resource, and one with a declared GPU (there is no physical GPU here; Ray hands out
the id all the same). Health checks are tuned so a killed node is seen dead in about 1.5 s.
The cluster is shut down at the end of the session, and the fixture checks that none of its
processes is left.

Without Ray installed the tests skip with the reason; under ``CI=true`` they fail instead,
because CI installs the ``ray`` extra and must exercise it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scale.backends.ray.backend import DEFAULT_NAMESPACE
from tests.e2e.conftest import FAST_PERIODS, Cluster, _answers, _pg_url_for_test, free_port
from tests.util import wait_until

# Before Ray is imported anywhere in this process: otherwise Ray advertises the machine's
# external address instead of 127.0.0.1 (DESIGN §12).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

_MIB = 1024 * 1024
#: A killed node is declared dead after 3 missed checks 0.5 s apart.
HEALTH_CHECKS = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 3,
}


@dataclass(frozen=True)
class NodeSpec:
    """One node of the test cluster: its name (our hostname for it) and what it declares."""

    name: str
    cpus: int
    mem_mib: int
    disk_mb: int
    gpus: int = 0


HEAD = NodeSpec("ray-head", cpus=3, mem_mib=3072, disk_mb=4096)
WORKER = NodeSpec("ray-worker", cpus=2, mem_mib=2048, disk_mb=8192)
GPU_NODE = NodeSpec("ray-gpu", cpus=1, mem_mib=1536, disk_mb=2048, gpus=1)
NODES = (HEAD, WORKER, GPU_NODE)


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        reason = f"Ray is not installed (pip install -e '.[test,ray]'): {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _node_args(spec: NodeSpec) -> dict[str, Any]:
    return {
        "node_ip_address": "127.0.0.1",
        "node_name": spec.name,
        "num_cpus": spec.cpus,
        "num_gpus": spec.gpus,
        "memory": spec.mem_mib * _MIB,
        "object_store_memory": 80 * _MIB,
        "resources": {"disk_mb": spec.disk_mb},
    }


@dataclass
class RayTestCluster:
    """The running cluster: its GCS address and the Ray node objects by name."""

    cluster: Any
    address: str
    nodes: dict[str, Any] = field(default_factory=dict)

    def kill_node(self, name: str) -> None:
        """Kill every process of a worker node at once, as a machine that dies would."""
        node = self.nodes.pop(name)
        self.cluster.remove_node(node, allow_graceful=False)

    def add_node(self, spec: NodeSpec) -> None:
        self.nodes[spec.name] = self.cluster.add_node(**_node_args(spec))


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayTestCluster]:
    _require_ray()
    from ray.cluster_utils import Cluster as RayCluster

    head_args = {**_node_args(HEAD), "include_dashboard": False, "_system_config": HEALTH_CHECKS}
    cluster = RayCluster(initialize_head=True, head_node_args=head_args)
    test_cluster = RayTestCluster(cluster=cluster, address=cluster.address)
    test_cluster.nodes[HEAD.name] = cluster.head_node
    try:
        for spec in (WORKER, GPU_NODE):
            test_cluster.add_node(spec)
        cluster.wait_for_nodes()
        yield test_cluster
    finally:
        nodes = cluster.list_all_nodes()
        _disconnect()
        cluster.shutdown()
        left = [node for node in nodes if node.any_processes_alive()]
        assert not left, "Ray processes were left behind"


def _disconnect() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture(scope="session")
def ray_driver(ray_cluster: RayTestCluster) -> Iterator[str]:
    """This test process connected to the cluster as a Ray driver; yields the GCS address."""
    import ray

    if not ray.is_initialized():
        ray.init(address=ray_cluster.address, log_to_driver=False, logging_level="WARNING")
    yield ray_cluster.address


def kill_namespace_actors(namespace: str) -> None:
    """Kill every named actor of a namespace (what a test left running), and their tasks."""
    import ray

    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == namespace:
            try:
                ray.kill(ray.get_actor(entry["name"], namespace=namespace), no_restart=True)
            except ValueError:
                pass


@pytest.fixture
def namespace(ray_driver: str) -> Iterator[str]:
    """A fresh Ray namespace for one test; its actors are killed afterwards."""
    name = f"scale-test-{uuid.uuid4().hex[:8]}"
    yield name
    kill_namespace_actors(name)


@pytest.fixture(scope="module")
def scale_on_ray(ray_driver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``scale api`` and ``scale scheduler --backend ray`` as real processes on PostgreSQL,
    scheduling onto the test's Ray cluster (in the default namespace, ``scale``)."""
    tmp_path = tmp_path_factory.mktemp("scale-on-ray")
    port = free_port()
    env = {**os.environ, **FAST_PERIODS}
    env.pop("SCALE_DATABASE_URL", None)
    c = Cluster(f"http://127.0.0.1:{port}", tmp_path, env)
    pg = _pg_url_for_test()
    env["SCALE_DATABASE_URL"] = next(pg)
    data = str(tmp_path / "data")
    try:
        c.token = c.create_token("--name", "ray")
        start_scheduler(c, ray_driver)
        c.start("api", "api", "--port", str(port), "--data-dir", data)
        wait_until(lambda: _answers(c), timeout=60, what="the API to answer")
        yield c
    finally:
        c.close()
        kill_namespace_actors(DEFAULT_NAMESPACE)
        next(pg, None)


def start_scheduler(c: Cluster, address: str) -> None:
    data = str(c.data_dir / "data")
    c.start("scheduler", "scheduler", "--data-dir", data, "--backend", "ray", "--ray-address", address)


def data_dir_of(c: Cluster) -> Path:
    return c.data_dir / "data"
