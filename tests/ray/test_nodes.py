"""The Ray backend's pure parts: node names and totals from ``ray.nodes()``, actor options, and
how a runner's state becomes a task's end. These run without Ray or a cluster."""

from __future__ import annotations

import pytest

from scale.backends.ray.actor import RunnerSpec, RunnerState
from scale.backends.ray.backend import actor_resources, describe_end, task_needs
from scale.backends.ray.nodes import node_hostname, parse_nodes, to_resources
from scale.config import Settings
from scale.domain.resources import Resources
from scale.domain.states import TaskState
from scale.domain.tasks import TaskSpec
from scale.exceptions import InvalidRequest

_GIB = 1024.0**3


def test_a_node_is_named_by_its_node_name_or_by_address_and_raylet_port() -> None:
    given = {"NodeName": "gpu-7", "NodeManagerAddress": "10.0.0.5", "NodeManagerPort": 41000}
    default = {"NodeName": "10.0.0.5", "NodeManagerAddress": "10.0.0.5", "NodeManagerPort": 41000}
    assert node_hostname(given) == "gpu-7"
    # Ray's default name is the IP, which loopback nodes share: the raylet port tells them apart
    assert node_hostname(default) == "10.0.0.5:41000"


def test_totals_convert_memory_to_mib_and_read_disk_from_disk_mb() -> None:
    values = {"CPU": 4.0, "memory": 2 * _GIB, "GPU": 1.0, "disk_mb": 5000.0, "node:127.0.0.1": 1.0}
    assert to_resources(values) == Resources(cpus=4.0, mem=2048.0, disk=5000.0, gpus=1.0)
    # Ray leaves out a resource that is fully used (or never declared): zero
    assert to_resources({"CPU": 0.5}) == Resources(cpus=0.5)


def test_parse_nodes_keeps_liveness_and_ids() -> None:
    infos = [
        {
            "NodeID": "a1",
            "Alive": True,
            "NodeName": "n1",
            "NodeManagerAddress": "h",
            "Resources": {"CPU": 2.0},
        },
        {"NodeID": "b2", "Alive": False, "NodeName": "n2", "NodeManagerAddress": "h", "Resources": {}},
    ]
    nodes = parse_nodes(infos)
    assert [(n.node_id, n.hostname, n.alive, n.total.cpus) for n in nodes] == [
        ("a1", "n1", True, 2.0),
        ("b2", "n2", False, 0.0),
    ]


def test_actor_options_hold_the_task_resources_with_whole_gpus() -> None:
    spec = TaskSpec(task_id="t", agent_id="a", resources=Resources(0.25, 64.0, 10.5, 0.5), command="true")
    needs = task_needs(spec)
    assert needs == Resources(0.25, 64.0, 10.5, 1.0)
    assert actor_resources(needs) == {
        "num_cpus": 0.25,
        "num_gpus": 1.0,
        "memory": 64 * 1024 * 1024,
        "resources": {"disk_mb": 10.5},
    }
    assert actor_resources(Resources(1.0, 32.0))["resources"] == {}


def _state(returncode: int | None, *, killed: bool = False, error: str = "") -> RunnerState:
    spec = RunnerSpec(task_id="t", agent_id="a", command="true")
    return RunnerState(spec, "node", 1, (), True, returncode, killed, error)


def test_a_runner_state_becomes_the_task_end_with_shell_exit_codes() -> None:
    assert describe_end(_state(0)) == (TaskState.FINISHED, 0, "exited with code 0")
    assert describe_end(_state(3))[:2] == (TaskState.FAILED, 3)
    assert describe_end(_state(-9))[:2] == (TaskState.FAILED, 137)
    assert describe_end(_state(-15, killed=True))[:2] == (TaskState.KILLED, 143)
    assert describe_end(_state(None, error="could not start the task: no such dir")) == (
        TaskState.FAILED,
        None,
        "could not start the task: no such dir",
    )


def test_settings_take_the_ray_address_from_the_option_or_the_environment() -> None:
    assert (
        Settings.from_env({"SCALE_RAY_ADDRESS": "10.0.0.1:6379"}, backend="ray").ray_address
        == "10.0.0.1:6379"
    )
    assert Settings.from_env({}, backend="ray", ray_address="h:1").ray_address == "h:1"
    with pytest.raises(InvalidRequest, match="--ray-address"):
        Settings.from_env({}, backend="ray")
